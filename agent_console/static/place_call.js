/* Placing a call from the console (POST /console/api/outbound): while she is available and
   has no call, she calls a service of the directory or a number. Her softphone rings first;
   console.js picks the call up from the server's state like any other. */
(function () {
  "use strict";
  var A = window.Amparo;
  var form = document.getElementById("place-call");
  if (!form) { return; }
  var stateNow = document.getElementById("state-now");
  var phase = document.getElementById("call-phase");

  function say(key, isError) {
    var node = document.getElementById("action-status");
    node.textContent = A.t(key);
    node.className = isError ? "status error" : "status";
  }

  function render() {
    var idle = stateNow.getAttribute("data-state") === "available"
      && phase.getAttribute("data-phase") === "idle";
    form.hidden = !idle;
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
      })
      .catch(function (error) {
        var node = document.getElementById("action-status");
        node.textContent = A.t("console.error.generic") + " (" + (error.errorId || error.message) + ")";
        node.className = "status error";
      })
      .finally(function () { document.getElementById("place-call-submit").disabled = false; });
  });

  new MutationObserver(render).observe(stateNow, { attributes: true, attributeFilter: ["data-state"] });
  new MutationObserver(render).observe(phase, { attributes: true, attributeFilter: ["data-phase"] });
  render();
})();
