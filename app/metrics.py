"""Prometheus metrics. One registry per app so tests and the demo's several apps don't collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


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
