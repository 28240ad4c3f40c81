/* Admins' page: clear sign-in delays, end sessions, reset a lost authenticator, deactivate or reactivate. */
(function () {
  "use strict";
  var A = window.Amparo;
  document.querySelectorAll(".admin-action").forEach(function (button) {
    button.addEventListener("click", function () {
      A.api("POST", button.getAttribute("data-url"))
        .then(function () { A.setText("admin-status", A.t("console.saved")); })
        .catch(function (error) { A.setText("admin-status", A.t("console.error.generic") + " (" + error.errorId + ")"); });
    });
  });
})();
