"""Tiny HTML pages for the parts of GoCardless a person clicks through."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}"
    "label{display:block;margin:.6rem 0 .2rem}"
    "input,select{width:100%;padding:.4rem;box-sizing:border-box}"
    "button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem}.error{color:#b00020}"
    ".note{color:#555;font-size:.9rem}fieldset{border:0;padding:0;margin:0}"
    "legend{font-weight:600;margin-top:.8rem}[hidden]{display:none}"
)


def page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}"
        "<p class='note'>GoCardless simulator: nothing here is real.</p></body></html>"
    )
    return HTMLResponse(html, status_code=status)


def hidden(fields: dict[str, str | None]) -> str:
    return "".join(
        f"<input type='hidden' name='{escape(name)}' value='{escape(value)}'>"
        for name, value in fields.items()
        if value is not None
    )


def field(name: str, label: str, value: str | None = None, *, kind: str = "text") -> str:
    return (
        f"<label for='{escape(name)}'>{escape(label)}</label>"
        f"<input id='{escape(name)}' name='{escape(name)}' type='{kind}' "
        f"value='{escape(value or '')}'>"
    )


def errors_list(problems: list[str]) -> str:
    if not problems:
        return ""
    items = "".join(f"<li>{escape(p)}</li>" for p in problems)
    return f"<ul class='error'>{items}</ul>"
