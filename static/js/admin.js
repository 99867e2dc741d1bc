// Accessibility fixes to widgets that Django's admin builds in JavaScript. A static file: the
// Content-Security-Policy has no 'unsafe-inline'.
// The "filter" icons of a horizontal selector (groups, permissions) carry an aria-label, which is
// only allowed on an element with a role: they are images of their help text.
window.addEventListener("load", function () {
  document.querySelectorAll(".help-tooltip[aria-label]:not([role])").forEach(function (icon) {
    icon.setAttribute("role", "img");
  });
});
