"""Rankings: the (arxiv id, score) lists, best first, that the search steps pass along, and how
two of them are fused into one (reciprocal rank fusion, title matches pinned first)."""

from __future__ import annotations

from collections.abc import Sequence

from paperfeed.search.vectors import VectorIndex

Ranking = list[tuple[str, float]]
RRF_K = 60  # reciprocal rank fusion: score = sum of 1 / (RRF_K + rank) over the two rankings
POOL = 100  # results taken from each ranking before fusing


def unembedded(index: VectorIndex | None, ids: list[str]) -> set[str]:
    """Takes the vector index (None: semantic search unavailable) and paper ids; returns those
    without a vector in it yet."""
    return set(ids) if index is None else set(ids) - index.holds(ids)


def fuse(
    keyword: Ranking,
    semantic: Ranking,
    *,
    unembedded: set[str] | frozenset[str] = frozenset(),
    pinned: Sequence[str] = (),
    k: int = RRF_K,
) -> Ranking:
    """Reciprocal rank fusion of two rankings: each paper scores the sum of 1 / (k + rank).
    A paper in `unembedded` (no vector yet, so absent from the semantic ranking whatever it
    is about) counts its keyword rank for both rankings, so with nothing embedded hybrid ranks
    as keyword search does. `pinned` ids (title matches) come first, in order."""
    fused: dict[str, float] = {}
    for rank, (arxiv_id, _score) in enumerate(keyword, start=1):
        weight = 2.0 if arxiv_id in unembedded else 1.0
        fused[arxiv_id] = fused.get(arxiv_id, 0.0) + weight / (k + rank)
    for rank, (arxiv_id, _score) in enumerate(semantic, start=1):
        fused[arxiv_id] = fused.get(arxiv_id, 0.0) + 1.0 / (k + rank)
    return pin(sorted(fused.items(), key=lambda item: (-item[1], item[0])), pinned)


def pin(ranking: Ranking, pinned: Sequence[str]) -> Ranking:
    """The ranking with these ids first, in order (scored just above the best)."""
    if not pinned:
        return ranking
    top = (ranking[0][1] if ranking else 0.0) + 1.0
    scores = dict(ranking)
    first = [(i, top + len(pinned) - n) for n, i in enumerate(pinned)]
    head = {i for i in pinned}
    return first + [(i, s) for i, s in ranking if i not in head and i in scores]
