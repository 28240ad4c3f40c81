/* The urgent team's rings and the case of an answered one. The banner lists every escalation
   ringing the signed-in person (reason, line, how long it has rung), each with its own
   Acknowledge button; the list is the server's (GET /console/api/escalations), read again on
   every ring and on page load, so a reload shows what still rings. Answering one stops its
   ladder for everyone and shows the case: her file, where she is (with a map link) and the
   nearest resources. Everything is put in the page as text, never as HTML. */
(function () {
  "use strict";
  var A = window.Amparo;
  var labels = JSON.parse(document.getElementById("console-config").textContent).labels;
  var MAP_PREFIX = "https://www.openstreetmap.org/?";
  var rings = [];       // {id, call_id, reason, line, since}, oldest first
  var known = {};       // ids already announced
  var clockOffset = 0;  // server clock minus this browser's, in seconds
  var offeredCall = null;

  function byId(id) { return document.getElementById(id); }
  function show(id, visible) { byId(id).hidden = !visible; }
  function status(text, isError) {
    var node = byId("action-status");
    node.textContent = text || "";
    node.className = isError ? "status error" : "status";
  }
  function serverNow() { return Date.now() / 1000 + clockOffset; }
  function describe(item) {
    return (labels.reason[item.reason] || item.reason) + (item.line ? " · " + item.line : "");
  }

  function render() {
    var focused = document.activeElement && document.activeElement.getAttribute("data-escalation");
    show("escalation-banner", rings.length > 0);
    byId("escalation-banner").setAttribute("data-count", String(rings.length));
    A.fill("escalation-list", rings.map(function (item) {
      var li = A.el("li", null, {
        "class": "escalation-ring", "data-escalation": item.id, "data-call": item.call_id || "",
      });
      li.appendChild(A.el("span", describe(item), { "class": "ring-what" }));
      li.appendChild(document.createTextNode(" · " + A.t("console.escalation.ringing_for") + " "));
      li.appendChild(A.el("span", "", { "class": "ring-age", "data-since": String(item.since) }));
      if (offeredCall && item.call_id === offeredCall) {
        li.appendChild(A.el("p", A.t("console.escalation.same_call"), { "class": "ring-note" }));
      }
      var button = A.el("button", A.t("console.escalation.acknowledge"), {
        type: "button", "class": "danger ring-ack", "data-escalation": item.id,
        "aria-label": A.t("console.escalation.acknowledge") + ": " + describe(item),
      });
      li.appendChild(button);
      return li;
    }));
    tick();
    if (focused) {
      var again = byId("escalation-list").querySelector('button[data-escalation="' + CSS.escape(focused) + '"]');
      if (again) { again.focus(); }
    }
  }

  function tick() {
    byId("escalation-list").querySelectorAll(".ring-age").forEach(function (node) {
      node.textContent = A.duration(serverNow() - Number(node.getAttribute("data-since")));
    });
  }

  function load() {
    return A.api("GET", "/console/api/escalations").then(function (data) {
      clockOffset = data.now - Date.now() / 1000;
      rings = data.escalations;
      var fresh = rings.filter(function (item) { return !known[item.id]; });
      fresh.forEach(function (item) { known[item.id] = true; });
      if (fresh.length) {
        byId("escalation-announcer").textContent = A.t("console.escalation.ringing") + ": " +
          fresh.map(describe).join("; ");
      }
      render();
    }).catch(function () { /* the stream brings the next ring */ });
  }
  function ring() { return load(); }
  function stop(escalationId) {
    var before = rings.length;
    rings = rings.filter(function (item) { return item.id !== escalationId; });
    if (rings.length !== before) { render(); }
  }
  function setOffer(callId) {
    offeredCall = callId ? String(callId).replace(/\.t\d+$/, "") : null;
    render();
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

  function acknowledge(item) {
    A.api("POST", "/console/api/escalations/acknowledge", { escalation_id: item.id })
      .then(function (answer) {
        stop(item.id);
        status(A.t("console.escalation.acknowledged") + " " + describe(item));
        if (answer.case) { showCase(answer.case); }
      })
      .catch(function (error) {
        if (error.status === 404) { stop(item.id); }
        status(error.errorId === "console.not_your_escalation"
          ? A.t("console.error.not_your_escalation")
          : A.t("console.error.generic") + " (" + (error.errorId || error.message) + ")", true);
        load();
      });
  }

  byId("escalation-list").addEventListener("click", function (event) {
    var button = event.target.closest("button.ring-ack");
    if (!button) { return; }
    var id = button.getAttribute("data-escalation");
    var item = rings.filter(function (r) { return r.id === id; })[0];
    if (item) { acknowledge(item); }
  });
  byId("case-close").addEventListener("click", function () { show("escalation-case", false); });

  setInterval(tick, 1000);
  load();
  window.AmparoRings = { ring: ring, stop: stop, load: load, setOffer: setOffer };
})();
