"""Sync Now: the one-time copy of every GoCardless customer, mandate and payment into the CRM.

Modules: `run` (the job: start, stages, resume, the status the settings page reads),
`chains` (cursor chains and the split of the payments listing into created_at windows),
`listing` (each chain listed page by page into the mirror), `feed` (payments on their way
from the listing to the CRM writer, in memory) and `progress` (progress and time left).
"""

from app.services.sync.run import (
    CrmModulesMissing,
    SyncAlreadyDone,
    due_syncs,
    run_sync,
    start_sync,
    sync_status,
)

__all__ = [
    "CrmModulesMissing",
    "SyncAlreadyDone",
    "due_syncs",
    "run_sync",
    "start_sync",
    "sync_status",
]
