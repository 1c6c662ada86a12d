// The API reference page: Swagger UI over this server's OpenAPI document.
// No inline script (the page's Content-Security-Policy allows only this server's files).
"use strict";

// The web UI keeps the signed-in key for this tab under this name (session storage only).
const KEY_NAME = "micropim.key";

function storedKey() {
  try {
    return window.sessionStorage.getItem(KEY_NAME);
  } catch (error) {
    return null; // storage disabled: the user can still use "Authorize"
  }
}

function showKeyNote(text) {
  const note = document.getElementById("key-note");
  note.textContent = text;
  note.hidden = false;
}

window.addEventListener("DOMContentLoaded", () => {
  const ui = window.SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // never ask another host to validate the document
    displayRequestDuration: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    filter: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    onComplete: () => {
      const key = storedKey();
      if (key) {
        // "Try it out" sends the key the web UI signed in with.
        ui.preauthorizeApiKey("ApiKey", key);
        showKeyNote("Using the API key of your web UI session for \u201cTry it out\u201d.");
      } else {
        showKeyNote("To try requests, press \u201cAuthorize\u201d and paste an API key " +
                    "(micropim create-key --org NAME prints one), or sign in to the web UI first.");
      }
    },
  });
  window.micropimDocs = ui;
});
