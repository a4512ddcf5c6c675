"""GoCardless events after the webhook inbox: claims, processing, the refetch of resources."""

from app.services.events.claims import MAX_ATTEMPTS, replay_failed
from app.services.events.processing import process_due_events

__all__ = ["MAX_ATTEMPTS", "process_due_events", "replay_failed"]
