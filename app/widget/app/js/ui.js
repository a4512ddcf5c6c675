// What both pages share: the busy state (spinner, disabled buttons), the spoken status line and
// errors explained in words, with a way forward (retry, authorize link) where there is one.

import { ApiProblem, NetworkFailure } from "./api.js";
import { ConfigError } from "./config.js";
import { SignInFailed } from "./session.js";
import { externalButton, fill, h } from "./dom.js";

// What each refusal means for the person in front of the widget, and what to do next. The
// service's own `detail` is written for integrators; it is shown only for codes not listed here
// and where it carries the reason itself (a refused cancel names the payment's status).
const MESSAGES = {
  user_not_in_audience: {
    heading: "You are not allowed to use GoCardless for Zoho CRM",
    detail: "Your CRM administrator chooses who may use it. Ask them to add your profile.",
  },
  admin_required: {
    heading: "Only a CRM administrator can do this",
    detail: "Ask a user with the CRM's Administrator profile to change these settings.",
  },
  too_many_requests: {
    heading: "Please wait before trying again",
    useDetail: true,
  },
  gocardless_not_authorized: {
    heading: "GoCardless is not connected yet",
    detail:
      "A CRM administrator needs to connect the GoCardless account that collects your payments. " +
      "Once that is done, try again.",
  },
  zoho_not_authorized: {
    heading: "Zoho CRM is not connected yet",
    detail:
      "A CRM administrator needs to let the extension read this CRM's invoices and contacts. " +
      "Once that is done, try again.",
  },
  gocardless_account_inactive: {
    heading: "The GoCardless account cannot collect payments yet",
    useDetail: true,
    hint: "Finish the steps GoCardless asks for in its dashboard, then try again.",
  },
  currency_mismatch: {
    heading: "This mandate collects another currency",
    detail:
      "An invoice can only be collected from a mandate in its own currency. Email the customer " +
      "a link to set up a mandate in the invoice's currency instead.",
  },
  mandate_not_usable: {
    heading: "This mandate can no longer collect payments",
    detail:
      "It may have been cancelled or have expired. Choose another mandate, or email the " +
      "customer a link to set up a new one.",
  },
  payment_not_cancellable: {
    heading: "This payment can no longer be cancelled",
    useDetail: true,
  },
  contact_has_no_email: {
    heading: "The contact has no email address",
    detail: "Add an email address to the contact in the CRM, then open this invoice again.",
  },
  invoice_has_no_contact: {
    heading: "This invoice has no contact",
    detail:
      "GoCardless collects from a contact's bank account. Choose a contact on the invoice, " +
      "save it, then open Send Invoice again.",
  },
  sync_already_done: {
    heading: "Sync Now has already run",
    detail: "New and changed GoCardless customers and payments reach the CRM by themselves.",
  },
  sync_not_done: {
    heading: "Run Sync Now first",
    useDetail: true,
  },
  payment_not_retryable: {
    heading: "This payment cannot be retried",
    useDetail: true,
  },
  payment_retry_possible: {
    heading: "The invoice's failed payment may still be collected",
    useDetail: true,
  },
  payment_charged_back: {
    heading: "The invoice's payment was charged back",
    useDetail: true,
  },
  payment_not_refundable: {
    heading: "This payment cannot be refunded",
    useDetail: true,
  },
  refund_exceeds_payment: {
    heading: "That is more than is left to refund",
    useDetail: true,
  },
  refunds_not_enabled: {
    heading: "Refunds are not switched on at GoCardless",
    detail:
      "GoCardless enables refunds for an account on request. Ask the account's owner to " +
      "contact GoCardless, then try again.",
  },
  refund_conflict: {
    heading: "Another refund of this payment came first",
    useDetail: true,
  },
  provider_unavailable: {
    heading: "GoCardless or Zoho CRM is not answering",
    detail: "Nothing was changed. Wait a minute, then try again.",
  },
  unauthenticated: {
    heading: "GoCardless could not confirm who you are",
    detail:
      "Close this window and open it again from the CRM. If this keeps happening, ask your CRM " +
      "administrator to check the GoCardless extension's settings.",
  },
};

const AUTHORIZE_LABELS = {
  gocardless_not_authorized: "Authorize GoCardless",
  zoho_not_authorized: "Authorize Zoho CRM",
};

/** The service's details are lower-case clauses; shown to a person they read as a sentence. */
function sentence(text) {
  const trimmed = String(text).trim();
  if (!trimmed) return trimmed;
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

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
  if (error instanceof SignInFailed) {
    return { heading: "You are not signed in", detail: error.message, signIn: true };
  }
  if (error instanceof ApiProblem) {
    const { problem, status } = error;
    if (status === 401) {
      return {
        heading: "Please sign in again",
        detail: sentence(problem.detail || "Your sign-in has ended."),
        signIn: true,
      };
    }
    const known = MESSAGES[problem.code] ?? (status === 401 ? MESSAGES.unauthenticated : null);
    const serverSays = problem.detail || problem.title || `The service answered HTTP ${status}.`;
    let heading = known?.heading ?? problem.title ?? "Something went wrong";
    if (!known && status === 403) heading = "You are not allowed to do this";
    return {
      heading,
      detail: !known || known.useDetail ? sentence(serverSays) : known.detail,
      hint: known?.hint ?? null,
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

/** `onSignIn`: what the "Sign in with Zoho" button of a 401 or a failed sign-in does. */
export function createUi({ onSignIn } = {}) {
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
    const { heading, detail, hint, authorize, retry: retryable, signIn } = explain(error);
    const retryButton =
      retryable && retry ? h("button", { type: "button", onclick: retry }, "Try again") : null;
    const signInButton =
      signIn && onSignIn
        ? h("button", { type: "button", class: "primary", onclick: onSignIn }, "Sign in with Zoho")
        : null;
    fill(
      alert,
      h(
        "div",
        { class: "problem", "data-code": error?.code || null },
        h("h2", {}, heading),
        h("p", { class: "detail" }, detail),
        hint ? h("p", {}, hint) : null,
        authorize || retryButton || signInButton
          ? h("p", { class: "actions" }, authorize, retryButton, signInButton)
          : null,
      ),
    );
    alert.hidden = false;
    say("");
    // The button that was pressed is disabled while busy and loses focus; land somewhere useful.
    const action = signInButton ?? retryButton ?? authorize;
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
