"""Prometheus metrics (prometheus_client). With several uvicorn workers,
prometheus_client's multiprocess mode adds up every worker's figures: its
folder (PROMETHEUS_MULTIPROC_DIR) is set before this module is imported."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import REGISTRY, multiprocess

EVENTS = Counter("ppdsl_events_total", "Events posted to /v1/track, by outcome", ["outcome"])
ACTIONS = Counter("ppdsl_actions_total", "Actions the flows ran, by type and result", ["type", "result"])
LATENCY = Histogram(
    "ppdsl_track_seconds",
    "Time to answer a POST /v1/track, commit included",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BATCH = Histogram(
    "ppdsl_commit_events", "Events in one shared commit", buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)
)
WEBHOOKS = Counter("ppdsl_webhook_deliveries_total", "Webhook deliveries, by outcome", ["outcome"])


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type; every worker's, in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
