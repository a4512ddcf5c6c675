// The extension's settings page: both connections, with links to authorize what is missing, and
// the one-time Sync Now with its progress.

import { createApiClient } from "./api.js";
import { loadConfig } from "./config.js";
import { externalButton, fill, h } from "./dom.js";
import { forgetSession, signIn, signInCard, storedSession } from "./session.js";
import { createUi, focusHeading } from "./ui.js";

const POLL_MS = 1500;
// After an Authorize button opens the consent page in another window, this page looks for the
// result by itself, this often and for this long, and at once when the person comes back.
const WATCH_MS = 2000;
const WATCH_FOR_MS = 10 * 60 * 1000;

const ui = createUi({ onSignIn: () => askToSignIn() });
const content = document.getElementById("content");

let config = null;
let api = null;
let installation = null;
let pollTimer = null;
let watchTimer = null;
let watchUntil = 0;

const ZOHO_STATES = {
  connected: ["Connected", "done"],
  needs_reauthorization: ["Needs to be authorized again", "problem"],
  not_connected: ["Not connected", "waiting"],
};
const GOCARDLESS_STATES = {
  connected: ["Connected", "done"],
  revoked: ["Access was revoked", "problem"],
  not_connected: ["Not connected", "waiting"],
};
const VERIFICATION = {
  successful: "Verified",
  in_review: "In review by GoCardless",
  action_required: "Action required in the GoCardless dashboard",
};
const SYNC_STATES = {
  not_started: ["Not run yet", "stopped"],
  running: ["Running…", "waiting"],
  succeeded: ["Finished", "done"],
  failed: ["Failed", "problem"],
};

function head(id, title, [words, tone]) {
  return h(
    "div",
    { class: "card-head" },
    h("h2", { id }, title),
    h("p", { class: `badge tone-${tone}` }, words),
  );
}

function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows
      .filter(([, value]) => value)
      .map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

function connectionState(table, connection) {
  const key = connection.status ?? (connection.connected ? "connected" : "not_connected");
  return table[key] ?? [key, "waiting"];
}

function zohoCard(zoho) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "zoho-title", "data-connected": String(zoho.connected) },
    head("zoho-title", "Zoho CRM", connectionState(ZOHO_STATES, zoho)),
    facts([["Org ID", zoho.org_id]]),
    zoho.connected
      ? null
      : h("p", { class: "actions" }, authorizeButton(zoho.authorize_url, "Authorize Zoho CRM")),
  );
}

function gocardlessCard(gocardless) {
  const verification = gocardless.verification_status;
  return h(
    "section",
    {
      class: "card",
      "aria-labelledby": "gocardless-title",
      "data-connected": String(gocardless.connected),
    },
    head("gocardless-title", "GoCardless", connectionState(GOCARDLESS_STATES, gocardless)),
    facts([
      [
        "Environment",
        gocardless.environment === "live"
          ? "Live"
          : gocardless.environment === "sandbox"
            ? "Sandbox (test)"
            : gocardless.environment,
      ],
      ["Verification", verification ? (VERIFICATION[verification] ?? verification) : null],
      ["Organisation", gocardless.organisation_id],
      ["Creditor", gocardless.creditor_id],
    ]),
    gocardless.inactive_reason
      ? h("p", { class: "inactive-reason" }, gocardless.inactive_reason)
      : null,
    gocardless.connected
      ? null
      : h(
          "p",
          { class: "actions" },
          authorizeButton(gocardless.authorize_url, "Authorize GoCardless"),
        ),
  );
}

function authorizeButton(url, label) {
  const link = externalButton(url, label);
  link?.addEventListener("click", watchAuthorization);
  return link;
}

/** What an authorization in the other window can change on this page. */
function connections(state) {
  return JSON.stringify([state.zoho, state.gocardless, state.sync.can_sync_now]);
}

function watchAuthorization() {
  watchUntil = Date.now() + WATCH_FOR_MS;
  scheduleWatch();
}

function scheduleWatch() {
  clearTimeout(watchTimer);
  if (Date.now() < watchUntil) watchTimer = setTimeout(watch, WATCH_MS);
}

// Quiet, outside ui.run: the page stays usable, and a failed look is simply tried again.
async function watch() {
  clearTimeout(watchTimer);
  let latest;
  try {
    ({ body: latest } = await api.get("/api/v1/installation"));
  } catch {
    scheduleWatch();
    return;
  }
  if (connections(latest) !== connections(installation)) {
    installation = latest;
    render();
    ui.say(connectionNews(latest));
  }
  if (latest.zoho.connected && latest.gocardless.connected) watchUntil = 0;
  scheduleWatch();
}

function connectionNews(state) {
  if (state.zoho.connected && state.gocardless.connected)
    return state.sync.can_sync_now
      ? "Both accounts are connected: Sync Now is ready."
      : "Both accounts are connected.";
  return state.zoho.connected ? "Zoho CRM is connected." : "GoCardless is connected.";
}

window.addEventListener("focus", () => {
  if (api && installation && Date.now() < watchUntil) watch();
});

/** The service reports progress as a fraction; a percentage is accepted too. */
function percent(sync) {
  if (sync.state === "succeeded") return 100;
  const value = Number(sync.progress) || 0;
  const fraction = value > 1 ? value / 100 : value;
  return Math.round(Math.min(Math.max(fraction, 0), 1) * 100);
}

const RESOURCES = { customers: "Customers", mandates: "Mandates", payments: "Payments" };

function count(value) {
  return Number(value ?? 0).toLocaleString();
}

function day(timestamp) {
  return new Date(timestamp).toLocaleDateString(undefined, {
    day: "numeric",
    month: "short",
    year: "numeric",
  });
}

/** "payments" for a whole resource; "payments since 3 Mar 2026" and the like for a window. */
function chainName(chain, chains) {
  const name = (RESOURCES[chain.resource] ?? chain.resource).toLowerCase();
  if (chains.filter((c) => c.resource === chain.resource).length < 2) return name;
  const { created_from: from, created_before: before } = chain;
  if (from && before) return `${name} from ${day(from)} to ${day(before)}`;
  if (before) return `${name} before ${day(before)}`;
  return from ? `${name} since ${day(from)}` : name;
}

function chainProgress(chain) {
  if (chain.done) return `${count(chain.listed)} read — done`;
  const left = chain.pages_left == null ? "" : `, about ${count(chain.pages_left)} pages to go`;
  return `${count(chain.listed)} read${left}`;
}

function writesProgress(writes) {
  const expected = writes.expected == null ? "" : ` of about ${count(writes.expected)}`;
  const refused = writes.rejected ? `, ${count(writes.rejected)} refused` : "";
  return `${count(writes.written)}${expected} written${refused}`;
}

/** "About 40 s left", "About 3 min left"; an estimate needs a few pages first. */
function timeLeft(seconds) {
  if (seconds == null) return "Estimating the time left…";
  if (seconds < 60) return `About ${Math.max(Math.round(seconds), 1)} s left`;
  return `About ${Math.round(seconds / 60)} min left`;
}

/** Each listing chain, the CRM writes and the time left, while Sync Now runs. */
function syncDetails(sync) {
  const chains = sync.chains ?? [];
  const rows = chains.map((chain) => [
    `Reading ${chainName(chain, chains)}`,
    chainProgress(chain),
  ]);
  if (sync.crm_writes) {
    rows.push(["CRM customers", writesProgress(sync.crm_writes.customers)]);
    rows.push(["CRM payments", writesProgress(sync.crm_writes.payments)]);
  }
  return h(
    "div",
    { class: "sync-details" },
    h("p", { class: "sync-eta" }, timeLeft(sync.seconds_left)),
    facts(rows),
  );
}

function addedSince(sync) {
  const customers = sync.customers_added_since ?? 0;
  const payments = sync.payments_added_since ?? 0;
  if (!customers && !payments) return null;
  return h(
    "p",
    { class: "sync-added" },
    `Since then ${count(customers)} customers and ${count(payments)} payments arrived in real time.`,
  );
}


function callerLine(caller) {
  if (!caller) return null;
  const who = caller.user_id ? `CRM user ${caller.user_id}` : "the installation's API key";
  return h(
    "p",
    { class: "muted", id: "signed-in-as", "data-admin": String(caller.admin) },
    `Signed in as ${who}`,
    caller.admin
      ? " (administrator)."
      : ". Only a CRM administrator can authorize accounts or run Sync Now.",
  );
}

function syncCard(sync, admin) {
  const started = sync.state !== "not_started";
  const pct = percent(sync);
  let explanation = null;
  if (sync.state === "succeeded") {
    explanation =
      "New and changed GoCardless customers and payments now reach the CRM as they happen.";
  } else if (sync.state === "not_started" && !sync.can_sync_now) {
    explanation =
      "Sync Now becomes available once both accounts are authorized and the GoCardless account is active.";
  } else if (sync.state === "not_started") {
    explanation = "Copy every GoCardless customer and payment into the CRM. This is offered once.";
  }
  return h(
    "section",
    { class: "card", id: "sync", "aria-labelledby": "sync-title", "data-state": sync.state },
    head("sync-title", "Sync Now", SYNC_STATES[sync.state] ?? [sync.state, "waiting"]),
    started
      ? [
          h(
            "div",
            {
              class: "progress",
              role: "progressbar",
              "aria-label": "Sync progress",
              "aria-valuemin": 0,
              "aria-valuemax": 100,
              "aria-valuenow": pct,
              "aria-valuetext": `${pct}%`,
              "data-state": sync.state,
            },
            h("span", { style: `width: ${pct}%` }),
          ),
          h(
            "p",
            { class: "sync-counts" },
            `${pct}% — ${sync.customers_synced} customers and ${sync.payments_synced} payments copied.`,
          ),
          sync.state === "running" ? syncDetails(sync) : null,
          sync.state === "succeeded" ? addedSince(sync) : null,
        ]
      : null,
    explanation ? h("p", { class: "muted" }, explanation) : null,
    sync.can_sync_now && admin
      ? h(
          "p",
          { class: "actions" },
          h("button", { type: "button", class: "primary", onclick: syncNow }, "Sync Now"),
        )
      : null,
  );
}

function render() {
  fill(
    content,
    zohoCard(installation.zoho),
    gocardlessCard(installation.gocardless),
    syncCard(installation.sync, isAdmin()),
    callerLine(installation.caller),
    h("p", { class: "actions" }, h("button", { type: "button", onclick: refresh }, "Refresh")),
  );
}

function showSync(sync) {
  installation.sync = sync;
  const card = document.getElementById("sync");
  const hadFocus = card?.contains(document.activeElement);
  const next = syncCard(sync, isAdmin());
  card.replaceWith(next);
  if (hadFocus) focusHeading(next);
}

function isAdmin() {
  return Boolean(installation?.caller?.admin ?? true);
}

function finished(sync) {
  return sync.state === "succeeded" || sync.state === "failed";
}

function announce(sync) {
  if (sync.state === "succeeded")
    ui.say(
      `Sync finished: ${sync.customers_synced} customers and ${sync.payments_synced} payments copied.`,
    );
  else if (sync.state === "failed")
    ui.say("Sync failed. It resumes where it stopped; contact support if it keeps failing.");
  else ui.say(`Syncing… ${percent(sync)}%`);
}

function schedulePoll() {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, POLL_MS);
}

// Polling runs outside ui.run: it must not disable the page for the whole sync.
async function poll() {
  let sync;
  try {
    ({ body: sync } = await api.get("/api/v1/installation/sync"));
  } catch (error) {
    ui.showError(error, () => {
      ui.clearError();
      poll();
    });
    return;
  }
  showSync(sync);
  announce(sync);
  if (!finished(sync)) schedulePoll();
}

function syncNow() {
  return ui.run("Starting the sync…", async () => {
    focusHeading(document.getElementById("sync"));
    const { body: sync } = await api.post("/api/v1/installation/sync");
    showSync(sync);
    announce(sync);
    if (!finished(sync)) schedulePoll();
  });
}

async function loadInstallation() {
  clearTimeout(pollTimer);
  ({ body: installation } = await api.get("/api/v1/installation"));
  render();
  if (installation.sync.state === "running") {
    announce(installation.sync);
    schedulePoll();
  } else {
    ui.say("");
  }
}

function refresh() {
  return ui.run("Loading the settings…", loadInstallation);
}

function connect(session) {
  api = createApiClient({
    apiBase: config.apiBase,
    session,
    onUnauthenticated: () => forgetSession(config),
  });
}

function askToSignIn(message) {
  clearTimeout(pollTimer);
  ui.clearError();
  fill(
    content,
    signInCard(message, () =>
      ui.run("Signing in with Zoho…", async () => {
        connect(await signIn(config));
        await loadInstallation();
      }),
    ),
  );
  ui.say("Sign in with Zoho to continue.");
  focusHeading(content);
}

async function start() {
  await ui.run("Connecting…", async () => {
    config = await loadConfig({ needsInvoice: false });
  });
  if (!config) return;
  const session = storedSession(config);
  if (!session) return askToSignIn();
  connect(session);
  await refresh();
}

start();
