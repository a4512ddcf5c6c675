// Where a page gets its invoice, org and API base. Who the user is never comes from here: the
// user signs in through Zoho (session.js), and no API key ever reaches the browser.
//
// Opened by Zoho CRM (no `org_id` in the URL): Zoho's embedded-app SDK gives the invoice
// (PageLoad) and the org (CONFIG.getOrgInfo). Run as the demo or from tests:
// `?invoice_id=…&org_id=…&mode=send|cancel`. The API base is this page's origin unless
// `?api_base=` says otherwise; inside CRM the URL is Zoho's to choose, so there the org variable
// `gocardless__api_base` (an address, not a secret) says it instead (needed when the pages are
// uploaded to Zoho with zet and so are served from Zoho's origin).

export const ZOHO_SDK_URL = "https://live.zwidgets.com/js-sdk/1.2/ZohoEmbededAppSDK.min.js";
const API_BASE_VARIABLE = "gocardless__api_base";
// Outside CRM the SDK's handshake never completes; give up rather than spin for ever.
const ZOHO_TIMEOUT_MS = 10000;

/** The page cannot start: what is missing, in words. */
export class ConfigError extends Error {}

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new ConfigError(`Zoho CRM did not answer (${what}).`)),
      ZOHO_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function loadScript(src) {
  return new Promise((resolve) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = () => resolve(true);
    script.onerror = () => resolve(false);
    document.head.append(script);
  });
}

/** Zoho's SDK, loaded on demand so the demo and offline runs never wait on Zoho's CDN. */
async function zohoSdk() {
  if (!window.ZOHO) await loadScript(ZOHO_SDK_URL);
  return window.ZOHO?.embeddedApp ? window.ZOHO : null;
}

function readMode(query) {
  // `action=cancel_payment` is how the CRM simulator's button names it.
  const mode = query.get("mode") ?? query.get("action") ?? "";
  return mode === "cancel" || mode === "cancel_payment" ? "cancel" : "send";
}

/** http(s) base without a trailing slash; anything else is refused. */
function apiBaseFrom(value) {
  if (!value) return location.origin;
  let url;
  try {
    url = new URL(value, location.href);
  } catch {
    throw new ConfigError(`The API address "${value}" is not a valid URL.`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigError(`The API address "${value}" must start with https:// or http://.`);
  }
  return url.href.replace(/\/+$/, "");
}

/** PageLoad's EntityId is an array for button widgets and a string for related lists. */
export function invoiceIdFrom(entityId) {
  const id = Array.isArray(entityId) ? entityId[0] : entityId;
  return id === undefined || id === null || id === "" ? null : String(id);
}

async function orgVariable(ZOHO, name) {
  try {
    const answer = await ZOHO.CRM.API.getOrgVariable(name);
    const value = answer?.Success?.Content;
    return typeof value === "string" && value.trim() ? value.trim() : null;
  } catch {
    return null;
  }
}

async function currentOrgId(ZOHO) {
  const answer = await ZOHO.CRM.CONFIG.getOrgInfo();
  const id = answer?.org?.[0]?.id ?? answer?.id;
  return id === undefined || id === null ? null : String(id);
}

function requireAll(config, needsInvoice, hints) {
  const missing = [];
  if (needsInvoice && !config.invoiceId) missing.push(hints.invoiceId);
  if (!config.orgId || !/^\d{1,32}$/.test(config.orgId)) missing.push(hints.orgId);
  if (missing.length) throw new ConfigError(`This page cannot start: ${missing.join("; ")}.`);
  return config;
}

async function configFromZoho(ZOHO, query, needsInvoice) {
  // PageLoad must be listened for before init(), or the event is missed.
  const pageLoad = new Promise((resolve) => ZOHO.embeddedApp.on("PageLoad", resolve));
  await withTimeout(Promise.resolve(ZOHO.embeddedApp.init()), "start-up");
  const data = needsInvoice ? await withTimeout(pageLoad, "which invoice") : null;
  const [orgId, apiBase] = await Promise.all([
    withTimeout(currentOrgId(ZOHO), "which organization"),
    orgVariable(ZOHO, API_BASE_VARIABLE),
  ]);
  const config = {
    invoiceId: invoiceIdFrom(data?.EntityId),
    orgId,
    apiBase: apiBaseFrom(apiBase),
    mode: readMode(query),
    zoho: ZOHO,
  };
  return requireAll(config, needsInvoice, {
    invoiceId: "open it from an invoice's button",
    orgId: "Zoho CRM did not say which organization this is",
  });
}

function configFromUrl(query, needsInvoice) {
  const config = {
    invoiceId: query.get("invoice_id"),
    orgId: query.get("org_id"),
    apiBase: apiBaseFrom(query.get("api_base")),
    mode: readMode(query),
    zoho: null,
  };
  return requireAll(config, needsInvoice, {
    invoiceId: "add ?invoice_id=… to the address",
    orgId: "add &org_id=… (the Zoho CRM org id) to the address",
  });
}

/** The page's configuration; throws ConfigError naming what is missing. */
export async function loadConfig({ needsInvoice }) {
  const query = new URLSearchParams(location.search);
  if (!query.has("org_id")) {
    const ZOHO = await zohoSdk();
    if (ZOHO) return configFromZoho(ZOHO, query, needsInvoice);
  }
  return configFromUrl(query, needsInvoice);
}
