"""Users, schema check, send mail and from addresses."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.errors import ZohoInvalidData, ZohoPermissionDenied, ZohoSchemaMissing
from app.adapters.zoho.models import MailAddress, ZohoProfile
from app.adapters.zoho.names import ZohoNames

from .conftest import MakeCRM, zoho_error

USER_ID = "4150868000000225013"


async def test_get_user(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    route = zoho.get(f"/users/{USER_ID}").respond(
        200,
        json={
            "users": [
                {
                    "id": USER_ID,
                    "full_name": "Ann Admin",
                    "email": "ann@acme.test",
                    "status": "active",
                    "profile": {"name": "Administrator", "id": "4150868000000026011"},
                    "role": {"name": "CEO", "id": "4150868000000026005"},
                    "zuid": "20065385",
                }
            ]
        },
    )
    user = await crm.get_user(USER_ID)
    assert route.called
    assert user is not None
    assert user.profile == ZohoProfile(id="4150868000000026011", name="Administrator")
    assert (user.id, user.full_name, user.email, user.is_active) == (
        USER_ID,
        "Ann Admin",
        "ann@acme.test",
        True,
    )


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(204),
        zoho_error(404, "INVALID_URL_PATTERN"),
        zoho_error(400, "INVALID_DATA", "the id given seems to be invalid"),
    ],
    ids=["204", "404", "invalid-data"],
)
async def test_unknown_user_is_none(
    crm: ZohoCRM, zoho: respx.MockRouter, answer: httpx.Response
) -> None:
    zoho.get(f"/users/{USER_ID}").mock(return_value=answer)
    assert await crm.get_user(USER_ID) is None


async def test_a_forged_user_id_never_reaches_zoho(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    route = zoho.route().respond(500)
    assert await crm.get_user("../org") is None
    assert route.call_count == 0


async def test_permission_problems_are_not_an_unknown_user(
    crm: ZohoCRM, zoho: respx.MockRouter
) -> None:
    zoho.get(f"/users/{USER_ID}").mock(return_value=zoho_error(403, "NO_PERMISSION"))
    with pytest.raises(ZohoPermissionDenied):
        await crm.get_user(USER_ID)


def field(api_name: str, **extra: Any) -> dict[str, Any]:
    return {"api_name": api_name, "unique": {}, "lookup": {}, "external": None, **extra}


def lookup(api_name: str, module: str) -> dict[str, Any]:
    return field(api_name, data_type="lookup", lookup={"module": {"api_name": module, "id": "1"}})


def customer_fields(ns: str = "gocardless__") -> list[dict[str, Any]]:
    return [
        field("Name"),
        field("Email"),
        field(f"{ns}Company_Name"),
        field(f"{ns}GoCardless_Customer_ID", unique={"casesensitive": False}),
        lookup(f"{ns}Contact", "Contacts"),
        field(f"{ns}Created_At"),
        field("Owner"),
    ]


def payment_fields(ns: str = "gocardless__") -> list[dict[str, Any]]:
    return [
        field("Name"),
        field(f"{ns}GoCardless_Payment_ID", unique={"casesensitive": False}),
        field(f"{ns}Amount"),
        field(f"{ns}Currency"),
        field(f"{ns}Status"),
        field(f"{ns}Charge_Date"),
        field(f"{ns}GoCardless_Mandate_ID"),
        lookup(f"{ns}Customer", f"{ns}GoCardless_Customers"),
        lookup(f"{ns}Invoice", "Invoices"),
        field(f"{ns}Description"),
        field(f"{ns}Failure_Reason"),
        field(f"{ns}Amount_Refunded"),
        field(f"{ns}Payout_Date"),
    ]


def serve_schema(
    zoho: respx.MockRouter,
    *,
    modules: list[dict[str, Any]] | None = None,
    customers: list[dict[str, Any]] | None = None,
    payments: list[dict[str, Any]] | None = None,
    ns: str = "gocardless__",
) -> respx.Route:
    if modules is None:
        modules = [
            {"api_name": "Contacts", "api_supported": True},
            {"api_name": "Invoices", "api_supported": True},
            {"api_name": f"{ns}GoCardless_Customers", "api_supported": True},
            {"api_name": f"{ns}GoCardless_Payments", "api_supported": True},
        ]
    zoho.get("/settings/modules").respond(200, json={"modules": modules})
    by_module = {
        f"{ns}GoCardless_Customers": customer_fields(ns) if customers is None else customers,
        f"{ns}GoCardless_Payments": payment_fields(ns) if payments is None else payments,
    }

    def fields(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"fields": by_module[request.url.params["module"]]})

    return zoho.get("/settings/fields").mock(side_effect=fields)


async def test_schema_complete(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    route = serve_schema(zoho)
    await crm.check_schema()
    assert route.call_count == 2


async def test_schema_without_namespace(make_crm: MakeCRM, zoho: respx.MockRouter) -> None:
    crm = make_crm(names=ZohoNames(""))
    serve_schema(
        zoho,
        modules=[{"api_name": "GoCardless_Customers"}, {"api_name": "GoCardless_Payments"}],
        customers=customer_fields(""),
        payments=payment_fields(""),
        ns="",
    )
    await crm.check_schema()


async def test_schema_names_every_problem(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    customers = [
        f for f in customer_fields() if f["api_name"] not in ("gocardless__Company_Name", "Email")
    ]
    payments = payment_fields()
    payments[1] = field("gocardless__GoCardless_Payment_ID")  # duplicates allowed
    payments[7] = lookup("gocardless__Customer", "Contacts")
    serve_schema(zoho, customers=customers, payments=payments)
    with pytest.raises(ZohoSchemaMissing) as caught:
        await crm.check_schema()
    assert caught.value.missing == [
        "field Email is missing from module gocardless__GoCardless_Customers",
        "field gocardless__Company_Name is missing from module gocardless__GoCardless_Customers",
        "field gocardless__GoCardless_Payment_ID of module gocardless__GoCardless_Payments"
        " must not allow duplicate values",
        "field gocardless__Customer of module gocardless__GoCardless_Payments must be a lookup"
        " to gocardless__GoCardless_Customers, not Contacts",
    ]
    assert "gocardless__Company_Name" in str(caught.value)


async def test_schema_missing_module_is_named_without_asking_for_its_fields(
    crm: ZohoCRM, zoho: respx.MockRouter
) -> None:
    route = serve_schema(
        zoho,
        modules=[
            {"api_name": "gocardless__GoCardless_Customers", "api_supported": False},
            {"api_name": "GoCardless_Payments"},  # an unprefixed look-alike is not ours
        ],
    )
    with pytest.raises(ZohoSchemaMissing) as caught:
        await crm.check_schema()
    assert caught.value.missing == [
        "module gocardless__GoCardless_Customers is not available through the API",
        "module gocardless__GoCardless_Payments is missing",
    ]
    assert route.call_count == 0


@pytest.mark.parametrize(
    "marker",
    [{"unique": True}, {"external": {"show": True, "type": "org"}}],
    ids=["boolean-unique", "external-id"],
)
async def test_schema_accepts_other_uniqueness_markers(
    crm: ZohoCRM, zoho: respx.MockRouter, marker: dict[str, Any]
) -> None:
    customers = customer_fields()
    customers[3] = field("gocardless__GoCardless_Customer_ID", **marker)
    serve_schema(zoho, customers=customers)
    await crm.check_schema()


CONTACT_ID = "4150868000000624001"
SEND_MAIL = f"/Contacts/{CONTACT_ID}/actions/send_mail"


async def test_send_mail_wire_format(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    route = zoho.post(SEND_MAIL).respond(
        200,
        json={
            "data": [
                {
                    "code": "SUCCESS",
                    "details": {"message_id": "2cceafa194d037b63f2181dd818"},
                    "message": "Your mail has been sent successfully.",
                    "status": "success",
                }
            ]
        },
    )
    message_id = await crm.send_mail(
        "Contacts",
        CONTACT_ID,
        from_address=MailAddress(email="billing@acme.test", user_name="Acme", type="org_email"),
        to=[MailAddress(email="bob@example.test", user_name="Bob"), MailAddress(email="c@x.test")],
        subject="Set up your Direct Debit",
        content="Follow the link",
        mail_format="text",
    )
    assert message_id == "2cceafa194d037b63f2181dd818"
    assert json.loads(route.calls.last.request.content) == {
        "data": [
            {
                "from": {"email": "billing@acme.test", "user_name": "Acme"},
                "to": [{"email": "bob@example.test", "user_name": "Bob"}, {"email": "c@x.test"}],
                "subject": "Set up your Direct Debit",
                "content": "Follow the link",
                "mail_format": "text",
                "org_email": True,
            }
        ]
    }


async def test_send_mail_rejected_row_raises(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    zoho.post(SEND_MAIL).respond(
        400,
        json={
            "data": [
                {
                    "code": "INVALID_DATA",
                    "details": {"api_name": "from"},
                    "message": "from address is not verified",
                    "status": "error",
                }
            ]
        },
    )
    with pytest.raises(ZohoInvalidData) as caught:
        await crm.send_mail(
            "Contacts",
            CONTACT_ID,
            from_address=MailAddress(email="x@acme.test"),
            to=[MailAddress(email="bob@example.test")],
            subject="s",
            content="c",
        )
    assert caught.value.details == {"api_name": "from"}


async def test_from_addresses(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    zoho.get("/settings/emails/actions/from_addresses").respond(
        200,
        json={
            "from_addresses": [
                {
                    "email": "ann@acme.test",
                    "type": "primary",
                    "id": 4150868000000225013,
                    "user_name": "Ann Admin",
                    "default": True,
                },
                {"email": "billing@acme.test", "type": "org_email", "user_name": "Acme"},
            ]
        },
    )
    addresses = await crm.from_addresses()
    assert addresses == [
        MailAddress(email="ann@acme.test", user_name="Ann Admin", type="primary", default=True),
        MailAddress(email="billing@acme.test", user_name="Acme", type="org_email"),
    ]


async def test_no_from_addresses(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    zoho.get("/settings/emails/actions/from_addresses").respond(204)
    assert await crm.from_addresses() == []
