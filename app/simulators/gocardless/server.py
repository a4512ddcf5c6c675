"""Run the GoCardless simulator on its own, with a ready account to point clients at."""

from __future__ import annotations

from dataclasses import dataclass

import uvicorn

from app.simulators.gocardless.app import create_app
from app.simulators.gocardless.seed import seed_organisation
from app.simulators.gocardless.state import SimulatorOptions, SimulatorState

DEFAULT_CLIENT_ID = "gocardless-zoho-simulator"
DEFAULT_CLIENT_SECRET = "simulator-client-secret"
DEFAULT_REDIRECT_URI = "http://localhost:8000/oauth/gocardless/callback"
DEMO_CUSTOMERS = 40


@dataclass(frozen=True)
class ReadyAccount:
    state: SimulatorState
    base_url: str
    organisation_id: str
    creditor_id: str
    access_token: str

    def banner(self) -> str:
        client = self.state.oauth_clients[DEFAULT_CLIENT_ID]
        secret = client.client_secret.get_secret_value()
        hooks = [s.endpoint.url for s in self.state.webhook_endpoints.values()]
        return "\n".join(
            [
                "GoCardless simulator (offline, nothing is real)",
                f"  API base:         {self.base_url}",
                f"  access token:     {self.access_token}",
                f"  organisation id:  {self.organisation_id}",
                f"  creditor id:      {self.creditor_id}",
                f"  OAuth:            {self.base_url}/oauth/authorize",
                f"  OAuth client:     id={client.client_id}  secret={secret}",
                f"  OAuth redirect:   {client.redirect_uri}",
                f"  webhooks to:      {', '.join(hooks) or 'none (POST /_sim/webhook-endpoints)'}",
                f"  admin API:        {self.base_url}/_sim  (docs: {self.base_url}/_sim/docs)",
            ]
        )


def prepare_account(
    base_url: str | None = None,
    *,
    seed: bool = True,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    oauth_redirect_uri: str = DEFAULT_REDIRECT_URI,
) -> ReadyAccount:
    """A simulator with one verified merchant, its token, the demo OAuth app and (when
    given) the partner webhook endpoint; seeded with a few dozen customers unless told not.

    `base_url` fixes the links handed out (authorisation URLs); without it they follow
    the address each request came in on."""
    state = SimulatorState(SimulatorOptions(public_url=base_url))
    org = state.create_organisation(name="Demo Merchant Ltd")
    if seed:
        seed_organisation(state, org, customers=DEMO_CUSTOMERS)
    token = state.issue_token(org.id)
    state.configure_oauth_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, oauth_redirect_uri)
    if webhook_url is not None:
        if not webhook_secret:
            raise ValueError("a webhook endpoint needs a secret")
        state.add_webhook_endpoint(webhook_url, webhook_secret)
    return ReadyAccount(state, base_url or "", org.id, org.creditor.id, token.token)


def run(
    host: str = "127.0.0.1",
    port: int = 8001,
    *,
    seed: bool = True,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    oauth_redirect_uri: str = DEFAULT_REDIRECT_URI,
) -> None:
    """Serve the simulator until interrupted, after printing a ready access token."""
    account = prepare_account(
        f"http://{host}:{port}",
        seed=seed,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        oauth_redirect_uri=oauth_redirect_uri,
    )
    print(account.banner(), flush=True)
    uvicorn.run(create_app(account.state), host=host, port=port, log_level="info")
