/* The urgent team's rings and the case of an answered one. The banner shows the oldest ring;
   answering it stops the ladder for everyone and shows the case: her file, where she is (with
   a map link) and the nearest resources. Everything is put in the page as text, never as HTML. */
(function () {
  "use strict";
  var A = window.Amparo;
  var labels = JSON.parse(document.getElementById("console-config").textContent).labels;
  var MAP_PREFIX = "https://www.openstreetmap.org/?";
  var ringing = [];  // escalation ids, oldest first

  function byId(id) { return document.getElementById(id); }
  function show(id, visible) { byId(id).hidden = !visible; }
  function status(text, isError) {
    var node = byId("action-status");
    node.textContent = text || "";
    node.className = isError ? "status error" : "status";
  }

  function render() {
    show("escalation-banner", ringing.length > 0);
    A.setText("escalation-detail", ringing.length > 1 ? "(" + ringing.length + ")" : "");
  }
  function ring(escalationId) {
    if (ringing.indexOf(escalationId) < 0) { ringing.push(escalationId); }
    render();
  }
  function stop(escalationId) {
    ringing = ringing.filter(function (id) { return id !== escalationId; });
    render();
  }
  function load() {
    return A.api("GET", "/console/api/escalations").then(function (data) {
      data.escalations.forEach(function (item) { ring(item.id); });
    }).catch(function () { /* the stream brings the next ring */ });
  }

  function renderLocation(loc) {
    var map = byId("case-map");
    A.setText("case-location", loc ? loc.latitude.toFixed(5) + ", " + loc.longitude.toFixed(5)
      : A.t("console.case.no_location"));
    A.setText("case-accuracy", loc && loc.accuracy_m !== null ? Math.round(loc.accuracy_m) + " m" : "—");
    A.setText("case-age", loc && loc.age_s !== null ? A.duration(loc.age_s) : "—");
    var link = loc && String(loc.map_url || "").indexOf(MAP_PREFIX) === 0 ? loc.map_url : null;
    if (link) { map.setAttribute("href", link); } else { map.removeAttribute("href"); }
    map.hidden = !link;
  }

  function showCase(found) {
    var her = found.beneficiary || {};
    A.setText("case-reason", labels.reason[found.reason] || found.reason);
    A.setText("case-alarm-type", found.alarm_type ? (labels.alarm[found.alarm_type] || found.alarm_type) : "—");
    A.setText("case-name", her.full_name || "—");
    A.setText("case-phones", (her.phones || []).map(function (p) {
      return p.number + " (" + (labels.phone_kind[p.kind] || p.kind) + ")";
    }).join(", ") || "—");
    A.setText("case-address", her.address || "—");
    A.setText("case-risk", her.risk ? (labels.risk[her.risk] || her.risk) : "—");
    byId("case-risk").className = "risk risk-" + (her.risk || "none");
    A.setText("case-safety-plan", her.safety_plan || "—");
    renderLocation(found.location);
    A.fill("case-resources", found.resources.map(function (r) {
      var distance = r.distance_km === null ? "—" : r.distance_km.toFixed(1) + " km";
      return A.row([r.name, labels.resource[r.kind] || r.kind, distance, r.phone]);
    }));
    show("escalation-case", true);
    byId("case-title").focus({ preventScroll: true });
    byId("escalation-case").scrollIntoView({ block: "start" });
  }

  byId("escalation-ack").addEventListener("click", function () {
    var escalationId = ringing[0];
    if (!escalationId) { return; }
    A.api("POST", "/console/api/escalations/acknowledge", { escalation_id: escalationId })
      .then(function (answer) {
        stop(escalationId);
        status(A.t("console.escalation.acknowledged"));
        if (answer.case) { showCase(answer.case); }
      })
      .catch(function (error) {
        if (error.status === 404) { stop(escalationId); }
        status(error.errorId === "console.not_your_escalation"
          ? A.t("console.error.not_your_escalation")
          : A.t("console.error.generic") + " (" + (error.errorId || error.message) + ")", true);
      });
  });
  byId("case-close").addEventListener("click", function () { show("escalation-case", false); });

  window.AmparoRings = { ring: ring, stop: stop, load: load };
})();
