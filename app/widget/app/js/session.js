// Widget sign-in. The page never holds the API key: the CRM user proves who they are on Zoho's
// consent page (a popup), and the service posts back a session (signed, expiring, bound to
// this org's installation and this user). It is kept for this tab only (sessionStorage) and
// sent as the bearer token; when the service refuses it (401), the user signs in again.

import { h } from "./dom.js";

const STORE_PREFIX = "gocardless-zoho-session:";
const POPUP_NAME = "gocardless-zoho-signin";
const POPUP_FEATURES = "popup,width=520,height=680";
// A session this close to its end is not worth starting a task with.
const EXPIRY_MARGIN_MS = 60_000;
// The popup closes itself right after posting; give its message time to arrive.
const CLOSED_GRACE_MS = 800;

/** Sign-in did not finish: blocked popup, closed window. */
export class SignInFailed extends Error {}

function storeKey(config) {
  return `${STORE_PREFIX}${config.apiBase}|${config.orgId}`;
}

function usable(session) {
  return (
    session &&
    typeof session.token === "string" &&
    session.token &&
    Date.parse(session.expires_at) - EXPIRY_MARGIN_MS > Date.now()
  );
}

/** The session signed in earlier in this tab, if it is still good. */
export function storedSession(config) {
  try {
    const session = JSON.parse(sessionStorage.getItem(storeKey(config)) ?? "null");
    return usable(session) ? session : null;
  } catch {
    return null;
  }
}

export function forgetSession(config) {
  try {
    sessionStorage.removeItem(storeKey(config));
  } catch {
    // Storage may be unavailable (privacy settings); the session only lived in memory then.
  }
}

function keep(config, session) {
  try {
    sessionStorage.setItem(storeKey(config), JSON.stringify(session));
  } catch {
    // As above: without storage the user signs in again next time.
  }
}

export function signInUrl(config) {
  const query = new URLSearchParams({ org: config.orgId, origin: location.origin });
  return `${config.apiBase}/oauth/zoho/signin?${query}`;
}

/** Open Zoho's consent in a popup; resolves with the session the service posts back. */
export function signIn(config) {
  const serviceOrigin = new URL(config.apiBase).origin;
  const popup = window.open(signInUrl(config), POPUP_NAME, POPUP_FEATURES);
  if (!popup) {
    return Promise.reject(
      new SignInFailed("The sign-in window was blocked. Allow pop-ups for this page, then try again."),
    );
  }
  return new Promise((resolve, reject) => {
    let done = false;
    const watch = setInterval(() => {
      if (!popup.closed) return;
      clearInterval(watch);
      setTimeout(() => {
        if (done) return;
        finish();
        reject(new SignInFailed("The sign-in window was closed before you signed in."));
      }, CLOSED_GRACE_MS);
    }, 400);
    function finish() {
      done = true;
      clearInterval(watch);
      window.removeEventListener("message", onMessage);
    }
    function onMessage(event) {
      // Only the service's own sign-in page may hand us a session.
      if (event.origin !== serviceOrigin || event.source !== popup) return;
      const session = event.data;
      if (!usable(session) || typeof session.installation_id !== "string") return;
      finish();
      keep(config, session);
      resolve(session);
    }
    window.addEventListener("message", onMessage);
  });
}

/** The card that asks the user to sign in; `onSignIn` runs when they press the button. */
export function signInCard(message, onSignIn) {
  return h(
    "section",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h2", { id: "signin-title" }, "Sign in with Zoho"),
    h(
      "p",
      {},
      message ??
        "GoCardless for Zoho CRM needs to know who you are. Sign in with your Zoho CRM account in the window that opens.",
    ),
    h(
      "p",
      { class: "actions" },
      h("button", { type: "button", class: "primary", onclick: onSignIn }, "Sign in with Zoho"),
    ),
  );
}
