// The invoice popup's pieces, built from the service's answers. They only draw; what a click
// does is passed in by invoice.js.

import { h, safeUrl } from "./dom.js";
import {
  formatDate,
  formatDecimal,
  formatMinorUnits,
  isCancellable,
  mandateStatus,
  paymentStatus,
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

export function paymentCard(payment, { onCancel } = {}) {
  const { words, tone } = paymentStatus(payment.status);
  const cancellable = onCancel && isCancellable(payment);
  return h(
    "article",
    { class: "payment", "data-payment-id": payment.id, "data-status": payment.status },
    h("p", { class: `badge tone-${tone}` }, words),
    facts([
      ["Amount", formatMinorUnits(payment.amount, payment.currency)],
      ["Charge date", payment.charge_date ? formatDate(payment.charge_date) : null],
      ["Reference", payment.reference],
      ["Payment ID", h("code", {}, payment.id)],
    ]),
    cancellable
      ? h(
          "p",
          { class: "actions" },
          h(
            "button",
            {
              type: "button",
              class: "danger",
              onclick: (event) => onCancel(payment, event.currentTarget),
            },
            "Cancel payment…",
          ),
        )
      : null,
  );
}

export function paymentsSection(payments, { onCancel, heading = "Payments" }) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "payments-title" },
    h("h2", { id: "payments-title" }, heading),
    payments.map((payment) => paymentCard(payment, { onCancel })),
  );
}

function mandateOption(mandate, checked) {
  const id = `mandate-${mandate.id}`;
  const state = mandate.usable
    ? mandateStatus(mandate.status)
    : `${mandateStatus(mandate.status)} — cannot be used`;
  return h(
    "label",
    { class: mandate.usable ? "mandate" : "mandate unusable", for: id },
    h("input", {
      type: "radio",
      name: "mandate",
      id,
      value: mandate.id,
      disabled: !mandate.usable,
      checked,
      "data-usable": mandate.usable ? "true" : "false",
    }),
    h(
      "span",
      { class: "mandate-text" },
      h("span", { class: "mandate-main" }, `${schemeName(mandate.scheme)} · ${mandate.currency}`),
      h("span", { class: "muted block" }, [
        mandate.reference ? `Ref. ${mandate.reference} · ` : "",
        state,
      ]),
    ),
  );
}

/** Radio list of the contact's mandates; Proceed only when one of them can be used. */
export function mandateForm(mandates, { onProceed }) {
  const usable = mandates.filter((mandate) => mandate.usable);
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
        mandateOption(mandate, usable.length === 1 && mandate === usable[0]),
      ),
    ),
    error,
    usable.length
      ? h("p", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Proceed"))
      : null,
  );
  return form;
}

/** No mandate can pay: email the contact a setup link, then look again. */
export function noMandateBox(contact, mandateRequest, { onSendLink, onCheckAgain }) {
  const name = contact?.name || "The contact";
  const setupUrl = safeUrl(mandateRequest?.authorisation_url);
  return h(
    "section",
    { class: "card notice", "aria-labelledby": "no-mandate-title" },
    h("h2", { id: "no-mandate-title" }, "No usable mandate"),
    mandateRequest
      ? [
          h(
            "p",
            { class: "success", id: "setup-sent" },
            `No mandate yet — setup link emailed to ${mandateRequest.email_sent_to}.`,
          ),
          h("p", {}, "Once the customer completes it, choose Check again to see the new mandate."),
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
        ]
      : h(
          "p",
          {},
          `${name} has no Direct Debit mandate that can pay this invoice. Email them a link to set one up; `,
          "it appears here once they finish.",
        ),
    h(
      "p",
      { class: "actions" },
      mandateRequest
        ? null
        : h("button", { type: "button", class: "primary", onclick: onSendLink }, "Send setup link"),
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
