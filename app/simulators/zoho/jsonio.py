"""JSON in and out without floats: amounts arrive and leave as JSON numbers but live as
`Decimal` in between, so 0.1 + 0.2 never drifts in the simulated CRM."""

from __future__ import annotations

import json
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

from starlette.responses import Response


def loads(raw: bytes | str) -> Any:
    return json.loads(raw, parse_float=Decimal)


def _encode(value: Any, out: list[str]) -> None:
    # encode_basestring is what json.dumps(value, ensure_ascii=False) runs for a string,
    # without building an encoder per call (most of an answer's cost when it did).
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        # Plain notation: Decimal("1E+2") must leave as 100, not as an exponent string.
        out.append(format(value, "f"))
    elif isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(encode_basestring(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _no_decimals(value: Any) -> Any:
    raise _HasDecimals


class _HasDecimals(Exception):
    pass


def dumps(value: Any) -> str:
    # Most answers (every write's) carry no amount: the C encoder writes those, ten times
    # faster; only an answer with a Decimal takes the encoder above.
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_no_decimals)
    except _HasDecimals:
        out: list[str] = []
        _encode(value, out)
        return "".join(out)


class ZohoJSONResponse(Response):
    media_type = "application/json;charset=UTF-8"

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
