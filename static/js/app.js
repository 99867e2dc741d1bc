// The school pages' behaviour. A static file, not inline handlers: the Content-Security-Policy has
// no 'unsafe-inline'. Everything here is an enhancement: without JavaScript the pages still work.

// A table wider than its box scrolls inside it: the box is made reachable with the keyboard, and
// named after the table, so that keyboard users can scroll it too (WCAG 2.1.1).
function makeScrollableTablesFocusable() {
  document.querySelectorAll(".table-wrap").forEach(function (box) {
    var scrolls = box.scrollWidth > box.clientWidth + 1;
    if (scrolls && !box.hasAttribute("tabindex")) {
      var caption = box.querySelector("caption");
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", (caption ? caption.textContent.trim() : "Tableau") + " (défilement horizontal)");
    }
  });
}

document.addEventListener("DOMContentLoaded", makeScrollableTablesFocusable);
window.addEventListener("resize", makeScrollableTablesFocusable);

// The header's "Menu" button on narrow screens. Without JavaScript the button stays hidden and the
// navigation stays open (the stylesheet only folds it once this script marks the page).
document.addEventListener("DOMContentLoaded", function () {
  var button = document.querySelector(".nav-toggle");
  var menu = document.getElementById("menu");
  if (!button || !menu) {
    return;
  }
  document.documentElement.classList.add("nav-js");
  button.hidden = false;
  button.addEventListener("click", function () {
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("open", open);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      button.setAttribute("aria-expanded", "false");
      menu.classList.remove("open");
      button.focus();
    }
  });
});
