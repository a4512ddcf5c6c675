// What both pages share: the busy state (spinner, disabled buttons), the spoken status line and
// errors explained in words, with a way forward (retry, authorize link) where there is one.

import { ApiProblem, NetworkFailure } from "./api.js";
import { ConfigError } from "./config.js";
import { externalButton, fill, h } from "./dom.js";

const HEADINGS = {
  user_not_in_audience: "You are not allowed to use GoCardless for Zoho CRM",
  gocardless_not_authorized: "GoCardless is not authorized yet",
  zoho_not_authorized: "Zoho CRM is not authorized yet",
  gocardless_account_inactive: "The GoCardless account is not active",
  currency_mismatch: "The currencies do not match",
  mandate_not_usable: "This mandate cannot be used",
  payment_not_cancellable: "This payment can no longer be cancelled",
  contact_has_no_email: "The contact has no email address",
  invoice_has_no_contact: "The invoice has no contact",
  sync_already_done: "Sync has already run",
};

const AUTHORIZE_LABELS = {
  gocardless_not_authorized: "Authorize GoCardless",
  zoho_not_authorized: "Authorize Zoho CRM",
};

function explain(error) {
  if (error instanceof NetworkFailure) {
    return {
      heading: "Could not reach the GoCardless service",
      detail: "Check your connection, then try again.",
      retry: true,
    };
  }
  if (error instanceof ConfigError) {
    return { heading: "This page cannot start", detail: error.message, retry: false };
  }
  if (error instanceof ApiProblem) {
    const { problem, status } = error;
    let heading = HEADINGS[problem.code] ?? problem.title ?? "Something went wrong";
    let hint = null;
    if (status === 401) {
      heading = "The extension's API key was not accepted";
      hint = "Ask a CRM administrator to check the GoCardless extension's settings.";
    } else if (status === 403 && !HEADINGS[problem.code]) {
      heading = "You are not allowed to do this";
    }
    return {
      heading,
      detail: problem.detail || problem.title || `The service answered HTTP ${status}.`,
      hint,
      authorize: AUTHORIZE_LABELS[problem.code]
        ? externalButton(problem.authorize_url, AUTHORIZE_LABELS[problem.code])
        : null,
      retry: status >= 500,
    };
  }
  return {
    heading: "Something went wrong",
    detail: "The page hit an unexpected problem. Try again.",
    retry: true,
  };
}

export function createUi() {
  const main = document.getElementById("main");
  const spinner = document.getElementById("spinner");
  const status = document.getElementById("status");
  const alert = document.getElementById("alert");
  let busy = false;

  function say(message) {
    status.textContent = message ?? "";
  }

  function clearError() {
    fill(alert);
    alert.hidden = true;
  }

  function showError(error, retry) {
    const { heading, detail, hint, authorize, retry: retryable } = explain(error);
    const retryButton =
      retryable && retry ? h("button", { type: "button", onclick: retry }, "Try again") : null;
    fill(
      alert,
      h(
        "div",
        { class: "problem", "data-code": error?.code || null },
        h("h2", {}, heading),
        h("p", { class: "detail" }, detail),
        hint ? h("p", {}, hint) : null,
        authorize || retryButton ? h("p", { class: "actions" }, authorize, retryButton) : null,
      ),
    );
    alert.hidden = false;
    say("");
    // The button that was pressed is disabled while busy and loses focus; land somewhere useful.
    const action = retryButton ?? authorize;
    if (action) action.focus();
    else focusHeading(alert);
  }

  /**
   * Run one call to the service: spinner on, every button and input off (so a double click
   * cannot send twice), errors explained with a retry that runs the same call again.
   */
  async function run(message, task) {
    if (busy) return;
    busy = true;
    const controls = [...document.querySelectorAll("button:enabled, input:enabled")];
    for (const control of controls) control.disabled = true;
    spinner.hidden = false;
    main.setAttribute("aria-busy", "true");
    clearError();
    say(message);
    try {
      await task();
    } catch (error) {
      showError(error, () => run(message, task));
    } finally {
      busy = false;
      for (const control of controls) if (control.isConnected) control.disabled = false;
      spinner.hidden = true;
      main.setAttribute("aria-busy", "false");
    }
  }

  return { run, say, showError, clearError };
}

/** Move focus to a freshly shown heading so keyboard and screen-reader users land on it. */
export function focusHeading(container) {
  const heading = container.querySelector("h2");
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus();
}
