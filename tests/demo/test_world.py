"""The demo's seeded accounts tell the stories its start page promises."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.demo.config import DemoUrls, ProviderSecrets
from app.demo.world import STORIES, World, build_world
from app.simulators.gocardless.resources import Mandate

URLS = DemoUrls("http://127.0.0.1:18000", "http://127.0.0.1:18001", "http://127.0.0.1:18002")


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(URLS, ProviderSecrets.generate())


def _contact(world: World, subject: str) -> dict[str, object] | None:
    invoice = next(i for i in world.invoices if i.subject == subject)
    found = world.zoho.find_record("Invoices", invoice.id)
    assert found is not None
    contact_id = found[1].get("Contact_Name")
    if contact_id is None:
        return None
    contact = world.zoho.find_record("Contacts", str(contact_id))
    assert contact is not None
    return dict(contact[1])


def _mandates(world: World, email: str) -> list[Mandate]:
    org = world.gocardless.organisations[world.gocardless_organisation_id]
    customers = [c.id for c in org.customers.newest_first() if c.details.get("email") == email]
    return [
        mandate
        for customer in customers
        for mandate_id in org.mandates.ids_for("customer", customer)
        if (mandate := org.mandates.get(mandate_id)) is not None
    ]


def _email(world: World, subject: str) -> str:
    contact = _contact(world, subject)
    assert contact is not None and contact.get("Email")
    return str(contact["Email"])


def test_every_seeded_invoice_has_its_story(world: World) -> None:
    assert sorted(i.subject for i in world.invoices) == sorted(STORIES)
    assert all(invoice.story for invoice in world.invoices)


def test_gbp_invoice_contact_has_an_active_bacs_mandate(world: World) -> None:
    invoice = next(i for i in world.invoices if i.subject == "Website redesign")
    assert (invoice.currency, Decimal(invoice.total)) == ("GBP", Decimal("120.00"))
    mandates = _mandates(world, _email(world, "Website redesign"))
    assert [(m.scheme, m.status) for m in mandates] == [("bacs", "active")]


def test_eur_invoice_contact_has_an_active_sepa_mandate(world: World) -> None:
    assert next(i for i in world.invoices if i.subject == "Consulting March").currency == "EUR"
    mandates = _mandates(world, _email(world, "Consulting March"))
    assert [(m.scheme, m.status) for m in mandates] == [("sepa_core", "active")]


def test_one_eur_invoice_meets_only_a_gbp_mandate(world: World) -> None:
    assert next(i for i in world.invoices if i.subject == "Annual licence").currency == "EUR"
    mandates = _mandates(world, _email(world, "Annual licence"))
    assert mandates and {m.scheme for m in mandates} == {"bacs"}


def test_setup_link_invoice_contact_has_email_but_no_gocardless_customer(world: World) -> None:
    assert _mandates(world, _email(world, "Shared services")) == []
    org = world.gocardless.organisations[world.gocardless_organisation_id]
    emails = {c.details.get("email") for c in org.customers.newest_first()}
    assert _email(world, "Shared services") not in emails


def test_edge_invoices_lack_an_email_or_a_contact(world: World) -> None:
    contact = _contact(world, "Support plan")
    assert contact is not None and not contact.get("Email")
    assert _contact(world, "Orphan invoice") is None


def test_gocardless_account_has_customers_without_mandates_and_payments_in_many_statuses(
    world: World,
) -> None:
    org = world.gocardless.organisations[world.gocardless_organisation_id]
    assert org.creditor.verification_status == "successful"
    without_mandate = [
        c for c in org.customers.newest_first() if not org.mandates.ids_for("customer", c.id)
    ]
    assert without_mandate
    statuses = {p.status for p in org.payments.newest_first()}
    assert {"pending_submission", "confirmed", "paid_out"} <= statuses
    assert len(statuses) >= 4


def test_simulators_are_wired_to_our_service(world: World) -> None:
    client = world.gocardless.oauth_clients["gocardless-zoho-demo"]
    assert client.redirect_uri == f"{URLS.service}/oauth/gocardless/callback"
    endpoints = [s.endpoint.url for s in world.gocardless.webhook_endpoints.values()]
    assert endpoints == [f"{URLS.service}/webhooks/gocardless"]
    zoho_redirects = {c.redirect_uri for c in world.zoho.accounts.clients.values()}
    assert zoho_redirects == {f"{URLS.service}/oauth/zoho/callback"}
    assert world.zoho.options.widget_url == f"{URLS.service}/demo/widget"
    assert world.users[0].profile == "Administrator"
