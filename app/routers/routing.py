"""Route class of the API routers: who is calling is settled before the body is judged.

FastAPI decodes a JSON body before it solves any dependency, so a request with a bad key
and a malformed body would learn "400 not JSON" instead of "401". Here the decoding failure
is only noted; the body then fails validation after the dependencies (authentication first)
have run, and the validation handler turns that note into 400 `bad_request`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

BODY_NOT_JSON = "body_not_json"


class _DeferredJsonRequest(Request):
    async def json(self) -> Any:
        try:
            return await super().json()
        except ValueError:  # JSONDecodeError, or bytes that are not UTF-8 at all
            setattr(self.state, BODY_NOT_JSON, True)
            # The raw bytes stand in for it: no request model validates bytes. (FastAPI
            # validates with from_attributes, which builds a model whose fields are all
            # optional out of any object with attributes: a stand-in object passed as `{}`.)
            return await self.body()


class AuthenticateBeforeBody(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(_DeferredJsonRequest(request.scope, request.receive))

        return route


def body_was_not_json(request: Request) -> bool:
    return bool(getattr(request.state, BODY_NOT_JSON, False))
