"""The author-history protocol of bench/recommend_quality.py: readers, libraries, listing days and
the embedding cache. Bench code only; nothing in src/ imports it.

A reader is an author with at least MIN_BEFORE papers listed before the split and at least one on
or after it; their library is their papers before the split and each later paper is a target
ranked among every paper of its listing day. The model never sees author names: a paper is its
title and abstract (what paperfeed embeds), nothing else.

Two splits: TEST (2026-04-01, 500 readers, the reported figures) and DEV (2026-03-01 with
targets listed 1-15 March, 200 readers, entirely before the test split), on which every design
choice of ours is made, so the test side is only ever measured.

Embeddings come from paperfeed's own embedder and are cached under bench/.cache/recommend/
(ignored by git), in resumable chunks, for only the papers a protocol needs.
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from paperfeed.config import Settings
from paperfeed.search import embedder, indexing

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import ARXIV, require  # noqa: E402 - a sibling script

CACHE = Path(__file__).resolve().parent / ".cache" / "recommend"
MIN_BEFORE = 5
SEED = 13
CHUNK = 128


@dataclasses.dataclass(frozen=True)
class Split:
    name: str
    split: str  # first listing date of the "after" side
    end: str  # targets are listed before this date
    readers: int


TEST = Split("test", "2026-04-01", "9999-12-31", 500)
DEV = Split("dev", "2026-03-01", "2026-03-16", 200)


@dataclasses.dataclass
class Protocol:
    split: Split
    readers: list[str]
    library: dict[str, list[str]]  # reader -> arxiv ids before the split, oldest first
    targets: dict[str, list[str]]  # reader -> arxiv ids to find
    days: dict[str, list[str]]  # listing date -> every arxiv id listed that day, listing order


def load_papers() -> list[dict]:
    require(ARXIV)
    with gzip.open(ARXIV, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def day_order(split: Split, days: list[str]) -> list[str]:
    """The listing days in the fixed order a partial run takes them."""
    order = sorted(days)
    random.Random(f"{SEED}-{split.name}").shuffle(order)
    return order


def protocol(papers: list[dict], split: Split, *, days: int | None = None) -> Protocol:
    """The protocol; with `days`, only the targets on the first `days` listing days of
    `day_order` (the 500 readers stay sampled as specified; readers with no target on those
    days drop out), for machines where embedding every listing day takes too long."""
    before: dict[str, list[str]] = collections.defaultdict(list)
    after: dict[str, list[str]] = collections.defaultdict(list)
    for p in papers:  # sorted by published, then arxiv_id
        if p["published"] >= split.end:
            continue
        side = before if p["published"] < split.split else after
        for author in dict.fromkeys(p["authors"]):
            side[author].append(p["arxiv_id"])
    eligible = sorted(a for a, ids in before.items() if len(ids) >= MIN_BEFORE and a in after)
    readers = sorted(random.Random(SEED).sample(eligible, split.readers))
    published = {p["arxiv_id"]: p["published"] for p in papers}
    wanted = {published[i] for r in readers for i in after[r]}
    if days is not None:
        wanted = set(day_order(split, sorted(wanted))[:days])
        after = {r: [i for i in after[r] if published[i] in wanted] for r in readers}
        readers = [r for r in readers if after[r]]
    days: dict[str, list[str]] = collections.defaultdict(list)
    for p in papers:
        if p["published"] in wanted:
            days[p["published"]].append(p["arxiv_id"])
    return Protocol(
        split,
        readers,
        {r: before[r] for r in readers},
        {r: after[r] for r in readers},
        dict(days),
    )


def needed(proto: Protocol) -> list[str]:
    ids = {i for ids in proto.library.values() for i in ids}
    ids.update(i for ids in proto.days.values() for i in ids)
    return sorted(ids)


def text(paper: dict) -> str:
    return embedder.paper_text(paper["title"], paper["abstract"])


def embeddings(papers: list[dict], ids: list[str], *, quiet: bool = False) -> dict[str, np.ndarray]:
    """Vectors for `ids`, embedding (and caching) the ones not cached yet."""
    CACHE.mkdir(parents=True, exist_ok=True)
    have: dict[str, np.ndarray] = {}
    for chunk in sorted(CACHE.glob("chunk-*.npz")):
        data = np.load(chunk)
        have.update(zip(data["ids"].tolist(), data["vectors"], strict=True))
    todo = [i for i in ids if i not in have]
    if todo:
        by_id = {p["arxiv_id"]: p for p in papers}
        settings = Settings()
        start, done = time.perf_counter(), 0
        n = len(list(CACHE.glob("chunk-*.npz")))
        for at in range(0, len(todo), CHUNK):
            part = todo[at : at + CHUNK]
            vectors = indexing.encode(settings, [text(by_id[i]) for i in part])
            np.savez(CACHE / f"chunk-{n:05d}.npz", ids=np.array(part), vectors=vectors)
            n += 1
            have.update(zip(part, vectors, strict=True))
            done += len(part)
            if not quiet:
                rate = done / (time.perf_counter() - start)
                print(
                    f"embedded {done:,}/{len(todo):,} ({rate:.1f} papers/s)",
                    file=sys.stderr,
                    flush=True,
                )
    return {i: have[i] for i in ids}


if __name__ == "__main__":
    # Embed in the order partial runs use them: a few dev days, then test days one at a time.
    corpus = load_papers()
    steps = [(DEV, 2), (TEST, 4), (TEST, 8), (DEV, 4)] + [(TEST, n) for n in range(10, 68, 2)]
    for s, n in steps:
        proto = protocol(corpus, s, days=n)
        ids = needed(proto)
        print(
            f"{s.name} {n} days: {len(proto.readers)} readers, "
            f"{sum(map(len, proto.targets.values()))} targets, {len(ids):,} papers",
            flush=True,
        )
        embeddings(corpus, ids)
