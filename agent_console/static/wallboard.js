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
        restoreFocus(focus);
        announceNewEscalations();
      })
      .catch(function () { /* next tick tries again */ })
      .finally(function () { loading = false; });
  }

  // A redraw keeps the keyboard where it was: the same button of the same call, if still there.
  function focusedControl() {
    var node = document.activeElement;
    if (!node || !board.contains(node) || !node.matches("button[data-call]")) { return null; }
    return '[data-call="' + CSS.escape(node.getAttribute("data-call")) + '"][data-mode="' +
      CSS.escape(node.getAttribute("data-mode") || "") + '"]';
  }
  function restoreFocus(selector) {
    if (!selector) { return; }
    var again = board.querySelector("button" + selector);
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
    A.api("POST", "/supervisor/api/calls/" + encodeURIComponent(call) + "/supervise", { mode: mode })
      .then(function () { A.setText("supervise-status", button.textContent + " ✓"); })
      .catch(function (error) { A.setText("supervise-status", A.t("console.error.generic") + " (" + error.errorId + ")"); });
  });

  A.stream(function () { schedule(); }, function (state) {
    A.setText("stream-status", state === "open" ? A.t("console.events.connected") : A.t("console.events.reconnecting"));
    if (state === "open") { schedule(); }
  });
  setInterval(schedule, 5000);
})();
