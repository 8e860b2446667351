"""Sources: where papers come from. Each parses a feed or file into Papers; none touches the DB."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from paperfeed.models import Batch


class Source(Protocol):
    """A harvest that yields batches and can resume after any of them."""

    name: str  # "arxiv" | "oai" | "hf-daily" | "jsonl"
    key: str  # stable identity of this harvest, so an interrupted run can be found again

    def batches(self, cursor: str | None = None) -> Iterator[Batch]:
        """Batches from the start, or right after the batch that returned `cursor`."""
        ...
