/* Admins' page: clear sign-in delays, end sessions, reset a lost authenticator, deactivate or reactivate. */
(function () {
  "use strict";
  var A = window.Amparo;
  document.querySelectorAll(".admin-action").forEach(function (button) {
    button.addEventListener("click", function () {
      var question = button.getAttribute("data-confirm");
      if (question && !window.confirm(question)) { return; }
      A.api("POST", button.getAttribute("data-url"))
        .then(function () {
          A.setText("admin-status", A.t("console.saved"));
          window.setTimeout(function () { window.location.reload(); }, 600);  // fresh rows
        })
        .catch(function (error) { A.setText("admin-status", A.t("console.error.generic") + " (" + error.errorId + ")"); });
    });
  });
})();
