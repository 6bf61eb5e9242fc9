// Boots Swagger UI on the service's own OpenAPI document (openapi.json,
// next to this page). When the deployment serves the document to
// authenticated clients only (docs/settings.json says so), the page first
// asks for a bearer token, loads the document with it, and authorizes "Try
// it out" with the same token. The token stays in this page's memory.
"use strict";

(function () {
  var form = document.getElementById("token-form");
  var input = document.getElementById("token-input");
  var error = document.getElementById("token-error");

  function boot(spec, token) {
    var options = {
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      // No validator badge: it would call a server elsewhere.
      validatorUrl: null,
      tryItOutEnabled: false,
      // The x-scim-* attribute characteristics and x-limits.
      showExtensions: true,
    };
    if (spec) {
      options.spec = spec;
    } else {
      options.url = "openapi.json";
    }
    var ui = SwaggerUIBundle(options);
    if (token) {
      ui.preauthorizeApiKey("bearer", token);
    }
    window.ui = ui;
  }

  function loadWithToken(token) {
    return fetch("openapi.json", {
      headers: { Authorization: "Bearer " + token, Accept: "application/json" },
    }).then(function (r) {
      if (!r.ok) {
        throw new Error("the service answered " + r.status);
      }
      return r.json();
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var token = input.value.trim();
    loadWithToken(token).then(
      function (spec) {
        form.hidden = true;
        boot(spec, token);
      },
      function (e) {
        error.textContent = "Could not load the API description: " + e.message;
      }
    );
  });

  fetch("docs/settings.json")
    .then(function (r) {
      return r.json();
    })
    .then(function (settings) {
      if (settings.tokenRequired) {
        form.hidden = false;
        input.focus();
      } else {
        boot(null, null);
      }
    });
})();
