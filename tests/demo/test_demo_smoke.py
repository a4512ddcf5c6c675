"""`gocardless-zoho demo` as a person runs it: the console script in its own process, driven
over HTTP from the printed URL through both consent pages to a finished Sync Now."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import pytest

from tests.demo.html import PageParser, parse

CONSOLE_SCRIPT = Path(sys.executable).with_name("gocardless-zoho")
ANY_FREE_PORTS = ["--port", "0", "--gocardless-port", "0", "--zoho-port", "0"]
START_TIMEOUT = 30.0
SYNC_TIMEOUT = 30.0
URL_LINE = re.compile(r"open (http://\S+)")


@dataclass
class RunningDemo:
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    url: str

    def output(self) -> str:
        return self.stdout.read_text() + "\n--- stderr ---\n" + self.stderr.read_text()[-4000:]


def _wait_for_url(process: subprocess.Popen[bytes], stdout: Path, stderr: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = URL_LINE.search(stdout.read_text())
        if found:
            return found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"no URL printed:\n{stdout.read_text()}\n{stderr.read_text()[-4000:]}")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[RunningDemo]:
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [str(CONSOLE_SCRIPT), "demo", *ANY_FREE_PORTS],
            cwd=tmp_path,
            stdout=out,
            stderr=err,
        )
    try:
        yield RunningDemo(process, stdout, stderr, _wait_for_url(process, stdout, stderr))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _approve(client: httpx.Client, authorize_link: str, choice: tuple[str, str]) -> httpx.Response:
    """Follow our start link to the simulator's consent page, approve it, land on our callback."""
    to_provider = client.get(authorize_link)
    assert to_provider.status_code == 302, to_provider.text
    consent_url = to_provider.headers["location"]
    consent = client.get(consent_url)
    assert consent.status_code == 200, consent.text
    form = parse(consent.text).forms[0]
    select, wanted = choice
    value = next(v for v in form.options[select] if wanted in v)
    decision = client.post(
        urljoin(consent_url, form.action),
        data={**form.fields, select: value, "decision": "approve"},
    )
    assert decision.status_code == 302, decision.text
    return client.get(decision.headers["location"])


SESSION_SCRIPT = re.compile(
    r'<script type="application/json" id="gocardless-zoho-session">(.*?)</script>', re.S
)


def sign_in(client: httpx.Client, service: str, org_id: str, user_id: str) -> dict[str, str]:
    """A widget user's sign-in through the Zoho simulator's consent page, as headers."""
    query = urlencode({"org": org_id, "origin": service})
    page = _approve(client, f"{service}/oauth/zoho/signin?{query}", ("account", f":{user_id}"))
    assert page.status_code == 200, page.text
    match = SESSION_SCRIPT.search(page.text)
    assert match is not None, page.text
    return {"Authorization": f"Bearer {json.loads(match.group(1))['token']}"}


def authorize_both(client: httpx.Client, service: str, headers: dict[str, str]) -> None:
    """As the admin's settings page does: each authorize link comes from the status."""
    status = client.get(f"{service}/api/v1/installation", headers=headers).json()
    zoho = _approve(client, status["zoho"]["authorize_url"], ("account", ""))
    assert zoho.status_code == 200 and "connected" in zoho.text, zoho.text
    gocardless = _approve(client, status["gocardless"]["authorize_url"], ("organisation_id", "OR"))
    assert gocardless.status_code == 200 and "connected" in gocardless.text, gocardless.text


def _text(page: PageParser, element_id: str) -> str:
    return page.by_id[element_id].text.strip()


def _href(page: PageParser, element_id: str) -> str:
    return page.by_id[element_id].attrs["href"]


def test_install_authorize_sync_over_http(demo: RunningDemo) -> None:
    client = httpx.Client(timeout=10.0)
    start = client.get(demo.url)
    assert start.status_code == 200, demo.output()
    page = parse(start.text)
    user_id = _text(page, "admin-user-id")
    zoho_org_id = _text(page, "zoho-org-id")
    split = urlsplit(_href(page, "crm-invoices"))
    zoho_base = f"{split.scheme}://{split.netloc}"
    service = f"{urlsplit(demo.url).scheme}://{urlsplit(demo.url).netloc}"
    # The first address a person types leads to the start page; every server has an icon.
    root = client.get(f"{service}/")
    assert root.status_code == 302 and root.headers["location"] == "/demo"
    for base in (service, zoho_base):
        assert client.get(f"{base}/favicon.ico").status_code == 200
    # No credential is ever put into a page: the admin signs in through Zoho.
    assert "gcz_" not in start.text
    assert _href(page, "settings") == (f"{service}/widget/app/settings.html?org_id={zoho_org_id}")

    headers = sign_in(client, service, zoho_org_id, user_id)
    authorize_both(client, service, headers)
    started = client.post(f"{service}/api/v1/installation/sync", headers=headers)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + SYNC_TIMEOUT
    sync = started.json()
    while sync["state"] in ("not_started", "running") and time.monotonic() < deadline:
        time.sleep(0.3)
        sync = client.get(f"{service}/api/v1/installation/sync", headers=headers).json()
    assert sync["state"] == "succeeded", (sync, demo.output())
    assert sync["customers_synced"] > 0 and sync["payments_synced"] > 0

    records = client.get(
        f"{zoho_base}/_sim/orgs/{zoho_org_id}/modules/GoCardless_Customers/records",
        params={"limit": 1000},
    ).json()
    assert records["total"] == sync["customers_synced"]
    # Jane Doe's GoCardless customer was matched to her CRM contact by email.
    jane = next(r for r in records["data"] if r["Email"] == "jane.doe@example.com")
    assert jane["Contact"] is not None

    # The CRM's Send Invoice button reaches our widget with the invoice and org, no key.
    invoice_link = next(
        link for link in re.findall(r"href=\"([^\"]+/_sim/crm/invoices/[^\"]+)\"", start.text)
    )
    invoice_page = parse(client.get(invoice_link).text)
    hop = client.get(invoice_page.buttons[0]["data-src"])
    assert hop.status_code == 302
    assert hop.headers["location"].startswith(f"{service}/widget/app/widget.html?invoice_id=")
    assert f"org_id={zoho_org_id}" in hop.headers["location"]
    assert "#" not in hop.headers["location"] and "api_key" not in hop.headers["location"]


def test_ctrl_c_stops_every_server(demo: RunningDemo) -> None:
    start = httpx.get(demo.url, timeout=10.0)
    zoho_base = re.search(r"href=\"(http://[^\"]+)/_sim/crm\"", start.text)
    assert zoho_base is not None

    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=15) == 0, demo.output()
    assert "demo stopped" in demo.stderr.read_text()
    for url in (demo.url, f"{zoho_base.group(1)}/_sim/crm"):
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2.0)


def test_a_second_demo_in_the_same_folder_leaves_the_first_alone(
    demo: RunningDemo, tmp_path: Path
) -> None:
    database = tmp_path / ".demo" / "demo.sqlite3"
    before = database.stat().st_ino
    second = subprocess.run(
        [str(CONSOLE_SCRIPT), "demo", *ANY_FREE_PORTS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    assert second.returncode != 0
    assert f"another demo is running here (pid {demo.process.pid})" in second.stderr
    assert database.stat().st_ino == before
    # The first demo still answers from its database.
    assert httpx.get(demo.url, timeout=10.0).status_code == 200
    assert demo.process.poll() is None, demo.output()
