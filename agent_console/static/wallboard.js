/* The wallboard re-reads its server-rendered board when the event stream says something moved,
   and every few seconds for the clocks. */
(function () {
  "use strict";
  var A = window.Amparo;
  var board = document.getElementById("board");
  var pending = null;
  var loading = false;

  function reload() {
    if (loading) { schedule(); return; }
    loading = true;
    fetch("/supervisor/board", { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected) { window.location.reload(); }  // sent to sign in: leave the board
        if (!response.ok || response.redirected) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        var focus = focusedControl();
        board.innerHTML = html;  // our own server-rendered, escaped fragment
        localTimes();
        restoreFocus(focus);
        announceNewEscalations();
      })
      .catch(function () { /* next tick tries again */ })
      .finally(function () { loading = false; });
  }

  // A redraw keeps the keyboard where it was: the same button of the same call, if still there.
  // Alert times come in UTC; the supervisor reads them in her own clock.
  function localTimes() {
    board.querySelectorAll("time.local").forEach(function (node) {
      var when = new Date(node.getAttribute("datetime"));
      if (!isNaN(when)) { node.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }
    });
  }
  localTimes();

  // After "leave" (its button is gone) the keyboard lands on the same call's first mode.
  function focusedControl() {
    var node = document.activeElement;
    if (!node || !board.contains(node) || !node.matches("button[data-call]")) { return null; }
    var call = '[data-call="' + CSS.escape(node.getAttribute("data-call")) + '"]';
    return [call + '[data-mode="' + CSS.escape(node.getAttribute("data-mode") || "") + '"]', call];
  }
  function restoreFocus(selectors) {
    if (!selectors) { return; }
    var again = board.querySelector("button" + selectors[0]) || board.querySelector("button" + selectors[1]);
    if (again) { again.focus(); }
  }

  // The board itself is not a live region (it is redrawn every few seconds); an escalation
  // that starts ringing is announced once, by what it is about.
  var seen = null;
  function announceNewEscalations() {
    var rows = board.querySelectorAll("#escalations tr.escalation[data-open]");
    var now = {};
    var fresh = [];
    rows.forEach(function (row) {
      var id = row.getAttribute("data-escalation");
      now[id] = true;
      if (seen && !seen[id]) { fresh.push(row.cells[0].textContent.trim()); }
    });
    seen = now;
    if (fresh.length) {
      A.setText("board-announcer", A.t("console.escalation.ringing") + ": " + fresh.join("; "));
    }
  }
  announceNewEscalations();

  function schedule() {
    if (pending) { return; }
    pending = setTimeout(function () { pending = null; reload(); }, 100);
  }

  board.addEventListener("click", function (event) {
    var button = event.target.closest("button.supervise");
    if (!button) { return; }
    var call = button.getAttribute("data-call"), mode = button.getAttribute("data-mode");
    var path = "/supervisor/api/calls/" + encodeURIComponent(call) + (mode === "leave" ? "/leave" : "/supervise");
    A.api("POST", path, mode === "leave" ? {} : { mode: mode })
      .then(function () { A.setText("supervise-status", button.textContent + " ✓"); schedule(); })
      .catch(function (error) { A.setText("supervise-status", A.t("console.error.generic") + " (" + error.errorId + ")"); });
  });

  A.stream(function () { schedule(); }, function (state) {
    A.setText("stream-status", state === "open" ? A.t("console.events.connected") : A.t("console.events.reconnecting"));
    if (state === "open") { schedule(); }
  });
  setInterval(schedule, 5000);
})();
