/* Placing a call from the console (POST /console/api/outbound): while she is available and
   has no call, she calls a service of the directory or a number. Her softphone rings first;
   console.js picks the call up from the server's state like any other. While the far end
   rings (a call she placed, or a callback she took), she may cancel it
   (POST /console/api/calls/<id>/cancel); routing then lets her go as after any call. */
(function () {
  "use strict";
  var A = window.Amparo;
  var form = document.getElementById("place-call");
  if (!form) { return; }
  var stateNow = document.getElementById("state-now");
  var phase = document.getElementById("call-phase");
  var ringingRow = document.getElementById("place-call-ringing");
  var cancelButton = document.getElementById("place-call-cancel");
  var ringingCall = null;
  var ringingTimer = null;

  function say(key, isError) {
    var node = document.getElementById("action-status");
    node.textContent = A.t(key);
    node.className = isError ? "status error" : "status";
  }

  function sayError(error) {
    var node = document.getElementById("action-status");
    node.textContent = A.t("console.error.generic") + " (" + (error.errorId || error.message) + ")";
    node.className = "status error";
  }

  function render() {
    var idle = stateNow.getAttribute("data-state") === "available"
      && phase.getAttribute("data-phase") === "idle";
    form.hidden = !idle;
    if (phase.getAttribute("data-phase") === "on_call") { checkRinging(); }
    else { showRinging(null); }
  }

  // The server says whether her call still rings (GET /console/api/me: "ringing").
  function showRinging(callId) {
    ringingCall = callId;
    ringingRow.hidden = !callId;
    cancelButton.disabled = false;
    clearInterval(ringingTimer);
    if (callId) { ringingTimer = setInterval(checkRinging, 3000); }
  }

  function checkRinging() {
    A.api("GET", "/console/api/me").then(function (me) {
      showRinging(me.ringing ? me.call_id : null);
    }).catch(function () { /* the next look tries again */ });
  }

  A.api("GET", "/console/api/outbound-targets").then(function (targets) {
    A.fill("place-call-target", [A.el("option", "—", { value: "" })].concat(
      (targets.resources || []).map(function (r) { return A.el("option", r.name, { value: r.id }); })));
  }).catch(function () { /* the number field still works */ });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var number = document.getElementById("place-call-number").value.trim();
    var resource = document.getElementById("place-call-target").value;
    var body = resource ? { resource_id: resource } : { number: number };
    document.getElementById("place-call-submit").disabled = true;
    A.api("POST", "/console/api/outbound", body)
      .then(function (result) {
        form.reset();
        document.dispatchEvent(new CustomEvent("amparo:placed", { detail: result.call_id }));
        say(result.dialing ? "console.place.dialing" : "console.place.not_dialled", !result.dialing);
        if (result.dialing) { showRinging(result.call_id); }
      })
      .catch(sayError)
      .finally(function () { document.getElementById("place-call-submit").disabled = false; });
  });

  cancelButton.addEventListener("click", function () {
    if (!ringingCall) { return; }
    cancelButton.disabled = true;
    A.api("POST", "/console/api/calls/" + encodeURIComponent(ringingCall) + "/cancel")
      .then(function () {
        showRinging(null);
        say("console.place.cancelled", false);
      })
      .catch(function (error) {
        if (error.errorId === "console.call_answered") {
          showRinging(null);
          say("console.place.answered_first", false);
        } else {
          cancelButton.disabled = false;
          sayError(error);
        }
      });
  });

  new MutationObserver(render).observe(stateNow, { attributes: true, attributeFilter: ["data-state"] });
  new MutationObserver(render).observe(phase, { attributes: true, attributeFilter: ["data-phase"] });
  render();
})();
