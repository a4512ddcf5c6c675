"""Structured logging: dotted event names, a request id on every line, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values are secrets wherever they appear in a log event.
_SECRET_KEYS = re.compile(
    r"(token|secret|password|authorization|api_key|apikey|code_verifier|^code$|signature|cookie)",
    re.IGNORECASE,
)
# Secrets that slip into free text (messages, tracebacks): Bearer/Zoho tokens, `token=…`
# style pairs (URLs, JSON, reprs), Fernet blobs, our API keys and signed sessions.
_SECRET_TEXT = re.compile(
    r"((?:Bearer|Zoho-oauthtoken)\s+)[^\s\"',]+"
    r"|(\b(?:access_token|refresh_token|client_secret|token|api_key|password|secret)"
    r"[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;)}]+"
    r"|gAAAAA[\w-]{20,}=*"
    r"|gcz_[\w-]{20,}"
    r"|eyJ[\w-]{10,}\.[\w.-]{10,}",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _SECRET_TEXT.sub(lambda m: (m.group(1) or m.group(2) or "") + REDACTED, value)
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_KEYS.search(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact_secrets(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        event_dict[key] = REDACTED if _SECRET_KEYS.search(key) else _scrub(value)
    return event_dict


def configure_logging(*, json: bool = True, level: str = "INFO") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # Tracebacks become text before redaction, so they are scrubbed like any field.
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # httpx logs full URLs at INFO, and a URL can carry a token (Zoho's revoke takes it there).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
