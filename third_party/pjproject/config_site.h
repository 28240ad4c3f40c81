/*
 * Amparo's compile-time limits for pjproject 2.17.
 *
 * build_pjsua2.sh copies this file to pjlib/include/pj/config_site.h before configure; every
 * pjproject header includes it first, so these values win over the library's #ifndef defaults.
 *
 * Why: pjproject's defaults size one process for a handful of calls. pjsua clamps
 * UaConfig.maxCalls to PJSUA_MAX_CALLS (pjsua_call.c), so with the default of 4 a fifth
 * concurrent caller is refused with 486 Busy whatever the application asks for at run time.
 * Every pjsua2 wheel on PyPI carries that default. One Amparo SIP process is meant to hold
 * hundreds of calls, each with a prompt player and possibly a recorder on the conference bridge.
 */

/* Concurrent calls in one process (pjsua's call table, pjsua.h default 4). */
#define PJSUA_MAX_CALLS             512

/* Each call may have a prompt player and a recorder at once, and a bridged call
 * (caller + agent + supervisor) needs a spare of each: 2 x calls (defaults 32). */
#define PJSUA_MAX_PLAYERS           (2 * PJSUA_MAX_CALLS)
#define PJSUA_MAX_RECORDERS         (2 * PJSUA_MAX_CALLS)

/* Conference bridge slots: one per call, per player and per recorder, plus the master port
 * (slot 0) and a few spares (default 254). MediaConfig.maxMediaPorts defaults to this. */
#define PJSUA_MAX_CONF_PORTS        (PJSUA_MAX_CALLS + PJSUA_MAX_PLAYERS + \
                                     PJSUA_MAX_RECORDERS + 8)

/* Accounts: one per hotline line or trunk registration (default 8). */
#define PJSUA_MAX_ACC               32

/* Sockets on one ioqueue: SIP transports plus an RTP and an RTCP socket per call, with room
 * for calls being set up while others are torn down (default 64). Built with --enable-epoll:
 * select() would be capped by FD_SETSIZE (1024). The process also needs RLIMIT_NOFILE above
 * this. */
#define PJ_IOQUEUE_MAX_HANDLES      4096

/* Hash table sizes for transactions and dialogs (defaults 1023 and 511): each call keeps a
 * dialog and a few transactions (INVITE, re-INVITE, BYE, OPTIONS) alive at once. */
#define PJSIP_MAX_TSX_COUNT         (8 * 1024 - 1)
#define PJSIP_MAX_DIALOG_COUNT      (4 * 1024 - 1)

/* 8 kHz media clock: G.711 and the prompts run at 8 kHz, so nothing is resampled. With a
 * 16 kHz clock the resampling of 512 calls saturated a core and calls failed. The application
 * still sets MediaConfig.clockRate; this makes the safe value the default. */
#define PJSUA_DEFAULT_CLOCK_RATE    8000

/* Audio only. */
#define PJMEDIA_HAS_VIDEO           0
