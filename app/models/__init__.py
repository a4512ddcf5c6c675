"""Tables. Importing this package registers every model on `Base.metadata`."""

from app.models.base import Base
from app.models.budgets import RateBudget
from app.models.connections import ConnectionStatus, GoCardlessConnection, ZohoConnection
from app.models.events import EventCursor, EventStatus, InboxEvent
from app.models.installation import ApiKey, Audience, Installation, InstallationStatus
from app.models.invoices import (
    InvoicePayment,
    InvoicePaymentState,
    MandateRequest,
    MandateRequestStatus,
    PaymentNotice,
    PaymentRefund,
)
from app.models.mirror import CrmState, GcCustomer, GcMandate, GcPayment
from app.models.oauth_state import OAuthState
from app.models.setup_emails import SetupEmail
from app.models.sync import Lease, SyncChain, SyncRun, SyncStage, SyncState

__all__ = [
    "ApiKey",
    "Audience",
    "Base",
    "ConnectionStatus",
    "CrmState",
    "EventCursor",
    "EventStatus",
    "GcCustomer",
    "GcMandate",
    "GcPayment",
    "GoCardlessConnection",
    "InboxEvent",
    "Installation",
    "InstallationStatus",
    "InvoicePayment",
    "InvoicePaymentState",
    "Lease",
    "MandateRequest",
    "MandateRequestStatus",
    "OAuthState",
    "PaymentNotice",
    "PaymentRefund",
    "RateBudget",
    "SetupEmail",
    "SyncChain",
    "SyncRun",
    "SyncStage",
    "SyncState",
    "ZohoConnection",
]
