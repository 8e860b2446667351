"""Sources: where papers come from. Each parses a feed or file into Papers; none touches the DB.

The concrete sources are importable from here; their modules load on first use, so importing
`paperfeed.sources.arxiv_ids` alone does not pull in httpx or the XML parsers.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from paperfeed.models import Batch

if TYPE_CHECKING:
    from paperfeed.sources.arxiv_api import ArxivAPISource, fetch_one
    from paperfeed.sources.hf_daily import HFDailySource, parse_daily_papers
    from paperfeed.sources.http import PoliteClient
    from paperfeed.sources.jsonl import JsonlSource, paper_to_record, write_jsonl
    from paperfeed.sources.oai import OAISource

_EXPORTS = {
    "ArxivAPISource": "arxiv_api",
    "fetch_one": "arxiv_api",
    "OAISource": "oai",
    "HFDailySource": "hf_daily",
    "parse_daily_papers": "hf_daily",
    "JsonlSource": "jsonl",
    "paper_to_record": "jsonl",
    "write_jsonl": "jsonl",
    "PoliteClient": "http",
}
__all__ = [
    "ArxivAPISource",
    "HFDailySource",
    "JsonlSource",
    "OAISource",
    "PoliteClient",
    "Source",
    "fetch_one",
    "paper_to_record",
    "parse_daily_papers",
    "write_jsonl",
]


class Source(Protocol):
    """A harvest that yields batches and can resume after any of them."""

    name: str  # "arxiv" | "oai" | "hf-daily" | "jsonl"
    key: str  # stable identity of this harvest, so an interrupted run can be found again

    def batches(self, cursor: str | None = None) -> Iterator[Batch]:
        """Batches from the start, or right after the batch that returned `cursor`."""
        ...


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
