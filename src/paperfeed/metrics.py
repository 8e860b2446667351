"""The Prometheus metrics: what paperfeed counts and times, and their exposition at /metrics.

Metrics are process-wide by the client library's design (one registry per process), so they are
the one deliberate module-level state. With several workers, PROMETHEUS_MULTIPROC_DIR (set by
`paperfeed serve`) makes every process write its samples to files there and /metrics adds them
up across workers; the library reads that variable when it is first imported, so it must be set
before the workers start.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as _DEFAULT_REGISTRY

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Page renders take milliseconds; searches and cold caches reach seconds.
_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

request_seconds = Histogram(
    "paperfeed_request_duration_seconds",
    "Time from request to the start of the response, by route template.",
    ["method", "route", "status"],
    buckets=_BUCKETS,
)
search_seconds = Histogram(
    "paperfeed_search_duration_seconds",
    "Time of one search call from the search page or API, by the mode asked for.",
    ["mode"],
    buckets=_BUCKETS,
)
papers_ingested = Counter(
    "paperfeed_ingested_papers_total",
    "Papers an ingest run wrote or looked at, by source and outcome (new, updated, unchanged, "
    "rejected).",
    ["source", "outcome"],
)
digests_sent = Counter("paperfeed_digests_sent_total", "Digest emails handed to the mail server.")


def multiprocess_dir() -> str | None:
    """The directory shared by the worker processes' metric files, when there is one."""
    return os.environ.get(MULTIPROC_ENV) or None


def exposition() -> tuple[bytes, str]:
    """(body, content type) of the metrics of this process, or of every worker when shared."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = _DEFAULT_REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def count_ingest(source: str, *, new: int, updated: int, unchanged: int, rejected: int) -> None:
    """Count one batch of an ingest run."""
    for outcome, n in (
        ("new", new),
        ("updated", updated),
        ("unchanged", unchanged),
        ("rejected", rejected),
    ):
        if n:
            papers_ingested.labels(source=source, outcome=outcome).inc(n)
