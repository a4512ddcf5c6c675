"""Auth, refresh, backoff, concurrency and error mapping, driven through ZohoCRM.get_org."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from app.adapters.zoho.crm import ZohoCRM
from app.adapters.zoho.errors import (
    ZohoError,
    ZohoGrantRevoked,
    ZohoInvalidData,
    ZohoInvalidToken,
    ZohoNotFound,
    ZohoPermissionDenied,
    ZohoRateLimited,
    ZohoScopeMismatch,
    ZohoTransientError,
)
from app.adapters.zoho.limits import OrgLimiter, OrgLimiters
from app.adapters.zoho.models import MailAddress

from .conftest import (
    CRM,
    CountingTokenSource,
    MakeCRM,
    RecordingSleep,
    invalid_token,
    zoho_error,
)

ORG = {
    "org": [
        {
            "id": 4150868000000225013,
            "zgid": "20065384",
            "company_name": "Acme Ltd",
            "primary_email": "ops@acme.test",
            "currency": "Pound Sterling - GBP",
            "iso_code": "GBP",
            "currency_symbol": "£",
            "mc_status": False,
        }
    ]
}


def org_ok() -> httpx.Response:
    return httpx.Response(200, json=ORG)


async def test_sends_the_zoho_oauth_header_and_parses_the_org(
    crm: ZohoCRM, zoho: respx.MockRouter
) -> None:
    route = zoho.get("/org").mock(return_value=org_ok())
    org = await crm.get_org()
    assert route.calls.last.request.headers["authorization"] == "Zoho-oauthtoken tok-0"
    assert str(route.calls.last.request.url) == f"{CRM}/org"
    assert org.id == "4150868000000225013"  # a JSON number, kept as a string
    assert (org.zgid, org.iso_code, org.mc_status) == ("20065384", "GBP", False)


async def test_invalid_token_refreshes_once_and_repeats(
    crm: ZohoCRM, zoho: respx.MockRouter, tokens: CountingTokenSource
) -> None:
    route = zoho.get("/org").mock(side_effect=[invalid_token(), org_ok()])
    await crm.get_org()
    assert tokens.refreshes == 1
    assert tokens.stale_tokens == ["tok-0"]
    assert [c.request.headers["authorization"] for c in route.calls] == [
        "Zoho-oauthtoken tok-0",
        "Zoho-oauthtoken tok-1",
    ]


async def test_still_invalid_after_the_refresh_raises(
    crm: ZohoCRM, zoho: respx.MockRouter, tokens: CountingTokenSource
) -> None:
    route = zoho.get("/org").mock(return_value=invalid_token())
    with pytest.raises(ZohoInvalidToken) as caught:
        await crm.get_org()
    assert caught.value.status_code == 401
    assert tokens.refreshes == 1
    assert route.call_count == 2


async def test_revoked_grant_surfaces_from_the_token_source(
    crm: ZohoCRM, zoho: respx.MockRouter, tokens: CountingTokenSource
) -> None:
    async def revoked(stale: str) -> str:
        raise ZohoGrantRevoked("invalid_code")

    tokens.refreshed_access_token = revoked  # type: ignore[method-assign]
    route = zoho.get("/org").mock(return_value=invalid_token())
    with pytest.raises(ZohoGrantRevoked):
        await crm.get_org()
    assert route.call_count == 1


async def test_scope_mismatch_is_not_a_token_problem(
    crm: ZohoCRM, zoho: respx.MockRouter, tokens: CountingTokenSource
) -> None:
    zoho.get("/org").mock(
        return_value=zoho_error(
            401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL"
        )
    )
    with pytest.raises(ZohoScopeMismatch):
        await crm.get_org()
    assert tokens.refreshes == 0


async def test_twenty_concurrent_calls_with_an_expired_token_refresh_once(
    crm: ZohoCRM, zoho: respx.MockRouter, tokens: CountingTokenSource
) -> None:
    # The source still holds tok-0, which Zoho has expired; only tok-1 (after a refresh) works.
    async def server(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.001)  # keep all 20 in flight together
        if request.headers["authorization"] != "Zoho-oauthtoken tok-1":
            return invalid_token()
        return org_ok()

    route = zoho.get("/org").mock(side_effect=server)
    orgs = await asyncio.gather(*(crm.get_org() for _ in range(20)))
    assert len(orgs) == 20
    assert tokens.refreshes == 1
    assert tokens.stale_tokens == ["tok-0"] * 20  # every caller asked; the source deduplicated
    assert route.call_count == 40


@pytest.mark.parametrize(
    "failure",
    [
        zoho_error(429, "TOO_MANY_REQUESTS", "too many requests"),
        httpx.Response(429),
        zoho_error(500, "INTERNAL_ERROR", "Internal Server Error"),
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("closed"),
    ],
    ids=["429-envelope", "429-bare", "500", "502-html", "connect", "read-timeout", "protocol"],
)
async def test_transient_failures_back_off_and_retry(
    crm: ZohoCRM,
    zoho: respx.MockRouter,
    sleeps: RecordingSleep,
    failure: httpx.Response | Exception,
) -> None:
    route = zoho.get("/org").mock(side_effect=[failure, failure, org_ok()])
    org = await crm.get_org()
    assert org.company_name == "Acme Ltd"
    assert route.call_count == 3
    assert len(sleeps.waits) == 2


async def test_backoff_is_jittered_exponential_and_bounded(
    make_crm: MakeCRM, zoho: respx.MockRouter, sleeps: RecordingSleep
) -> None:
    crm = make_crm(max_attempts=7, backoff_base=0.5, backoff_cap=3.0)
    route = zoho.get("/org").mock(return_value=httpx.Response(429))
    with pytest.raises(ZohoRateLimited) as caught:
        await crm.get_org()
    assert caught.value.transient
    assert caught.value.status_code == 429
    assert route.call_count == 7
    ceilings = [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert len(sleeps.waits) == len(ceilings)
    for wait, ceiling in zip(sleeps.waits, ceilings, strict=True):
        assert 0 <= wait <= ceiling


async def test_gives_up_on_persistent_5xx(
    crm: ZohoCRM, zoho: respx.MockRouter, sleeps: RecordingSleep
) -> None:
    route = zoho.get("/org").mock(return_value=zoho_error(503, "INTERNAL_ERROR"))
    with pytest.raises(ZohoTransientError) as caught:
        await crm.get_org()
    assert caught.value.code == "INTERNAL_ERROR"
    assert route.call_count == 5
    assert len(sleeps.waits) == 4


async def test_accounts_throttle_during_refresh_is_backed_off(
    crm: ZohoCRM, zoho: respx.MockRouter, tokens: CountingTokenSource, sleeps: RecordingSleep
) -> None:
    real_refresh = tokens.refreshed_access_token
    throttled = [True]

    async def refresh(stale: str) -> str:
        if throttled.pop() if throttled else False:
            raise ZohoRateLimited("Access Denied", "too many requests continuously")
        return await real_refresh(stale)

    tokens.refreshed_access_token = refresh  # type: ignore[method-assign]
    zoho.get("/org").mock(side_effect=[invalid_token(), invalid_token(), org_ok()])
    await crm.get_org()
    assert len(sleeps.waits) == 1
    assert tokens.refreshes == 1


@pytest.mark.parametrize(
    ("response", "error", "code"),
    [
        (
            zoho_error(
                403, "NO_PERMISSION", "permission denied", permissions=["Crm_Implied_View_Org"]
            ),
            ZohoPermissionDenied,
            "NO_PERMISSION",
        ),
        (
            zoho_error(
                404,
                "INVALID_URL_PATTERN",
                "Please check if the URL trying to access is a correct one",
            ),
            ZohoNotFound,
            "INVALID_URL_PATTERN",
        ),
        (
            zoho_error(400, "INVALID_MODULE", "the module name given seems to be invalid"),
            ZohoNotFound,
            "INVALID_MODULE",
        ),
        (
            zoho_error(
                400, "INVALID_DATA", "invalid data", api_name="Email", json_path="$.data[0].Email"
            ),
            ZohoInvalidData,
            "INVALID_DATA",
        ),
        (zoho_error(400, "LIMIT_EXCEEDED", "limit exceeded"), ZohoError, "LIMIT_EXCEEDED"),
        (httpx.Response(405, text=""), ZohoError, "HTTP_405"),
    ],
)
async def test_logical_errors_are_typed_and_not_retried(
    crm: ZohoCRM,
    zoho: respx.MockRouter,
    sleeps: RecordingSleep,
    response: httpx.Response,
    error: type[ZohoError],
    code: str,
) -> None:
    route = zoho.get("/org").mock(return_value=response)
    with pytest.raises(error) as caught:
        await crm.get_org()
    assert type(caught.value) is error
    assert caught.value.code == code
    assert caught.value.status_code == response.status_code
    assert not caught.value.transient
    assert route.call_count == 1
    assert sleeps.waits == []


async def test_error_details_are_kept(crm: ZohoCRM, zoho: respx.MockRouter) -> None:
    zoho.get("/org").mock(
        return_value=zoho_error(403, "NO_PERMISSION", "permission denied", permissions=["X"])
    )
    with pytest.raises(ZohoPermissionDenied) as caught:
        await crm.get_org()
    assert caught.value.details == {"permissions": ["X"]}
    assert caught.value.message == "permission denied"


SEND_MAIL = "/Contacts/4150868000000624001/actions/send_mail"
SENT = httpx.Response(
    200,
    json={
        "data": [
            {
                "code": "SUCCESS",
                "details": {"message_id": "2cceafa1"},
                "message": "Your mail has been sent successfully.",
                "status": "success",
            }
        ]
    },
)


async def send(crm: ZohoCRM) -> str:
    return await crm.send_mail(
        "Contacts",
        "4150868000000624001",
        from_address=MailAddress(email="ann@acme.test", user_name="Ann"),
        to=[MailAddress(email="bob@example.test", user_name="Bob")],
        subject="Set up your Direct Debit",
        content="<p>Hello</p>",
    )


@pytest.mark.parametrize(
    "ambiguous",
    [zoho_error(500, "INTERNAL_ERROR"), httpx.ReadTimeout("slow")],
    ids=["500", "read-timeout"],
)
async def test_send_mail_is_never_repeated_after_an_ambiguous_failure(
    crm: ZohoCRM, zoho: respx.MockRouter, ambiguous: httpx.Response | Exception
) -> None:
    route = zoho.post(SEND_MAIL).mock(side_effect=[ambiguous, SENT])
    with pytest.raises(ZohoTransientError):
        await send(crm)
    assert route.call_count == 1


@pytest.mark.parametrize(
    "refused",
    [httpx.Response(429), httpx.ConnectError("refused"), invalid_token()],
    ids=["429", "connect", "invalid-token"],
)
async def test_send_mail_is_repeated_when_zoho_certainly_did_nothing(
    crm: ZohoCRM, zoho: respx.MockRouter, refused: httpx.Response | Exception
) -> None:
    route = zoho.post(SEND_MAIL).mock(side_effect=[refused, SENT])
    assert await send(crm) == "2cceafa1"
    assert route.call_count == 2


async def test_concurrency_cap_is_obeyed(make_crm: MakeCRM, zoho: respx.MockRouter) -> None:
    in_flight = 0
    peak = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.002)
        in_flight -= 1
        return org_ok()

    zoho.get("/org").mock(side_effect=answer)
    limiters = OrgLimiters(limit=3)
    # Two clients of the same org (say, a worker and a request) share the org's cap.
    first = make_crm(limiter=limiters.for_org("20065384"))
    second = make_crm(limiter=limiters.for_org("20065384"))
    await asyncio.gather(*(c.get_org() for _ in range(10) for c in (first, second)))
    assert peak == 3
    assert limiters.for_org("20065384").in_flight == 0


async def test_a_plain_semaphore_also_caps(make_crm: MakeCRM, zoho: respx.MockRouter) -> None:
    in_flight = 0
    peak = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.002)
        in_flight -= 1
        return org_ok()

    zoho.get("/org").mock(side_effect=answer)
    crm = make_crm(limiter=asyncio.Semaphore(2))
    await asyncio.gather(*(crm.get_org() for _ in range(8)))
    assert peak == 2


async def test_the_cap_is_released_while_backing_off(
    make_crm: MakeCRM, zoho: respx.MockRouter
) -> None:
    limiter = OrgLimiter(1)
    held_during_sleep: list[int] = []

    async def sleep(seconds: float) -> None:
        held_during_sleep.append(limiter.in_flight)

    crm = make_crm(limiter=limiter, sleep=sleep)
    zoho.get("/org").mock(side_effect=[httpx.Response(429), org_ok()])
    await crm.get_org()
    assert held_during_sleep == [0]
