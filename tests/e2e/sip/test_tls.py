"""SIP over TLS with SRTP (SDES) to ``amparo sip``: the certificate comes from the settings
(made with openssl here), the caller (baresip) checks it against the test CA, and both sides
require SRTP; the caller reaches the IVR, her keys are heard and her voice is recorded."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from tests.e2e.sip.certificates import make_certificates
from tests.e2e.sip.peers import (
    Baresip,
    SipProcess,
    baresip_available,
    free_port,
    held_call,
    kinds,
    speech_wav,
    wait_until,
)
from tests.e2e.sip.proxy import Kamailio
from tests.e2e.sip.test_bridge import SILENCE_RMS, _recording_of, rms
from tests.harness.hotline import Hotline

pytestmark = pytest.mark.skipif(
    baresip_available() is None, reason="baresip is not installed (Debian package baresip)"
)


@pytest.mark.slow
def test_a_caller_over_tls_with_srtp_reaches_the_ivr_and_her_voice_is_recorded(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sip_data_dir: Path,
    data_key: bytes,
    tmp_path: Path,
) -> None:
    certificates = make_certificates(tmp_path / "certs")
    tls_port = free_port(socket.SOCK_STREAM)
    sip = start_sip(
        AMPARO_SIP_TLS_LISTEN=f"127.0.0.1:{tls_port}",
        AMPARO_SIP_TLS_CERT=str(certificates.cert),
        AMPARO_SIP_TLS_KEY=str(certificates.key),
        AMPARO_SIP_SRTP="mandatory",
    )
    caller = Baresip(
        tmp_path / "caller",
        "caller",
        speech_wav(tmp_path / "caller.wav", "I need to talk to someone"),
        extra_config=(f"sip_cafile {certificates.ca}", "module srtp.so"),
        account_params=";mediaenc=srtp-mand",
    ).start()
    try:
        caller.command("dial", f"sip:{hotline.line_number}@127.0.0.1:{tls_port};transport=tls")
        call_id = held_call(redis_client, timeout_s=20)
        caller.command("sndcode", "1")  # Spanish; recording notice, recording starts
        time.sleep(2)
        caller.command("sndcode", "0")  # a person, please
        wait_until(lambda: "outcome" in kinds(db_sessions, call_id), 40, sip.log()[-3000:])
        time.sleep(2)
        caller.command("hangup")
        wait_until(lambda: "hangup" in kinds(db_sessions, call_id), 20, "no hang-up")
    finally:
        caller.stop()
    assert "(TLS), SRTP mandatory" in sip.log()
    assert "SRTP is Enabled" in caller.log(), caller.log()[-2000:]  # SDES keys, AES-CM

    from recordings_policy.access import RecordingAccess
    from recordings_policy.services import RecordingArchive
    from recordings_policy.vault import MasterKeys

    recording_id = wait_until(lambda: _recording_of(db_sessions, call_id), 20, "no recording")
    keys = MasterKeys(current=data_key)
    archive = RecordingArchive.under(sip_data_dir, db_sessions, keys)
    playback = RecordingAccess(db_sessions, archive.storage, keys).stream_for(
        str(recording_id),
        actor_id=hotline.agents["boss"],
        role="supervisor",
        reason="checking a recording of a call over TLS and SRTP in a test",
    )
    assert rms(b"".join(playback.chunks)) > SILENCE_RMS


@pytest.mark.slow
@pytest.mark.skipif(
    not Path("/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so").exists(),
    reason="Kamailio's TLS module is missing (Debian package kamailio-tls-modules)",
)
def test_a_caller_over_tls_to_kamailio_reaches_amparo_sip_behind_it(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    certificates = make_certificates(tmp_path / "certs")
    sip = start_sip()
    proxy = Kamailio(tmp_path / "kamailio", [sip.address], certificates=certificates).start()
    caller = Baresip(
        tmp_path / "caller",
        "caller",
        speech_wav(tmp_path / "caller.wav", "I need to talk to someone"),
        extra_config=(f"sip_cafile {certificates.ca}",),
    ).start()
    try:
        caller.command(
            "dial", f"sip:{hotline.line_number}@127.0.0.1:{proxy.tls_port};transport=tls"
        )
        call_id = held_call(redis_client, timeout_s=20)
        caller.command("sndcode", "1")
        time.sleep(2)
        caller.command("sndcode", "0")
        wait_until(lambda: "outcome" in kinds(db_sessions, call_id), 40, sip.log()[-3000:])
        caller.command("hangup")
        wait_until(lambda: "hangup" in kinds(db_sessions, call_id), 20, proxy.log()[-3000:])
    finally:
        caller.stop()
        proxy.stop()
    assert "transport=tls" in caller.log()
