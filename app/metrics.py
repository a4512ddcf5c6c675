"""Prometheus metrics. One registry per app so tests and the demo's several apps don't collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["route", "method"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.provider_calls = Counter(
            "provider_calls_total",
            "Calls to GoCardless and Zoho by operation and outcome.",
            ["provider", "operation", "outcome"],
            registry=self.registry,
        )
        self.zoho_token_refreshes = Counter(
            "zoho_token_refreshes_total",
            "Zoho access-token refreshes by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "gocardless_webhooks_total",
            "Webhook deliveries by outcome (stored, bad_signature, malformed).",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_events = Counter(
            "gocardless_webhook_events_total",
            "Events in accepted webhooks by outcome (stored, duplicate, unknown_organisation).",
            ["outcome"],
            registry=self.registry,
        )
        # Read from the database at each scrape (services.events.backlog).
        self.inbox_depth = Gauge(
            "gocardless_inbox_depth",
            "Events in the inbox by status: pending (waiting or in work), failed (parked).",
            ["status"],
            registry=self.registry,
        )
        self.inbox_oldest_pending = Gauge(
            "gocardless_inbox_oldest_pending_seconds",
            "Age of the oldest pending event: how far processing lags behind.",
            registry=self.registry,
        )
        self.inbox_retrying = Gauge(
            "gocardless_inbox_retrying",
            "Pending events that already failed at least once.",
            registry=self.registry,
        )
        self.inbox_claimed = Gauge(
            "gocardless_inbox_claimed",
            "Pending events a worker is processing now.",
            registry=self.registry,
        )
        self.events_processed = Counter(
            "gocardless_events_processed_total",
            "Inbox events settled by resource type and status.",
            ["resource_type", "status"],
            registry=self.registry,
        )
        self.event_lag = Histogram(
            "gocardless_event_lag_seconds",
            "Time from accepting an event to processing it.",
            registry=self.registry,
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
        )
        self.gocardless_bulk_pages = Counter(
            "gocardless_event_pages_total",
            "Pages of GET /events?include=… read to refresh a backlog's resources in bulk.",
            registry=self.registry,
        )
        self.event_failures = Counter(
            "gocardless_event_failures_total",
            "Event processing failures (retry) and events given up on (parked).",
            ["kind"],
            registry=self.registry,
        )
        # Per installation, read from the database at each scrape (see routers/health.py).
        self.installation = {
            name: Gauge(
                f"installation_{name}",
                help_text,
                ["installation_id"],
                registry=self.registry,
            )
            for name, help_text in (
                ("event_lag_seconds", "Age of the installation's oldest pending event."),
                ("events_pending", "Events waiting in the installation's inbox."),
                ("events_parked", "Events given up on, waiting for an operator's replay."),
                ("crm_backlog", "Mirror rows waiting to be written to the CRM."),
                (
                    "gocardless_requests_left",
                    "Requests the merchant's GoCardless budget allows now.",
                ),
                ("zoho_slots_left", "Zoho calls that may start now for the org."),
            )
        }
