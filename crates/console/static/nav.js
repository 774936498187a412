// The header's menus (the sidebar on a phone, the organization switcher,
// the account menu) are <details>: they work without this script. With it,
// a click elsewhere or Escape closes an open one, as menus do.
(function () {
  "use strict";
  var menus = function () {
    return document.querySelectorAll("header.top details[open]");
  };
  document.addEventListener("click", function (event) {
    menus().forEach(function (menu) {
      if (!menu.contains(event.target)) {
        menu.open = false;
      }
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    menus().forEach(function (menu) {
      var hadFocus = menu.contains(document.activeElement);
      menu.open = false;
      if (hadFocus) {
        menu.querySelector("summary").focus();
      }
    });
  });
})();
