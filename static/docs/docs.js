// The API reference page: Swagger UI over this server's OpenAPI document.
// No inline script (the page's Content-Security-Policy allows only this server's files).
"use strict";

// The web UI keeps the signed-in key for this tab under this name (session storage only).
const KEY_NAME = "micropim.key";
// How long to wait for the web UI tab that opened this one to hand its key over.
const ASK_MS = 3000;

function storedKey() {
  try {
    return window.sessionStorage.getItem(KEY_NAME);
  } catch (error) {
    return null; // storage disabled: the user can still use "Authorize"
  }
}

function keepKey(key) {
  try {
    window.sessionStorage.setItem(KEY_NAME, key); // a reload of this tab keeps it
  } catch (error) {
    // storage disabled: the key is used for this page only
  }
}

function showKeyNote(text) {
  const note = document.getElementById("key-note");
  note.textContent = text;
  note.hidden = false;
}

// The web UI opens this page with window.open (static/ui/js/app.js). A new tab has a
// session storage of its own, so the key is asked for by message from the tab that
// opened this one; only an answer from that tab, on this origin, is taken.
const opener = window.opener;
let received = null;
let asking = false;
let swagger = null; // Swagger UI, once it has loaded the document

function settle() {
  if (!swagger) return;
  const key = received || storedKey();
  if (key) {
    // "Try it out" sends the key the web UI signed in with.
    swagger.preauthorizeApiKey("ApiKey", key);
    showKeyNote("Using the API key of your web UI session for \u201cTry it out\u201d.");
  } else if (!asking) {
    showKeyNote("To try requests, press \u201cAuthorize\u201d and paste an API key " +
                "(micropim create-key --org NAME prints one), or sign in to the web UI first.");
  }
}

if (!storedKey() && opener && opener !== window) {
  asking = true;
  window.addEventListener("message", (event) => {
    if (event.origin !== window.location.origin || event.source !== opener) return;
    const data = event.data;
    if (!data || data.type !== "micropim:key" || typeof data.key !== "string" || !data.key) return;
    received = data.key;
    keepKey(received);
    asking = false;
    settle();
  });
  try {
    opener.postMessage({ type: "micropim:key-request" }, window.location.origin);
  } catch (error) {
    asking = false; // the opener is gone or elsewhere
  }
  window.setTimeout(() => {
    asking = false;
    settle();
  }, ASK_MS);
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
      swagger = ui;
      settle();
    },
  });
  window.micropimDocs = ui;
});
