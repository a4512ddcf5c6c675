"""The demo's routes on our service: the start page (also where `/` leads), and the hop from
the simulated CRM's buttons to the widget.

The CRM simulator's buttons point here with their query (invoice, org, action); this answer
passes on what the widget reads. No credential travels: the widget signs its user in through
the Zoho simulator's consent page, as it does inside Zoho CRM.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from app.demo.config import DemoUrls
from app.demo.database import DemoInstallation
from app.demo.world import WIDGET_REDIRECT_PATH, World

START_PATH = "/demo"
WIDGET_PAGE = "/widget/app/widget.html"
SETTINGS_PAGE = "/widget/app/settings.html"
# The parameters the CRM simulator's buttons send that the widget reads.
WIDGET_PARAMS = ("invoice_id", "org_id", "action")

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


@dataclass(frozen=True)
class DemoSite:
    urls: DemoUrls
    world: World
    installation: DemoInstallation
    database: Path

    @property
    def start_url(self) -> str:
        return f"{self.urls.service}{START_PATH}"

    @property
    def settings_url(self) -> str:
        query = urlencode({"org_id": self.world.zoho_org_id})
        return f"{self.urls.service}{SETTINGS_PAGE}?{query}"

    def widget_url(self, query: dict[str, str]) -> str:
        return f"{self.urls.service}{WIDGET_PAGE}?{urlencode(query)}"


def demo_router(site: DemoSite) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get(START_PATH, response_class=HTMLResponse)
    async def start_page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            "start.html",
            {
                "site": site,
                "urls": site.urls,
                "world": site.world,
                "installation": site.installation,
                "settings_url": site.settings_url,
            },
        )

    @router.get("/")
    async def root() -> RedirectResponse:
        # The first address a person types leads to the journey.
        return RedirectResponse(START_PATH, status_code=302)

    @router.get(WIDGET_REDIRECT_PATH)
    async def widget(request: Request) -> RedirectResponse:
        query = {k: v for k in WIDGET_PARAMS if (v := request.query_params.get(k))}
        return RedirectResponse(site.widget_url(query), status_code=302)

    return router
