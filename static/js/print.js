// The printable passport's "Imprimer" button. A static file, not an inline handler, so that a
// Content-Security-Policy without 'unsafe-inline' keeps it working. The button is hidden until
// this script runs: without JavaScript, the browser's own Print command still works.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
});
