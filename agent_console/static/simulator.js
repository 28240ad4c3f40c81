/* The caller simulator: dial a line, hear the prompts as text (and aloud where the browser can),
   press keys, stay silent, hang up; press a device's panic button; answer check-in calls. */
(function () {
  "use strict";
  var A = window.Amparo;
  var callId = null;
  var shown = 0;
  var timer = null;

  function byId(id) { return document.getElementById(id); }

  function speak(line, locale) {
    if (!byId("sim-speak").checked || !("speechSynthesis" in window) || line.kind !== "say") { return; }
    try {
      var utterance = new SpeechSynthesisUtterance(line.text);
      if (line.locale || locale) { utterance.lang = line.locale || locale; }
      window.speechSynthesis.speak(utterance);
    } catch (e) { /* no voice: the text is on screen */ }
  }

  function render(call) {
    callId = call.call_id;
    var list = byId("sim-transcript");
    list.setAttribute("data-call", call.call_id);
    if (call.lines.length < shown) { shown = 0; while (list.firstChild) { list.removeChild(list.firstChild); } }
    call.lines.slice(shown).forEach(function (line) {
      list.appendChild(A.el("li", line.text, { "class": line.kind, "dir": "auto", "lang": line.locale || "" }));
      speak(line, call.locale);
    });
    shown = call.lines.length;
    list.scrollTop = list.scrollHeight;
    var ended = call.status === "ended" || call.status === "transferred";
    A.setText("sim-status", A.t("simulator.status." + call.status));
    byId("sim-status").setAttribute("data-status", call.status);
    document.querySelectorAll(".sim-key").forEach(function (b) { b.disabled = ended; });
    byId("sim-silence").disabled = ended;
    byId("sim-hangup").disabled = ended;
    clearInterval(timer);
    if (!ended) { timer = setInterval(poll, 1500); }
  }

  function poll() {
    if (!callId) { return; }
    A.api("GET", "/simulator/api/calls/" + callId).then(render).catch(function () { clearInterval(timer); });
  }

  function failed(error) { A.setText("sim-status", A.t("simulator.error") + " (" + (error.errorId || error.message) + ")"); }

  function start(call) {
    shown = 0;
    A.fill("sim-transcript", []);
    render(call);
  }

  A.api("GET", "/simulator/api/lines").then(function (data) {
    A.fill("sim-line", data.lines.map(function (line) {
      return A.el("option", line.name + " (" + line.number + ")", { value: line.number });
    }));
  });

  byId("dial-form").addEventListener("submit", function (event) {
    event.preventDefault();
    A.api("POST", "/simulator/api/calls", { line: byId("sim-line").value, from: byId("sim-from").value })
      .then(start).catch(failed);
  });

  document.querySelectorAll(".sim-key").forEach(function (button) {
    button.addEventListener("click", function () {
      if (!callId) { return; }
      A.api("POST", "/simulator/api/calls/" + callId + "/keys", { digits: button.getAttribute("data-key") })
        .then(render).catch(failed);
    });
  });
  byId("sim-silence").addEventListener("click", function () {
    A.api("POST", "/simulator/api/calls/" + callId + "/silence").then(render).catch(failed);
  });
  byId("sim-hangup").addEventListener("click", function () {
    A.api("POST", "/simulator/api/calls/" + callId + "/hangup").then(render).catch(failed);
  });

  byId("panic-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var serial = byId("panic-serial").value.trim();
    A.api("POST", "/simulator/api/devices/" + encodeURIComponent(serial) + "/panic", {
      alarm_type: byId("panic-type").value,
      latitude: Number(byId("panic-lat").value),
      longitude: Number(byId("panic-lon").value),
      accuracy_m: Number(byId("panic-accuracy").value),
    }).then(function (result) {
      A.setText("panic-status", A.t("simulator.alarm_sent"));
      A.api("GET", "/simulator/api/calls/" + result.call_id).then(start);
    }).catch(function (error) {
      A.setText("panic-status", A.t("simulator.error") + " (" + (error.errorId || error.message) + ")");
    });
  });

  function answer(id, machine) {
    A.api("POST", "/simulator/api/calls/" + id + "/answer", { machine: machine }).then(start).catch(failed);
  }

  function ringing() {
    A.api("GET", "/simulator/api/ringing").then(function (data) {
      A.fill("sim-ringing", data.calls.map(function (id) {
        var li = A.el("li", A.t("simulator.incoming") + " ");
        var person = A.el("button", A.t("simulator.answer"), { type: "button" });
        var machine = A.el("button", A.t("simulator.answer_machine"), { type: "button" });
        person.addEventListener("click", function () { answer(id, false); });
        machine.addEventListener("click", function () { answer(id, true); });
        li.appendChild(person);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(machine);
        return li;
      }));
    }).catch(function () { /* next tick */ });
  }
  ringing();
  setInterval(ringing, 3000);
})();
