/* The agent's console: presence, live offers (server-sent events), the softphone and the
   caller card. Data from the server is always put into the page as text, never as HTML. */
(function () {
  "use strict";
  var A = window.Amparo;
  var config = JSON.parse(document.getElementById("console-config").textContent);
  var labels = config.labels;
  // The console's state, one model rebuilt from the server (GET /console/api/me) on load and
  // whenever an event moves it: her presence, the offer, her call (and whether the caller is
  // gone) and the wrap-up's end. Escalations ringing her are escalations.js's model.
  var model = { state: "offline", afterCall: null, callEnded: false, wrapUntil: null };
  var offer = null;          // {call, expiresAt (local ms)}
  var callId = null;         // her call, from accept until its outcome is saved
  var clockOffset = 0;       // server clock minus this browser's, in seconds
  var localChange = 0;       // bumped when this page starts or ends a call itself
  var wrapTimer = null;
  var alarmTimer = null;
  var card = null;
  var baselineRisk = null;
  var phoneTimer = null;
  var offerTimer = null;
  var twilioDevice = null;
  // VioGén's scale, lowest first (a JSON object's keys lose their order on the way).
  var riskOrder = config.riskOrder;

  function byId(id) { return document.getElementById(id); }
  function show(id, visible) { byId(id).hidden = !visible; }
  function status(text, isError) {
    var node = byId("action-status");
    node.textContent = text || "";
    node.className = isError ? "status error" : "status";
  }
  function failed(error) {
    var text = error.errorId === "console.no_bridge" ? A.t("console.error.no_bridge")
      : error.errorId === "console.offer_gone" ? A.t("console.error.offer_gone")
      : error.errorId === "console.agent_unavailable" ? A.t("console.error.agent_unavailable")
      : error.errorId === "console.risk_reason_required" ? A.t("console.risk.reason_required")
      : error.errorId === "console.caller_gone" ? A.t("console.call.caller_gone")
      : A.t("console.error.generic") + " (" + (error.errorId || error.message) + ")";
    status(text, true);
    if (error.errorId === "console.risk_reason_required") {
      showRiskReason(true);  // the server counts her stored risk too: ask for the reason here
      byId("risk-reason").focus();
    }
  }

  // -- presence -------------------------------------------------------------------------
  // On a call, break and offline are kept for when it ends ("break after this call"; the call
  // goes on); available cancels that, so it is only enabled while something is pending.
  function renderState(state, afterCall) {
    var onCall = state === "on_call";
    var pending = onCall ? (afterCall || "") : "";
    var text = labels.state[state] || state;
    if (pending) { text += " · " + (labels.after_call[pending] || pending); }
    byId("state-now").textContent = text;
    byId("state-now").setAttribute("data-state", state);
    byId("state-now").setAttribute("data-after-call", pending);
    document.querySelectorAll(".state-button").forEach(function (button) {
      var target = button.getAttribute("data-state");
      var pressed = onCall ? target === pending : target === state;
      button.setAttribute("aria-pressed", pressed ? "true" : "false");
      button.disabled = onCall && target === "available" && !pending;
    });
  }

  function refresh() {
    var asked = localChange;
    return A.api("GET", "/console/api/me").then(function (me) {
      clockOffset = me.now - Date.now() / 1000;
      model.state = me.state;
      model.afterCall = me.after_call;
      model.wrapUntil = me.wrap_until;
      renderState(me.state, me.after_call);
      if (me.offer && (!offer || offer.call !== me.offer.call)) {
        var remaining = me.offer.expires_at - me.now;
        showOffer(me.offer.call, me.offer, remaining);
      } else if (!me.offer && offer) {
        hideOffer();
      }
      if (asked === localChange) {  // not overtaken by this page's own accept or end
        if (me.call_id && me.call_id !== callId) { startCall(me.call_id); }
        else if (!me.call_id && callId) { endCallView(); }
        model.callEnded = !!(me.call_id && me.call_ended);
      }
      renderPhase();
    }).catch(function () { /* the stream or the next poll will try again */ });
  }

  // offer, on call, caller gone, wrap-up: what the call area says and offers.
  function phase() {
    if (callId) { return model.callEnded ? "caller_gone" : "on_call"; }
    if (model.state === "wrap_up") { return "wrap_up"; }
    return offer ? "offer" : "idle";
  }

  function renderPhase() {
    var now = phase();
    var node = byId("call-phase");
    if (node.getAttribute("data-phase") !== now) {
      node.setAttribute("data-phase", now);
      A.setText("call-phase-text", now === "on_call" ? A.t("console.call.connected")
        : now === "caller_gone" ? A.t("console.call.caller_gone")
        : now === "wrap_up" ? labels.state.wrap_up : "");
      if (now === "caller_gone") { status(""); }
    }
    byId("call-actions").setAttribute("data-caller-gone", now === "caller_gone" ? "true" : "false");
    clearInterval(wrapTimer);
    tickWrapUp();
    if (model.state === "wrap_up" && model.wrapUntil) { wrapTimer = setInterval(tickWrapUp, 1000); }
  }

  function tickWrapUp() {
    if (model.state !== "wrap_up" || !model.wrapUntil) { A.setText("wrap-left", ""); return; }
    var left = model.wrapUntil - (Date.now() / 1000 + clockOffset);
    byId("wrap-left").textContent = A.t("console.call.wrap_up_left") + " " + A.duration(left);
    if (left <= -1) { clearInterval(wrapTimer); refresh(); }
  }

  document.querySelectorAll(".state-button").forEach(function (button) {
    button.addEventListener("click", function () {
      A.api("POST", "/console/api/state", { state: button.getAttribute("data-state") })
        .then(function (data) {
          renderState(data.state, data.after_call);
          status(data.after_call ? labels.after_call[data.after_call] : A.t("console.state.changed"));
        })
        .catch(failed);
    });
  });

  // -- offers ---------------------------------------------------------------------------
  function flagNames(flags) {
    return String(flags || "").split(",").filter(Boolean).map(function (flag) {
      return labels.flag[flag] || flag;
    }).join(", ") || "—";
  }

  function showOffer(routingCallId, details, remainingSeconds) {
    offer = { call: routingCallId, expiresAt: Date.now() + remainingSeconds * 1000 };
    var language = details.language && details.language !== "*" ? A.languageName(details.language) : "—";
    // "She shares no language with you": said with the flags, not only on the card.
    var flags = flagNames(String(details.flags || "") + (details.interpreter_needed ? ",interpreter_needed" : ""));
    A.setText("offer-risk", labels.risk[details.risk] || details.risk);
    byId("offer-risk").className = "risk risk-" + details.risk;
    A.setText("offer-language", language);
    A.setText("offer-queue", String(details.queue || "").split(".").pop());
    A.setText("offer-flags", flags);
    show("offer", true);
    byId("offer-announcer").textContent = A.t("console.offer.incoming") + ": " +
      (labels.risk[details.risk] || details.risk) + ". " + A.t("console.language") + ": " +
      language + ". " + A.t("console.flags") + ": " + flags + ".";
    window.AmparoRings.setOffer(routingCallId);
    clearInterval(offerTimer);
    tickOffer();
    offerTimer = setInterval(tickOffer, 500);
    renderPhase();
    byId("offer-accept").focus();
  }

  function tickOffer() {
    if (!offer) { return; }
    var left = (offer.expiresAt - Date.now()) / 1000;
    A.setText("offer-expires", A.duration(left));
    if (left <= -2) { refresh(); }
  }

  function hideOffer(reasonText) {
    offer = null;
    clearInterval(offerTimer);
    show("offer", false);
    window.AmparoRings.setOffer(null);
    renderPhase();
    if (reasonText) { byId("offer-announcer").textContent = reasonText; }
  }

  function accept() {
    if (!offer) { return; }
    var routingCallId = offer.call;
    byId("offer-accept").disabled = true;
    A.api("POST", "/console/api/offers/" + encodeURIComponent(routingCallId) + "/accept")
      .then(function (result) {
        hideOffer();
        model.state = "on_call";
        renderState("on_call", null);
        startCall(result.call_id);
        byId("actions-title").focus();
        if ("dialing" in result) {
          // A callback task: her phone rings now (or, outside her safe windows, not at all).
          var key = result.dialing ? "console.callback.dialing"
            : result.error_id === "console.callback_outside_window"
              ? "console.callback.outside_window" : "console.callback.not_dialled";
          status(A.t(key), !result.dialing);
        } else if (!result.bridged) { status(A.t("console.error.no_bridge"), true); }
        else if (result.interpreter) {
          // The line calls her interpreter in on accept; if it could not, the button stays.
          status(A.t(result.interpreter.calling ? "console.call.interpreter_calling"
            : "console.call.interpreter_not_called"), !result.interpreter.calling);
        }
      })
      .catch(function (error) { hideOffer(); failed(error); refresh(); })
      .finally(function () { byId("offer-accept").disabled = false; });
  }

  function reject() {
    if (!offer) { return; }
    var routingCallId = offer.call;
    A.api("POST", "/console/api/offers/" + encodeURIComponent(routingCallId) + "/reject")
      .then(function () { hideOffer(); refresh(); })
      .catch(function (error) { hideOffer(); failed(error); refresh(); });
  }

  byId("offer-accept").addEventListener("click", accept);
  byId("offer-reject").addEventListener("click", reject);

  // -- the call -------------------------------------------------------------------------
  function startCall(id) {
    callId = id;
    localChange += 1;
    model.callEnded = false;
    show("call-actions", true);
    byId("end-form").reset();
    showRiskReason(false);
    status(A.t("console.call.connected"));
    loadCard();
    loadTransferTargets();
    if (config.simulator && !config.twilio) { startPhone(); }
    renderPhase();
  }

  function endCallView() {
    callId = null;
    localChange += 1;
    model.callEnded = false;
    card = null;
    clearInterval(phoneTimer);
    clearInterval(alarmTimer);
    show("call-actions", false);
    byId("mute").setAttribute("data-on", "0");  // her next call starts with her microphone on
    byId("mute").setAttribute("aria-pressed", "false");
    show("caller-card", false);
    show("phone-line", false);
    show("ben-file", false);
    A.fill("transcript", []);
    renderPhase();
  }

  function startPhone() {
    show("phone-line", true);
    clearInterval(phoneTimer);
    var poll = function () {
      if (!callId) { return; }
      A.api("GET", "/console/api/calls/" + callId + "/phone").then(function (phone) {
        // Only new lines are added, so the live region reads each line once.
        var list = byId("transcript");
        if (phone.lines.length < list.children.length) { A.fill("transcript", []); }
        phone.lines.slice(list.children.length).forEach(function (line) {
          list.appendChild(A.el("li", line.text, { "class": line.kind, "dir": "auto" }));
        });
        list.scrollTop = list.scrollHeight;
      }).catch(function () { clearInterval(phoneTimer); show("phone-line", false); });
    };
    poll();
    phoneTimer = setInterval(poll, 1500);
  }

  function loadCard() {
    A.setText("card-risk", A.t("console.card.loading"));
    A.api("GET", "/console/api/calls/" + callId + "/card").then(renderCard).catch(failed);
  }

  function renderRisk(id, risk) {
    A.setText(id, labels.risk[risk] || risk);
    byId(id).className = "risk risk-" + risk;
  }

  function renderCard(data) {
    card = data;
    showActions(data.call);
    var call = data.call;
    renderRisk("card-risk", call.risk);
    A.setText("card-line", call.line);
    A.setText("card-language", call.locale ? A.languageName(call.locale) : null);
    A.setText("card-flags", call.flags.map(function (f) { return f.label; }).join(", ") || "—");
    A.setText("card-started", A.when(call.started_at));
    A.fill("card-ivr", data.ivr_answers.map(function (a) {
      return A.row([a.question_label, a.answer_label]);
    }));
    renderAlarm(data.alarm);
    renderResources(data.resources, data.referrals);
    var ben = data.beneficiary;
    show("card-unknown", !ben);
    show("card-beneficiary", !!ben);
    var risks = [call.risk];
    if (ben) {
      risks.push(ben.risk);
      A.setText("ben-reference", ben.reference);
      renderRisk("ben-risk", ben.risk);
      A.setText("ben-reviewed", ben.risk_reviewed_at ? "(" + A.when(ben.risk_reviewed_at) + ")" : "");
      A.setText("ben-lowerings", ben.risk_lowerings.map(function (item) {
        return A.when(item.at) + ": " + (labels.risk[item.from] || item.from) + " → " +
          (labels.risk[item.to] || item.to);
      }).join("; ") || "—");
      A.setText("ben-windows", (ben.safe_call_windows.map(function (w) {
        return (w.days || []).map(A.weekdayName).join(", ") + " " + w.start + "–" + w.end;
      }).join("; ") || "—") + (ben.timezone ? " (" + ben.timezone + ")" : ""));
      A.fill("ben-calls", ben.recent_calls.map(function (c) {
        return A.row([A.when(c.started_at), c.direction,
          labels.disposition[c.disposition] || c.disposition, labels.risk[c.risk] || c.risk]);
      }));
      A.fill("ben-checkins", ben.checkins.map(function (c) {
        return A.row([A.when(c.scheduled_at), c.outcome]);
      }));
      var cadence = byId("plan-cadence");
      A.fill("plan-cadence", data.cadences.map(function (days) {
        return A.el("option", days, { value: String(days) });
      }));
      var plan = ben.checkin_plan;
      if (plan) {
        cadence.value = String(plan.cadence_days);
        byId("plan-active").checked = plan.active;
      }
      A.setText("plan-now", plan ? plan.cadence_days + " d · " + A.when(plan.next_due_at) : "—");
    }
    baselineRisk = risks.reduce(function (a, b) {
      return riskOrder.indexOf(b) > riskOrder.indexOf(a) ? b : a;
    });
    byId("end-risk").value = baselineRisk;
    showRiskReason(false);
    show("caller-card", true);
  }

  function renderAlarm(alarm) {
    show("card-alarm", !!alarm);
    if (!alarm) { return; }
    A.setText("alarm-type", labels.alarm[alarm.alarm_type] || alarm.alarm_type);
    var loc = alarm.location;
    A.setText("alarm-location", loc ? loc.latitude.toFixed(5) + ", " + loc.longitude.toFixed(5) : null);
    A.setText("alarm-accuracy", loc && loc.accuracy_m !== null ? Math.round(loc.accuracy_m) + " m" : null);
    clearInterval(alarmTimer);
    if (loc && loc.age_s !== null) {  // the fix's age goes on growing while she is on the line
      var fixedAt = Date.now() / 1000 - loc.age_s;
      var age = function () { A.setText("alarm-age", A.duration(Date.now() / 1000 - fixedAt)); };
      age();
      alarmTimer = setInterval(age, 1000);
    } else { A.setText("alarm-age", null); }
    var map = byId("alarm-map");
    var link = loc && String(loc.map_url || "").indexOf("https://www.openstreetmap.org/?") === 0;
    if (link) { map.setAttribute("href", loc.map_url); } else { map.removeAttribute("href"); }
    map.hidden = !link;
  }

  function renderReferrals(referrals) {
    A.fill("card-referrals", referrals.map(function (r) {
      return A.el("li", r.name + " (" + (labels.resource[r.kind] || r.kind) + ") · " + A.when(r.referred_at));
    }));
  }

  function refer(resourceId) {
    A.api("POST", "/console/api/calls/" + callId + "/referrals", { resource_id: resourceId })
      .then(function (answer) {
        renderReferrals(answer.referrals);
        status(A.t("console.card.referred"));
      }).catch(failed);
  }

  // The line's resources: nearest to the alarm's fix, else those of her municipality.
  function renderResources(found, referrals) {
    show("card-resources", !!found);
    if (!found) { return; }
    A.setText("card-resources-basis", found.basis === "location"
      ? A.t("console.card.resources_nearest")
      : A.t("console.card.resources_in") + " " + found.municipality);
    A.fill("card-resources-list", found.items.map(function (r) {
      var distance = r.distance_km === null ? null : r.distance_km.toFixed(1) + " km";
      var tr = A.row([r.name, labels.resource[r.kind] || r.kind, distance, r.phone]);
      var button = A.el("button", A.t("console.card.refer"), { type: "button" });
      button.addEventListener("click", function () { refer(r.id); });
      var cell = A.el("td");
      cell.appendChild(button);
      tr.appendChild(cell);
      return tr;
    }));
    renderReferrals(referrals);
  }

  function openFile() {
    if (!callId || !card || !card.beneficiary) { return; }
    A.api("POST", "/console/api/calls/" + callId + "/file").then(function (file) {
      A.setText("file-name", file.full_name);
      A.setText("file-address", file.address);
      A.setText("file-safety-plan", file.safety_plan);
      A.setText("file-notes", file.notes);
      A.fill("file-past-notes", file.past_call_notes.map(function (item) {
        var li = A.el("li", A.when(item.started_at) + ": ");
        li.appendChild(A.el("bdi", item.notes, { dir: "auto" }));
        return li;
      }));
      show("ben-file", true);
      byId("ben-file-title").focus({ preventScroll: true });
      byId("ben-file").scrollIntoView({ block: "start" });
    }).catch(failed);
  }
  byId("ben-file-title").setAttribute("tabindex", "-1");
  byId("open-file").addEventListener("click", openFile);

  byId("plan-form").addEventListener("submit", function (event) {
    event.preventDefault();
    A.api("POST", "/console/api/calls/" + callId + "/checkin-plan", {
      cadence_days: Number(byId("plan-cadence").value), active: byId("plan-active").checked,
    }).then(function (plan) {
      A.setText("plan-now", plan.cadence_days + " d · " + A.when(plan.next_due_at));
      status(A.t("console.saved"));
    }).catch(failed);
  });

  function showActions(call) {
    // Only what the call's channel offers now: a button shown is never answered 409.
    var offered = (call && call.actions) || [];
    show("hold", offered.indexOf("hold") >= 0);
    show("mute", offered.indexOf("mute") >= 0);
    show("keys-row", offered.indexOf("send_dtmf") >= 0);
    show("interpreter-row", offered.indexOf("add_interpreter") >= 0);
    showInterpreter(call && call.interpreter, offered);
    show("transfer-out-row", offered.indexOf("transfer_out") >= 0);
  }

  function toggleHold() {
    if (!callId) { return; }
    var button = byId("hold");
    var on = button.getAttribute("data-on") !== "1";
    A.api("POST", "/console/api/calls/" + callId + "/hold", { on: on }).then(function () {
      button.setAttribute("data-on", on ? "1" : "0");
      button.setAttribute("aria-pressed", on ? "true" : "false");
      status(on ? A.t("console.call.on_hold") : A.t("console.call.connected"));
    }).catch(failed);
  }
  byId("hold").addEventListener("click", toggleHold);

  function toggleMute() {
    if (!callId) { return; }
    var button = byId("mute");
    var on = button.getAttribute("data-on") !== "1";
    A.api("POST", "/console/api/calls/" + callId + "/mute", { on: on }).then(function () {
      button.setAttribute("data-on", on ? "1" : "0");
      button.setAttribute("aria-pressed", on ? "true" : "false");
      status(on ? A.t("console.call.muted") : A.t("console.call.unmuted"));
    }).catch(failed);
  }
  byId("mute").addEventListener("click", toggleMute);

  byId("keys-row").addEventListener("submit", function (event) {
    event.preventDefault();
    var keys = byId("keys");
    A.api("POST", "/console/api/calls/" + callId + "/dtmf", { digits: keys.value.trim() }).then(function () {
      keys.value = "";
      status(A.t("console.call.keys_sent"));
    }).catch(failed);
  });

  byId("escalate").addEventListener("click", function () {
    A.api("POST", "/console/api/calls/" + callId + "/escalate")
      .then(function () { status(A.t("console.escalation.sent")); }).catch(failed);
  });

  function loadTransferTargets() {
    A.api("GET", "/console/api/calls/" + callId + "/transfer-targets").then(function (targets) {
      var options = targets.queues.map(function (q) { return A.el("option", q, { value: "queue:" + q }); });
      targets.agents.forEach(function (a) {
        var state = labels.state[a.state] || a.state;
        options.push(A.el("option", a.name + " (" + state + ")", { value: "agent:" + a.id }));
      });
      A.fill("transfer-target", options);
      A.fill("transfer-out-target", [A.el("option", "—", { value: "" })].concat((targets.resources || []).map(function (r) {
        return A.el("option", r.name + " (" + (labels.resource[r.kind] || r.kind) + ")", { value: r.id });
      })));
    }).catch(function () { A.fill("transfer-target", []); });
  }

  byId("transfer").addEventListener("click", function () {
    var value = byId("transfer-target").value || "";
    var body = value.indexOf("agent:") === 0 ? { agent_id: value.slice(6) } : { queue: value.slice(6) };
    A.api("POST", "/console/api/calls/" + callId + "/transfer", body).then(function () {
      endCallView();
      status(A.t("console.call.transferred"));
      refresh();
    }).catch(failed);
  });

  // A cold transfer to another service: she waits on hold; the answer (or not) comes as an event.
  byId("transfer-out-row").addEventListener("submit", function (event) {
    event.preventDefault();
    var number = byId("transfer-out-number").value.trim(), resource = byId("transfer-out-target").value;
    var body = number ? { number: number } : { resource_id: resource };
    body.warm = byId("transfer-out-warm").checked;
    A.api("POST", "/console/api/calls/" + callId + "/transfer", body).then(function () {
      status(A.t("console.call.transfer_ringing"));
      show("warm-row", body.warm);  // consult first: then hand her over or take her back
    }).catch(failed);
  });
  ["complete", "cancel"].forEach(function (step) {
    byId("transfer-" + step).addEventListener("click", function () {
      A.api("POST", "/console/api/calls/" + callId + "/transfer/" + step).then(function () {
        show("warm-row", false);
        status(A.t(step === "complete" ? "console.call.transferred_out" : "console.call.transfer_returned"));
      }).catch(failed);
    });
  });

  // "Remove" is shown while an interpreter is on her call (added here, on accept, or before a reload).
  function showInterpreter(language, offered) {
    offered = offered || (card && card.call.actions) || [];
    show("interpreter-remove", !!language && offered.indexOf("remove_interpreter") >= 0);
  }

  byId("interpreter").addEventListener("click", function () {
    var language = byId("interpreter-language").value.trim();
    A.api("POST", "/console/api/calls/" + callId + "/interpreter", { language: language })
      .then(function () {
        showInterpreter(language);
        status(A.t("console.call.interpreter_added"));
      }).catch(failed);
  });

  byId("interpreter-remove").addEventListener("click", function () {
    A.api("POST", "/console/api/calls/" + callId + "/interpreter/remove").then(function () {
      showInterpreter(null);
      status(A.t("console.call.interpreter_removed"));
      byId("interpreter").focus();  // the button she pressed is gone
    }).catch(failed);
  });

  // The reason is asked for exactly when she lowers the risk below what the call carries;
  // hidden, the field is neither required nor sent, so it never blocks the form.
  function showRiskReason(shown) {
    show("risk-reason-row", shown);
    byId("risk-reason").required = shown;
    byId("risk-reason").disabled = !shown;
  }
  function lowering() {
    return riskOrder.indexOf(byId("end-risk").value) < riskOrder.indexOf(baselineRisk);
  }
  byId("end-risk").addEventListener("change", function () { showRiskReason(lowering()); });

  byId("end-form").addEventListener("submit", function (event) {
    event.preventDefault();
    A.api("POST", "/console/api/calls/" + callId + "/end", {
      disposition: byId("disposition").value,
      notes: byId("notes").value,
      risk: byId("end-risk").value,
      risk_reason: lowering() ? byId("risk-reason").value : "",
    }).then(function () {
      endCallView();
      status(A.t("console.call.ended"));
      byId("softphone-title").focus();
      refresh();
    }).catch(failed);
  });

  // Notes and a reason typed for her call are lost on a reload: the browser asks first.
  window.addEventListener("beforeunload", function (event) {
    if (callId && (byId("notes").value || byId("risk-reason").value)) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // -- keyboard -------------------------------------------------------------------------
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || A.typing(event)) { return; }
    var key = event.key.toLowerCase();
    if (key === "a" && offer) { event.preventDefault(); accept(); }
    else if (key === "r" && offer) { event.preventDefault(); reject(); }
    else if (key === "h" && phase() === "on_call" && !byId("hold").hidden) { event.preventDefault(); toggleHold(); }
    else if (key === "m" && phase() === "on_call" && !byId("mute").hidden) { event.preventDefault(); toggleMute(); }
    else if (key === "f" && callId) { event.preventDefault(); openFile(); }
  });

  // -- softphone (Twilio mode) ----------------------------------------------------------
  function startTwilio() {
    A.setText("softphone-status", "…");
    A.api("POST", "/console/api/voice-token").then(function (data) {
      if (!window.Twilio || !window.Twilio.Device) { throw new Error("sdk"); }
      twilioDevice = new window.Twilio.Device(data.token, { closeProtection: true });
      twilioDevice.on("registered", function () { A.setText("softphone-status", A.t("console.softphone.ready")); });
      twilioDevice.on("error", function () { A.setText("softphone-status", A.t("console.softphone.voice_unavailable")); });
      twilioDevice.on("incoming", function (call) { call.accept(); });
      twilioDevice.on("tokenWillExpire", function () {
        A.api("POST", "/console/api/voice-token").then(function (next) { twilioDevice.updateToken(next.token); });
      });
      twilioDevice.register();
    }).catch(function () {
      A.setText("softphone-status", A.t("console.softphone.voice_unavailable"));
      byId("softphone-status").className = "error";
    });
  }

  // -- events ---------------------------------------------------------------------------
  // A call she places (place_call.js) is routed to her and taken at once: never an offer.
  var placed = {};
  document.addEventListener("amparo:placed", function (event) {
    placed[event.detail] = true;
    if (offer && offer.call === event.detail) { hideOffer(); }
    model.state = "on_call";
    renderState("on_call", null);
    startCall(event.detail);
  });
  function onMessage(message) {
    switch (message.kind) {
      case "stream_open":
        refresh();
        window.AmparoRings.load();
        break;
      case "offered":
        if (placed[message.call]) { refresh(); break; }  // her own call, taken as she placed it
        showOffer(message.call, message.data || {},
          ((message.data || {}).expires_at || 0) - (message.at || 0));
        break;
      case "offer_withdrawn":
      case "offer_timed_out":
        if (offer && offer.call === message.call) { hideOffer(A.t("console.offer.withdrawn")); }
        refresh();
        break;
      case "completed":               // her call ended: the caller hung up, or she ended it
      case "agent_state_after_call":  // asked for during the call, here or by an admin
      case "agent_state_changed":     // taken when the call and its wrap-up ended
        refresh();
        break;
      case "escalation_ring":
        window.AmparoRings.ring(message.escalation_id);
        break;
      case "escalation_stopped":
        window.AmparoRings.stop(message.escalation_id);
        break;
      case "transferred_out":  // she is with the service; the agent records the outcome
        if (message.call_id === callId) { status(A.t("console.call.transferred_out")); }
        break;
      case "transfer_consulting":  // the service answered: the agent talks with it first
        if (message.call_id === callId) { status(A.t("console.call.transfer_consulting")); }
        break;
      case "transfer_returned":  // the service hung up, or she took her back
        if (message.call_id === callId) { show("warm-row", false); status(A.t("console.call.transfer_returned")); }
        break;
      case "transfer_failed":  // she is back with the agent
        if (message.call_id === callId) { show("warm-row", false); status(A.t("console.call.transfer_failed"), true); }
        break;
      case "interpreter_failed":  // her call goes on; the agent may try again or another way
        if (message.call_id === callId) { showInterpreter(null); status(A.t("console.call.interpreter_failed"), true); }
        break;
      default:
        break;
    }
  }

  A.stream(onMessage, function (state) {
    A.setText("stream-status", state === "open" ? A.t("console.events.connected") : A.t("console.events.reconnecting"));
  });
  // The presence heartbeat: the state this console shows, every few seconds. When Redis lost
  // routing's state the server puts her back as she was (available or on a break).
  function heartbeat() {
    var shown = byId("state-now").getAttribute("data-state");
    if (!shown) { return; }
    A.api("POST", "/console/api/presence", { state: shown }).then(function (data) {
      if (data.restored) { refresh(); }
    }).catch(function () { /* the next beat tries again */ });
  }
  setInterval(refresh, 10000);
  setInterval(heartbeat, 5000);
  if (config.twilio) { startTwilio(); }
  else if (config.simulator) { A.setText("softphone-status", A.t("console.softphone.simulated")); }
  else { A.setText("softphone-status", A.t("console.softphone.voice_unavailable")); }
})();
