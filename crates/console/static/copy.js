// Landlord console: the "Copy" buttons. A button with data-copy="ID" copies
// the value of the input #ID. Without script the input stays selectable.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) {
      return;
    }
    var status = button.parentNode.querySelector(".copied");
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function (message) {
        if (status) {
          status.textContent = message;
        }
      };
      input.select();
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(input.value).then(
          function () { done("Copied."); },
          function () { done("Select the secret and copy it."); }
        );
      } else {
        done("Select the secret and copy it.");
      }
    });
  });
})();
