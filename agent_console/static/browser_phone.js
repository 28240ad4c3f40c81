/* The browser phone of SIP mode: JsSIP registered with Kamailio over its WebSocket, with
   credentials the console mints for this session (POST /console/api/sip-credentials; no static
   SIP password is ever kept here). `amparo sip` calls her registered browser when she accepts
   an offer; the call is answered at once with her microphone. She sees her microphone's level,
   mutes, sends keys and hangs up here; hold is the console's Hold (the caller hears the hold
   loop). After a network loss JsSIP reconnects and registers again; refused or expiring
   credentials are replaced with fresh ones. Her state is in #softphone-status (data-state:
   connecting, ready, reconnecting, in-call, refused, mic-denied). */
(function () {
  "use strict";
  var A = window.Amparo;
  var root = document.getElementById("browser-phone");
  if (!A || !root) { return; }
  var statusNode = document.getElementById("softphone-status");
  var controls = document.getElementById("browser-phone-controls");
  var keypad = document.getElementById("browser-phone-keypad");
  var muteButton = document.getElementById("browser-phone-mute");
  var meter = document.getElementById("browser-phone-mic");
  var audio = document.getElementById("browser-phone-audio");
  var ua = null;
  var session = null;
  var microphone = null;
  var renewal = null;

  function text(name) { return root.getAttribute("data-text-" + name) || name; }

  function show(state, message) {
    statusNode.textContent = message || text(state);
    statusNode.setAttribute("data-state", state);
    statusNode.className = (state === "refused" || state === "mic-denied" || state === "no-mic") ? "error" : "";
  }

  function inCall(on) {
    controls.hidden = !on;
    keypad.hidden = !on;
    muteButton.setAttribute("aria-pressed", "false");
    muteButton.textContent = text("mute");
  }

  // -- the microphone and its level ---------------------------------------------------------
  function openMicrophone() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return Promise.reject(new Error("no-mic"));
    }
    return navigator.mediaDevices.getUserMedia({ audio: true, video: false }).then(function (stream) {
      microphone = stream;
      watchLevel(stream);
      return stream;
    });
  }

  function watchLevel(stream) {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    var context = new Context();
    var analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(stream).connect(analyser);
    var samples = new Float32Array(analyser.fftSize);
    setInterval(function () {
      if (context.state === "suspended") { context.resume(); }
      analyser.getFloatTimeDomainData(samples);
      var sum = 0;
      for (var i = 0; i < samples.length; i++) { sum += samples[i] * samples[i]; }
      var level = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      var muted = session && session.isMuted && session.isMuted().audio;
      meter.value = muted ? 0 : Math.max(level, meter.value * 0.85);  // falls back slowly
    }, 150);
  }

  // -- registration ---------------------------------------------------------------------------
  function register() {
    show("connecting");
    return A.api("POST", "/console/api/sip-credentials").then(function (credentials) {
      startAgent(credentials);
    }).catch(function () {
      show("refused");
      setTimeout(register, 10000);
    });
  }

  function startAgent(credentials) {
    var previous = ua;
    ua = null;
    if (previous) { previous.stop(); }
    var agent = new window.JsSIP.UA({
      sockets: [new window.JsSIP.WebSocketInterface(credentials.ws_url)],
      uri: credentials.uri,
      authorization_user: credentials.username,
      password: credentials.password,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: "Amparo console",
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 8,
    });
    ua = agent;
    agent.on("registered", function () { if (ua === agent && !session) { show("ready"); } });
    agent.on("disconnected", function () { if (ua === agent) { show("reconnecting"); } });
    agent.on("unregistered", function () { if (ua === agent && !session) { show("reconnecting"); } });
    agent.on("registrationFailed", function (event) {
      if (ua !== agent) { return; }
      var causes = window.JsSIP.C.causes;
      if (event.cause === causes.AUTHENTICATION_ERROR || event.cause === causes.REJECTED) {
        show("refused");
        setTimeout(function () { if (ua === agent && !session) { register(); } }, 5000);
      } else {
        show("reconnecting");
      }
    });
    agent.on("newRTCSession", function (event) { if (ua === agent) { incoming(event); } });
    agent.start();
    clearTimeout(renewal);
    renewal = setTimeout(renew, Math.max(60, credentials.expires_in * 0.8) * 1000);
  }

  function renew() {
    if (session) { renewal = setTimeout(renew, 30000); return; }  // never during a call
    register();
  }

  // -- calls ------------------------------------------------------------------------------------
  function incoming(event) {
    var call = event.session;
    if (event.originator !== "remote") { return; }
    if (session || !microphone) {
      call.terminate({ status_code: 486, reason_phrase: "Busy Here" });
      return;
    }
    session = call;
    function hear(peer) {
      peer.addEventListener("track", function (track) {
        audio.srcObject = track.streams[0] || new MediaStream([track.track]);
        var playing = audio.play();
        if (playing && playing.catch) { playing.catch(function () {}); }
      });
    }
    if (call.connection) { hear(call.connection); }
    call.on("peerconnection", function (e) { hear(e.peerconnection); });
    call.on("accepted", function () { show("in-call"); inCall(true); });
    call.on("ended", finished);
    call.on("failed", finished);
    call.answer({
      mediaStream: microphone,
      mediaConstraints: { audio: true, video: false },
      pcConfig: { iceServers: [] },
    });
  }

  function finished() {
    session = null;
    inCall(false);
    audio.srcObject = null;
    show(ua && ua.isRegistered() ? "ready" : "reconnecting");
  }

  muteButton.addEventListener("click", function () {
    if (!session) { return; }
    var muted = session.isMuted().audio;
    if (muted) { session.unmute({ audio: true }); } else { session.mute({ audio: true }); }
    muteButton.setAttribute("aria-pressed", muted ? "false" : "true");
    muteButton.textContent = muted ? text("mute") : text("unmute");
    show(muted ? "in-call" : "muted");
  });

  // Hanging up ends her call with the caller on purpose (the engine ends both legs); a leg
  // that merely drops sends the caller back to the queue instead.
  document.getElementById("browser-phone-hangup").addEventListener("click", function () {
    A.api("POST", "/console/api/hang-up", {}).catch(function () {
      if (session) { session.terminate(); }
    });
  });

  keypad.addEventListener("click", function (event) {
    var key = event.target.getAttribute && event.target.getAttribute("data-key");
    if (key && session && session.isEstablished()) {
      session.sendDTMF(key, { transportType: "INFO", duration: 160 });
    }
  });

  window.addEventListener("beforeunload", function () { if (ua) { ua.stop(); } });

  openMicrophone().then(register).catch(function (error) {
    var denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
    show(denied ? "mic-denied" : "no-mic");
  });
})();
