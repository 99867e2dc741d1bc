// "Liste des élèves transférables": as the administrator types a destination UAI, show whether it
// is valid and the name of the establishment when it is registered. A static file, not an inline
// script, so that a Content-Security-Policy without 'unsafe-inline' keeps it working; without
// JavaScript the server shows the same information after "Valider".
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-uai-lookup-url]");
  if (!form) {
    return;
  }
  var url = form.getAttribute("data-uai-lookup-url");

  function show(input, text, isError) {
    var output = document.getElementById(input.getAttribute("aria-describedby"));
    if (output) {
      output.textContent = text;
      output.classList.toggle("error", isError);
    }
  }

  function lookUp(input) {
    var value = input.value.trim();
    if (value.length < 8) {
      show(input, "", false);
      return;
    }
    fetch(url + "?uai=" + encodeURIComponent(value), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (result) {
        if (!result || input.value.trim() !== value) {
          return;
        }
        if (!result.valid) {
          show(input, result.message, true);
        } else {
          show(input, result.name || "Établissement pas encore inscrit sur cerisepro", false);
        }
      })
      .catch(function () {
        show(input, "", false);
      });
  }

  form.querySelectorAll("[data-uai-input]").forEach(function (input) {
    var timer = null;
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        lookUp(input);
      }, 250);
    });
  });
});
