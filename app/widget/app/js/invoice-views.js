// The invoice popup's pieces, built from the service's answers. They only draw; what a click
// does is passed in by invoice.js.

import { h, safeUrl } from "./dom.js";
import {
  formatDate,
  formatDecimal,
  formatMinorUnits,
  isCancellable,
  isRetryable,
  mandateStatus,
  paymentStatus,
  refundableAmount,
  schemeName,
} from "./format.js";

function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows
      .filter(([, value]) => value)
      .map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

export function invoiceSummary(invoice) {
  const contact = invoice.contact;
  return h(
    "section",
    { class: "card", "aria-labelledby": "invoice-title" },
    h("h2", { id: "invoice-title" }, `Invoice ${invoice.number || invoice.id}`),
    facts([
      ["Total", h("strong", {}, formatDecimal(invoice.total, invoice.currency))],
      [
        "Contact",
        contact
          ? [
              contact.name || "(no name)",
              contact.email ? h("span", { class: "muted block" }, contact.email) : null,
            ]
          : "None — choose a contact on the invoice",
      ],
    ]),
  );
}

function actionButton(label, className, onClick, payment) {
  return h(
    "button",
    { type: "button", class: className, onclick: (event) => onClick(payment, event.currentTarget) },
    label,
  );
}

// Only where the status alone does not say what happens next (a failure, a charge-back).
const EXPLAINED_STANDINGS = new Set(["retry_pending", "retryable", "charged_back"]);

export function paymentCard(payment, { onCancel, onRetry, onRecollect, onRefund } = {}) {
  const { words, tone } = paymentStatus(payment.status);
  const buttons = [
    onCancel && isCancellable(payment)
      ? actionButton("Cancel payment…", "danger", onCancel, payment)
      : null,
    onRetry && isRetryable(payment)
      ? actionButton("Retry payment", "primary", onRetry, payment)
      : null,
    onRecollect && payment.standing === "charged_back"
      ? actionButton("Collect again…", "danger", onRecollect, payment)
      : null,
    onRefund && refundableAmount(payment) > 0
      ? actionButton("Refund…", "", onRefund, payment)
      : null,
  ].filter(Boolean);
  return h(
    "article",
    { class: "payment", "data-payment-id": payment.id, "data-status": payment.status },
    h("p", { class: `badge tone-${tone}` }, words),
    EXPLAINED_STANDINGS.has(payment.standing) && payment.standing_reason
      ? h("p", { class: "standing" }, sentence(payment.standing_reason))
      : null,
    facts([
      ["Amount", formatMinorUnits(payment.amount, payment.currency)],
      [
        "Refunded",
        payment.amount_refunded ? formatMinorUnits(payment.amount_refunded, payment.currency) : null,
      ],
      ["Charge date", payment.charge_date ? formatDate(payment.charge_date) : null],
      ["Reference", payment.reference],
      ["Payment ID", h("code", {}, payment.id)],
    ]),
    buttons.length ? h("p", { class: "actions" }, buttons) : null,
  );
}

function sentence(text) {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return capital.endsWith(".") ? capital : `${capital}.`;
}

export function paymentsSection(payments, { heading = "Payments", ...actions }) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "payments-title" },
    h("h2", { id: "payments-title" }, heading),
    payments.map((payment) => paymentCard(payment, actions)),
  );
}

/** Whether this mandate can collect this invoice: it can take payments, in the same currency. */
export function canCollect(mandate, invoice) {
  return Boolean(mandate.usable) && mandate.currency === invoice.currency;
}

function whyNot(mandate, invoice) {
  if (mandate.currency !== invoice.currency)
    return `Collects ${mandate.currency} only — this invoice is in ${invoice.currency}`;
  return `${mandateStatus(mandate.status)} — cannot take payments`;
}

/** Whose account: "Jane Doe · Barclays Bank PLC ····11", so two payers can be told apart. */
function payerLine(payer) {
  if (!payer) return null;
  const ending = payer.account_number_ending ? `····${payer.account_number_ending}` : null;
  const bank = [payer.bank_name, ending].filter(Boolean).join(" ");
  const text = [payer.name, bank].filter(Boolean).join(" · ");
  return text ? h("span", { class: "payer block" }, text) : null;
}

function mandateOption(mandate, invoice, checked) {
  const id = `mandate-${mandate.id}`;
  const usable = canCollect(mandate, invoice);
  return h(
    "label",
    { class: usable ? "mandate" : "mandate unusable", for: id },
    h("input", {
      type: "radio",
      name: "mandate",
      id,
      value: mandate.id,
      disabled: !usable,
      checked,
      "data-usable": usable ? "true" : "false",
    }),
    h(
      "span",
      { class: "mandate-text" },
      h("span", { class: "mandate-main" }, `${schemeName(mandate.scheme)} · ${mandate.currency}`),
      payerLine(mandate.payer),
      h("span", { class: "muted block" }, [
        mandate.reference ? `Ref. ${mandate.reference} · ` : "",
        usable ? mandateStatus(mandate.status) : whyNot(mandate, invoice),
      ]),
    ),
  );
}

/** Radio list of the contact's mandates; Proceed only when one of them can collect the invoice. */
export function mandateForm(mandates, invoice, { onProceed, proceedLabel = "Proceed" }) {
  const usable = mandates.filter((mandate) => canCollect(mandate, invoice));
  const error = h(
    "p",
    { class: "form-error", id: "mandate-error", hidden: true },
    "Choose a mandate first.",
  );
  const form = h(
    "form",
    {
      class: "mandates",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        const chosen = form.querySelector("input[name=mandate]:checked");
        if (!chosen) {
          error.hidden = false;
          form.querySelector("input[name=mandate]:enabled")?.focus();
          return;
        }
        error.hidden = true;
        onProceed(chosen.value);
      },
    },
    h(
      "fieldset",
      { "aria-describedby": "mandate-error" },
      h("legend", {}, usable.length ? "Collect with this mandate" : "The contact's mandates"),
      mandates.map((mandate) =>
        mandateOption(mandate, invoice, usable.length === 1 && mandate === usable[0]),
      ),
    ),
    error,
    usable.length
      ? h("p", { class: "actions" }, h("button", { type: "submit", class: "primary" }, proceedLabel))
      : null,
  );
  return form;
}

/** No mandate can pay: email the contact a setup link in the invoice's currency, then look
 * again. Without an email address there is nowhere to send it: said before any click. */
export function noMandateBox(invoice, mandateRequest, { onSendLink, onCheckAgain }) {
  const contact = invoice.contact;
  const name = contact?.name || "The contact";
  const currency = invoice.currency;
  const setupUrl = safeUrl(mandateRequest?.authorisation_url);
  const noEmail = !mandateRequest && !contact?.email;
  let explanation;
  if (mandateRequest) {
    explanation = [
      h(
        "p",
        { class: "success", id: "setup-sent" },
        `Setup link emailed to ${mandateRequest.email_sent_to}.`,
      ),
      mandateRequest.expires_at
        ? h(
            "p",
            { id: "setup-expires" },
            `The link works until ${formatDate(String(mandateRequest.expires_at).slice(0, 10))}; `,
            "sending it again after that emails a new one.",
          )
        : null,
      h(
        "p",
        {},
        "Once the customer has set up the mandate, choose Check again and it appears here.",
      ),
      setupUrl
        ? h(
            "p",
            {},
            h(
              "a",
              { href: setupUrl, target: "_blank", rel: "noopener noreferrer" },
              "Open the setup page",
            ),
          )
        : null,
    ];
  } else if (noEmail) {
    explanation = h(
      "p",
      { id: "no-email" },
      `${name} has no email address in the CRM, so a setup link cannot be sent. `,
      "Add an email address to the contact, then choose Check again.",
    );
  } else {
    explanation = h(
      "p",
      {},
      `${name} has no Direct Debit mandate in ${currency}. Email them a link to set one up; `,
      "it appears here once they finish.",
    );
  }
  return h(
    "section",
    { class: "card notice", "aria-labelledby": "no-mandate-title" },
    h("h2", { id: "no-mandate-title" }, `No mandate in ${currency} yet`),
    explanation,
    h(
      "p",
      { class: "actions" },
      mandateRequest
        ? null
        : h(
            "button",
            {
              type: "button",
              class: "primary",
              onclick: onSendLink,
              disabled: noEmail,
              "aria-describedby": noEmail ? "no-email" : null,
            },
            `Send setup link (${currency})`,
          ),
      h("button", { type: "button", onclick: onCheckAgain }, "Check again"),
    ),
  );
}

/** After a payment or a cancellation: what happened, and Done. */
export function resultView(heading, payment, { onDone }) {
  return h(
    "section",
    { class: "card result", "aria-labelledby": "result-title" },
    h("h2", { id: "result-title" }, heading),
    paymentCard(payment),
    h(
      "p",
      { class: "actions" },
      h("button", { type: "button", class: "primary", onclick: onDone }, "Done"),
    ),
  );
}
