/* idgraph web UI: the only script besides htmx (no inline scripts: CSP script-src 'self'). */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request carries the session's CSRF token (X-CSRF-Token header).
  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });

  // A server error during an htmx swap: say so in the live region instead of failing silently.
  document.addEventListener("htmx:responseError", function (event) {
    var region = document.getElementById("live-status");
    if (region) {
      region.textContent = "The request failed (" + event.detail.xhr.status + "). Reload the page.";
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) {
      return;
    }
    if (target.closest("[data-print]")) {
      window.print();
      return;
    }
    var confirmer = target.closest("[data-confirm]");
    if (confirmer && !window.confirm(confirmer.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
})();
