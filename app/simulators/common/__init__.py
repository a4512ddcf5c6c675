"""Building blocks shared by the offline provider simulators (GoCardless, Zoho CRM).

Nothing here knows a provider's wire format: each simulator renders its own bodies and
passes small callbacks in. The product never imports this package except to start a
simulator in `demo`.
"""

from app.simulators.common.clock import SimClock, http_date
from app.simulators.common.faults import (
    FaultConfig,
    FaultDecision,
    FaultInjector,
    FaultKind,
    FaultMiddleware,
)
from app.simulators.common.ids import IdGenerator
from app.simulators.common.ratelimit import FixedWindowRateLimiter, RateLimitStatus
from app.simulators.common.serving import ServerHandle, serve_in_thread
from app.simulators.common.webhooks import (
    Delivery,
    DeliveryAttempt,
    DeliveryPolicy,
    OutgoingWebhook,
    WebhookDispatcher,
    WebhookEndpoint,
)

__all__ = [
    "Delivery",
    "DeliveryAttempt",
    "DeliveryPolicy",
    "FaultConfig",
    "FaultDecision",
    "FaultInjector",
    "FaultKind",
    "FaultMiddleware",
    "FixedWindowRateLimiter",
    "IdGenerator",
    "OutgoingWebhook",
    "RateLimitStatus",
    "ServerHandle",
    "SimClock",
    "WebhookDispatcher",
    "WebhookEndpoint",
    "http_date",
    "serve_in_thread",
]
