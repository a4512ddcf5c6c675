// The popup behind "Send Invoice - GoCardless" and "Cancel Payment - GoCardless".

import { createApiClient, segment } from "./api.js";
import { loadConfig } from "./config.js";
import { fill, h } from "./dom.js";
import { fitFrameToContent } from "./fit.js";
import {
  currencyExponent,
  decimalToMinorUnits,
  formatMinorUnits,
  holdsInvoice,
  isCancellable,
  minorUnitsToDecimal,
  paymentStatus,
  refundableAmount,
} from "./format.js";
import {
  canCollect,
  invoiceSummary,
  mandateForm,
  noMandateBox,
  paymentsSection,
  resultView,
} from "./invoice-views.js";
import { forgetSession, signIn, signInCard, storedSession } from "./session.js";
import { createUi, focusHeading } from "./ui.js";

const ui = createUi({ onSignIn: () => askToSignIn() });
const content = document.getElementById("content");
const dialog = document.getElementById("confirm");
const dialogTitle = document.getElementById("confirm-title");
const dialogText = document.getElementById("confirm-text");
const dialogYes = document.getElementById("confirm-yes");
const dialogNo = document.getElementById("confirm-no");
const refundDialog = document.getElementById("refund");
const refundForm = document.getElementById("refund-form");
const refundText = document.getElementById("refund-text");
const refundCurrency = document.getElementById("refund-currency");
const refundInput = document.getElementById("refund-amount");
const refundError = document.getElementById("refund-error");

let config = null;
let api = null;
let overview = null; // the last GET …/mandates answer
let mandateRequest = null; // the setup link sent in this popup, if any
let recollecting = null; // the charged-back payment the user confirmed collecting again

function invoicePath(suffix) {
  return `/api/v1/invoices/${segment(config.invoiceId)}/${suffix}`;
}

const HOLDING_NOTES = {
  holds: "This invoice already has a GoCardless payment, shown above.",
  retry_pending: "The payment above failed but may still be collected: no new payment can be made.",
  retryable: "The payment above failed. Retry it: a new payment could collect the invoice twice.",
  charged_back:
    "The customer charged the payment above back. Collect again only after speaking to them.",
};
const HOLDING_MESSAGES = {
  holds: (live) => `This invoice already has a payment: ${paymentStatus(live.status).words}.`,
  retry_pending: () => "The payment failed; GoCardless may still collect it.",
  retryable: () => "The payment failed and can be retried.",
  charged_back: () => "The payment was charged back.",
};
const PAYMENT_ACTIONS = () => ({
  onCancel: confirmCancel,
  onRetry: retryPayment,
  onRecollect: confirmRecollect,
  onRefund: askRefund,
});

function renderSendMode() {
  const { invoice, mandates = [], payments = [] } = overview;
  const held = payments.find(holdsInvoice);
  const live = recollecting && held?.id === recollecting.id ? null : held;
  const parts = [invoiceSummary(invoice)];
  let message;
  if (live) {
    parts.push(paymentsSection([live], PAYMENT_ACTIONS()));
    parts.push(h("p", { class: "card note" }, HOLDING_NOTES[live.standing]));
    message = HOLDING_MESSAGES[live.standing](live);
  } else if (mandates.some((mandate) => canCollect(mandate, invoice))) {
    const label = recollecting ? "Collect again" : "Proceed";
    parts.push(
      h(
        "section",
        { class: "card", "aria-label": "Mandates" },
        mandateForm(mandates, invoice, { onProceed: proceed, proceedLabel: label }),
      ),
    );
    message = `Choose a mandate, then ${label}.`;
  } else {
    parts.push(
      noMandateBox(invoice, mandateRequest, {
        onSendLink: sendSetupLink,
        onCheckAgain: checkAgain,
      }),
    );
    if (mandates.length)
      parts.push(
        h(
          "section",
          { class: "card", "aria-label": "Mandates" },
          mandateForm(mandates, invoice, {}),
        ),
      );
    if (mandateRequest) message = `Setup link emailed to ${mandateRequest.email_sent_to}.`;
    else if (!invoice.contact?.email)
      message = `No mandate in ${invoice.currency}, and no email address to send a setup link to.`;
    else message = `No mandate in ${invoice.currency} yet: send the contact a setup link.`;
  }
  const earlier = payments.filter((payment) => payment !== live);
  if (earlier.length) {
    parts.push(paymentsSection(earlier, { onCancel: confirmCancel, heading: "Earlier payments" }));
  }
  fill(content, parts);
  return message;
}

function renderCancelMode() {
  const { invoice, payments = [] } = overview;
  const cancellable = payments.filter(isCancellable);
  const parts = [invoiceSummary(invoice)];
  let message;
  if (!payments.length) {
    message = "This invoice has no GoCardless payment to cancel.";
    parts.push(h("p", { class: "card note" }, message));
  } else {
    // What can still be cancelled first: that is what this button was pressed for.
    const ordered = [...cancellable, ...payments.filter((payment) => !isCancellable(payment))];
    parts.push(paymentsSection(ordered, { onCancel: confirmCancel }));
    if (cancellable.length) {
      message =
        cancellable.length === 1
          ? "This payment can be cancelled."
          : `${cancellable.length} payments can be cancelled.`;
    } else {
      message = "No payment can be cancelled now.";
      parts.push(
        h(
          "p",
          { class: "card note" },
          "GoCardless lets a payment be cancelled only while it is scheduled and not yet sent to the bank.",
        ),
      );
    }
  }
  fill(content, parts);
  content.querySelector(".payment button.danger")?.focus();
  return message;
}

async function loadInvoice() {
  const { body } = await api.get(invoicePath("mandates"));
  overview = body;
  ui.say(config.mode === "cancel" ? renderCancelMode() : renderSendMode());
}

function reload() {
  return ui.run("Loading the invoice…", loadInvoice);
}

function checkAgain() {
  return ui.run("Checking for a new mandate…", async () => {
    await loadInvoice();
    const choice = content.querySelector("input[name=mandate]:enabled");
    if (choice) choice.focus();
    else focusHeading(content.querySelector(".notice") ?? content);
  });
}

function showResult(heading, payment, message) {
  fill(content, invoiceSummary(overview.invoice), resultView(heading, payment, { onDone: done }));
  ui.say(message);
  focusHeading(content.querySelector(".result"));
}

function proceed(mandateId) {
  return ui.run("Creating the payment…", async () => {
    const request = { mandate_id: mandateId };
    if (recollecting) request.recollect_charged_back = true;
    const { status, body } = await api.post(invoicePath("payments"), request);
    recollecting = null;
    // 200 means the invoice already had a live payment: the service returned it, made none.
    const created = status === 201;
    const { words } = paymentStatus(body.payment.status);
    showResult(
      created ? "Payment created" : "This invoice already had a payment",
      body.payment,
      created
        ? `Payment created: ${words}.`
        : `No new payment was made; the existing one is shown: ${words}.`,
    );
  });
}

function sendSetupLink() {
  return ui.run("Emailing the setup link…", async () => {
    const { body } = await api.post(invoicePath("mandate-requests"));
    mandateRequest = body.mandate_request;
    ui.say(renderSendMode());
    focusHeading(content.querySelector(".notice"));
  });
}

function confirm({ title, text, yes, no }, onYes, opener) {
  dialogTitle.textContent = title;
  dialogText.textContent = text;
  dialogYes.textContent = yes;
  dialogNo.textContent = no;
  dialog.returnValue = "";
  dialog.addEventListener(
    "close",
    () => {
      if (dialog.returnValue === "yes") onYes();
      else opener.focus();
    },
    { once: true },
  );
  dialog.showModal();
}

function confirmCancel(payment, opener) {
  confirm(
    {
      title: "Cancel this payment?",
      text:
        `Cancel the payment of ${formatMinorUnits(payment.amount, payment.currency)}? ` +
        "Nothing will be collected from the customer.",
      yes: "Yes, cancel it",
      no: "No, keep it",
    },
    () => cancelPayment(payment),
    opener,
  );
}

function confirmRecollect(payment, opener) {
  const amount = formatMinorUnits(payment.amount, payment.currency);
  confirm(
    {
      title: "Collect this invoice again?",
      text:
        `The customer's bank returned the ${amount} collected for this invoice because the ` +
        "customer disputed the Direct Debit (a charge-back). Collecting again takes the money " +
        "a second time from someone who refused it: do it only after speaking to the customer, " +
        "or the same dispute may follow.",
      yes: "Yes, collect again",
      no: "No, leave it",
    },
    () => {
      recollecting = payment;
      ui.say(renderSendMode());
      content.querySelector("input[name=mandate]:enabled")?.focus();
    },
    opener,
  );
}

function retryPayment(payment) {
  return ui.run("Retrying the payment…", async () => {
    const { body } = await api.post(`/api/v1/payments/${segment(payment.id)}/retry`);
    showResult(
      "Payment retried",
      body.payment,
      `Payment retried: ${paymentStatus(body.payment.status).words}.`,
    );
  });
}

let refunding = null; // the payment the refund dialog is open for

refundForm.addEventListener("submit", (event) => {
  if (event.submitter?.value !== "yes" || !refunding) return;
  const left = refundableAmount(refunding);
  const amount = decimalToMinorUnits(refundInput.value, refunding.currency);
  let problem = null;
  if (amount === null || amount <= 0) problem = "Enter an amount, such as 25.00.";
  else if (amount > left)
    problem = `At most ${formatMinorUnits(left, refunding.currency)} is left to refund.`;
  if (problem) {
    event.preventDefault();
    refundError.textContent = problem;
    refundError.hidden = false;
    refundInput.setAttribute("aria-invalid", "true");
    refundInput.focus();
    return;
  }
  refundInput.dataset.minorUnits = String(amount);
});

refundInput.addEventListener("input", () => {
  refundError.hidden = true;
  refundInput.removeAttribute("aria-invalid");
});

function askRefund(payment, opener) {
  const left = refundableAmount(payment);
  refunding = payment;
  refundText.textContent =
    `${formatMinorUnits(left, payment.currency)} of the ` +
    `${formatMinorUnits(payment.amount, payment.currency)} collected can be given back. ` +
    "GoCardless sends the refund to the customer's bank account; it cannot be undone.";
  refundCurrency.textContent = payment.currency;
  refundInput.value = minorUnitsToDecimal(left, currencyExponent(payment.currency));
  refundInput.removeAttribute("aria-invalid");
  delete refundInput.dataset.minorUnits;
  refundError.hidden = true;
  refundDialog.returnValue = "";
  refundDialog.addEventListener(
    "close",
    () => {
      const amount = Number(refundInput.dataset.minorUnits);
      refunding = null;
      if (refundDialog.returnValue === "yes" && amount > 0) refundPayment(payment, amount);
      else opener.focus();
    },
    { once: true },
  );
  refundDialog.showModal();
  refundInput.select();
}

function refundPayment(payment, amount) {
  return ui.run("Refunding…", async () => {
    const { status, body } = await api.post(`/api/v1/payments/${segment(payment.id)}/refunds`, {
      amount,
    });
    const words = formatMinorUnits(body.refund.amount, payment.currency);
    await loadInvoice();
    // 200: the same refund was asked for a moment ago; the service gave back nothing more.
    ui.say(
      status === 201
        ? `Refund of ${words} made: GoCardless sends it to the customer.`
        : `That refund of ${words} was already made; nothing more was refunded.`,
    );
    focusHeading(content.querySelector("[aria-labelledby=payments-title]") ?? content);
  });
}

function cancelPayment(payment) {
  return ui.run("Cancelling the payment…", async () => {
    const { body } = await api.post(`/api/v1/payments/${segment(payment.id)}/cancel`);
    showResult(
      "Payment cancelled",
      body.payment,
      `Payment cancelled: ${paymentStatus(body.payment.status).words}.`,
    );
  });
}

function done() {
  // Inside CRM, close the popup and reload the invoice so its fields show the new state.
  if (config.zoho) config.zoho.CRM.UI.Popup.closeReload();
  else reload();
}

function connect(session) {
  api = createApiClient({
    apiBase: config.apiBase,
    session,
    onUnauthenticated: () => forgetSession(config),
  });
}

function askToSignIn(message) {
  ui.clearError();
  fill(
    content,
    signInCard(message, () =>
      ui.run("Signing in with Zoho…", async () => {
        connect(await signIn(config));
        await loadInvoice();
      }),
    ),
  );
  ui.say("Sign in with Zoho to continue.");
  focusHeading(content);
}

async function start() {
  fitFrameToContent();
  await ui.run("Connecting…", async () => {
    config = await loadConfig({ needsInvoice: true });
  });
  if (!config) return;
  const session = storedSession(config);
  if (!session) return askToSignIn();
  connect(session);
  await reload();
}

start();
