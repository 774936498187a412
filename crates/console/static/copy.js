// Landlord console: the "Copy" buttons. A button with data-copy="ID" copies
// the value of the input #ID, or the text of any other element #ID (an id,
// a JSON document). Without script the text stays selectable.
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
      var field = typeof input.select === "function";
      var text = field ? input.value : input.textContent;
      var fallback = field ? "Select the secret and copy it." : "Select the text and copy it.";
      if (field) {
        input.select();
      }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(
          function () { done("Copied."); },
          function () { done(fallback); }
        );
      } else {
        done(fallback);
      }
    });
  });
})();
