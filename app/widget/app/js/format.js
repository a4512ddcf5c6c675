// Money, dates and GoCardless statuses in words a CRM user understands.
//
// Money never goes through floating point: amounts arrive as integer minor units, are turned
// into an exact decimal string by integer/string work, and Intl.NumberFormat formats that string
// (it treats a numeric string as an exact decimal).

const DECIMAL = /^-?\d+(\.\d+)?$/;

function currencyFormatter(currency) {
  return new Intl.NumberFormat(undefined, { style: "currency", currency });
}

/** Digits after the decimal point for a currency (GBP 2, JPY 0, …). */
export function currencyExponent(currency) {
  return currencyFormatter(currency).resolvedOptions().maximumFractionDigits;
}

/** 12050, 2 → "120.50"; -5, 2 → "-0.05"; 500, 0 → "500". */
export function minorUnitsToDecimal(amount, exponent) {
  if (!Number.isSafeInteger(amount)) throw new RangeError(`not an integer amount: ${amount}`);
  const sign = amount < 0 ? "-" : "";
  const digits = String(Math.abs(amount));
  if (exponent === 0) return sign + digits;
  const padded = digits.padStart(exponent + 1, "0");
  return `${sign}${padded.slice(0, -exponent)}.${padded.slice(-exponent)}`;
}

/** "120.5", GBP → 12050: what a person typed, as exact minor units; null when it is not an
 * amount in that currency (letters, a sign, more decimals than the currency has). */
export function decimalToMinorUnits(text, currency) {
  const exponent = currencyExponent(currency);
  const match = /^(\d+)(?:\.(\d*))?$/.exec(String(text).trim().replace(/,/g, ""));
  if (!match) return null;
  const [, whole, fraction = ""] = match;
  if (fraction.length > exponent) return null;
  const minor = Number(whole + fraction.padEnd(exponent, "0"));
  return Number.isSafeInteger(minor) ? minor : null;
}

/** An amount in minor units with its currency, e.g. 12050 GBP → "£120.50". */
export function formatMinorUnits(amount, currency) {
  try {
    return currencyFormatter(currency).format(
      minorUnitsToDecimal(amount, currencyExponent(currency)),
    );
  } catch {
    return `${amount} (minor units) ${currency ?? ""}`.trim();
  }
}

/** A decimal string with its currency, e.g. "120.50" EUR → "€120.50". */
export function formatDecimal(value, currency) {
  const text = String(value ?? "");
  if (!DECIMAL.test(text)) return `${text} ${currency ?? ""}`.trim();
  try {
    return currencyFormatter(currency).format(text);
  } catch {
    return `${text} ${currency ?? ""}`.trim();
  }
}

/** "2024-05-01" → "1 May 2024" in the user's locale, without a time-zone shift. */
export function formatDate(isoDate) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(isoDate ?? "");
  if (!match) return isoDate ?? "";
  const date = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return date.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
}

function humanize(code) {
  const text = String(code ?? "unknown").replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// tone drives the badge colour: done, waiting, stopped, problem.
const PAYMENT_STATUSES = {
  pending_customer_approval: ["Waiting for the customer to approve it", "waiting"],
  pending_submission: ["Scheduled — not yet sent to the bank", "waiting"],
  submitted: ["Submitted to the customer's bank", "waiting"],
  confirmed: ["Collected — confirmed by the bank", "done"],
  paid_out: ["Paid out to your bank account", "done"],
  cancelled: ["Cancelled — nothing will be collected", "stopped"],
  customer_approval_denied: ["The customer refused to approve it", "problem"],
  failed: ["Failed — the bank could not collect it", "problem"],
  charged_back: ["Charged back — the customer's bank returned the money", "problem"],
};

export function paymentStatus(status) {
  const [words, tone] = PAYMENT_STATUSES[status] ?? [humanize(status), "waiting"];
  return { words, tone };
}

// The service says what each of the invoice's payments still means (`standing`): one rule,
// the service's, so the page never offers a second payment the service would refuse.
const HOLDING_STANDINGS = new Set(["holds", "retry_pending", "retryable", "charged_back"]);

/** The payment stands for the invoice: show it, offer no new payment without its own step. */
export function holdsInvoice(payment) {
  return HOLDING_STANDINGS.has(payment.standing);
}

/** Failed, and GoCardless would take a retry of it now. */
export function isRetryable(payment) {
  return payment.standing === "retryable";
}

/** What a refund may still give back: a collected payment, less what was refunded. */
export function refundableAmount(payment) {
  if (payment.status !== "confirmed" && payment.status !== "paid_out") return 0;
  return Math.max(payment.amount - (payment.amount_refunded ?? 0), 0);
}

/** GoCardless lets a payment be cancelled only before it is sent to the bank. */
export function isCancellable(payment) {
  return payment.status === "pending_submission";
}

const MANDATE_STATUSES = {
  pending_customer_approval: "Waiting for the customer to approve it",
  pending_submission: "Being set up",
  submitted: "Being set up with the bank",
  active: "Active",
  suspended_by_payer: "Suspended by the customer",
  failed: "Failed",
  cancelled: "Cancelled",
  expired: "Expired",
  consumed: "Used up",
  blocked: "Blocked",
};

export function mandateStatus(status) {
  return MANDATE_STATUSES[status] ?? humanize(status);
}

const SCHEMES = {
  bacs: "Bacs (UK)",
  sepa_core: "SEPA Core",
  ach: "ACH (US)",
  autogiro: "Autogiro (SE)",
  becs: "BECS (AU)",
  becs_nz: "BECS (NZ)",
  betalingsservice: "Betalingsservice (DK)",
  faster_payments: "Faster Payments (UK)",
  pad: "PAD (CA)",
  pay_to: "PayTo (AU)",
};

export function schemeName(scheme) {
  return SCHEMES[scheme] ?? humanize(scheme);
}
