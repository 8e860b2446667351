"""The ANN file: an approximate-nearest-neighbour index of one model's vectors, persisted on disk.

It is a usearch HNSW graph (cosine, half-precision vectors) with two sidecars: which paper each
key is and when its vector was stored. Files are written under a new generation name and then
published by atomically replacing a small manifest, so a reader never sees half a write; readers
map the graph read-only (`view`), so every worker on a machine shares one copy of its pages.
usearch was chosen over faiss by measurement (docs/benchmarks.md): it maps a saved index instead of
reading it, removes and replaces keys, and meets the latency and recall targets at a million papers.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from paperfeed.errors import IndexCorrupt

if TYPE_CHECKING:
    from usearch.index import Index

log = logging.getLogger(__name__)
FORMAT = 1
# Graph degree. 12 instead of 16, with EXPANSION_ADD 32 instead of 64: 2.4x the vectors per
# CPU-second to build, recall@10 0.992 against 0.996 on real queries among 20,000 vectors; degree
# 8 built 3.6x as fast (recall 0.989) but leaves less margin on catalogues of real text
# (docs/benchmarks.md, 2026-12-02 afternoon). int8 vectors: recall 0.949, not adopted.
CONNECTIVITY = 12
# Candidates kept while inserting: build quality. 64 built 1.8x faster than 128 at the same
# recall@10 on real-text queries (1.000 against 0.999), 32 1.9x faster than 64 again.
EXPANSION_ADD = 32
EXPANSION_SEARCH = 96  # candidates kept while searching: recall against speed
# Scalar type of a new graph's vectors. bf16 (same size as f16) has native dot products on CPUs
# with AVX-512 BF16 (usearch picks its kernel at run time; others convert as they did for f16):
# 1.35x the vectors per CPU-second of f16 to build here, the same recall@10 on real queries
# (docs/benchmarks.md). A graph written with f16 keeps its type until rebuilt.
DTYPE = "bf16"
ADD_PART = 20_000  # vectors per parallel add call (progress is reported between calls)
KEEP_GENERATIONS = 2  # older files are deleted; a reader mid-swap still finds the previous one


def key_of(arxiv_id: str) -> int:
    """The index key of a paper: a stable 63-bit hash of its id."""
    return int.from_bytes(hashlib.blake2b(arxiv_id.encode(), digest_size=8).digest()) >> 1


def keys_of(arxiv_ids) -> np.ndarray:
    """Index keys of several papers."""
    return np.fromiter((key_of(i) for i in arxiv_ids), dtype=np.uint64, count=len(arxiv_ids))


def slug(model: str) -> str:
    """A file-name-safe name for a model, unique per model name."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-")[-60:]
    return f"{readable}-{hashlib.sha1(model.encode()).hexdigest()[:8]}"


@dataclass
class Snapshot:
    """One loaded generation of the index: the graph and what each key means."""

    graph: Index
    keys: np.ndarray  # uint64, sorted
    ids: np.ndarray  # str, the paper of each key (same order)
    stamps: np.ndarray  # int64 microseconds since the epoch: when each vector was stored
    high_water: int  # microseconds: every vector stored at or before it is in this generation
    generation: int
    dim: int

    def __len__(self) -> int:
        return len(self.keys)

    def position(self, arxiv_ids: list[str]) -> np.ndarray:
        """Row of each paper in keys/ids/stamps, or -1 where it is not in this snapshot."""
        k = keys_of(arxiv_ids)
        if not len(self.keys):
            return np.full(len(k), -1)
        pos = np.minimum(np.searchsorted(self.keys, k), len(self.keys) - 1)
        return np.where(self.keys[pos] == k, pos, -1)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """(id, cosine similarity) of about the k nearest papers."""
        if not len(self.keys):
            return []
        matches = self.graph.search(vector, min(k, len(self.keys)))
        found = matches.keys.astype(np.uint64)
        pos = np.minimum(np.searchsorted(self.keys, found), len(self.keys) - 1)
        out = []
        for p, key, distance in zip(pos, found, matches.distances, strict=True):
            if self.keys[p] == key:
                out.append((str(self.ids[p]), 1.0 - float(distance)))
        return out


class AnnFile:
    """The persisted index of one model's vectors in one directory."""

    def __init__(self, directory: str | Path, model: str) -> None:
        self.dir = Path(directory)
        self.model = model
        self.name = slug(model)

    @property
    def manifest(self) -> Path:
        return self.dir / f"{self.name}.json"

    def _paths(self, generation: int) -> tuple[Path, Path]:
        base = f"{self.name}.{generation}"
        return self.dir / f"{base}.usearch", self.dir / f"{base}.meta.npz"

    def generation(self) -> int | None:
        """The published generation, or None when there is no index yet (cheap: one small read)."""
        try:
            return int(json.loads(self.manifest.read_text())["generation"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, OSError):
            return -1  # unreadable: load() reports it as corrupt

    def describe(self) -> dict:
        """What the manifest says (empty when there is none)."""
        try:
            return json.loads(self.manifest.read_text())
        except (FileNotFoundError, ValueError, OSError):
            return {}

    def load(self, *, view: bool = True) -> Snapshot:
        """The published index; raises IndexCorrupt when it is missing, damaged or inconsistent."""
        from usearch.index import Index

        try:
            info = json.loads(self.manifest.read_text())
        except FileNotFoundError:
            raise IndexCorrupt(f"no index at {self.manifest}") from None
        except (ValueError, OSError) as exc:
            raise IndexCorrupt(f"unreadable manifest {self.manifest}: {exc}") from None
        try:
            if info.get("format") != FORMAT or info.get("model") != self.model:
                raise IndexCorrupt(f"{self.manifest} is for another model or format")
            generation = int(info["generation"])
            graph_path, meta_path = self._paths(generation)
            with np.load(meta_path, allow_pickle=False) as meta:
                keys, ids, stamps = meta["keys"], meta["ids"], meta["stamps"]
            count, dim = int(info["count"]), int(info["dim"])
            if count:
                graph = Index.restore(str(graph_path), view=view)
                if graph is None:
                    raise IndexCorrupt(f"{graph_path} is not a usearch index")
                # usearch defines this setter after another property, so mypy sees it read-only.
                graph.expansion_search = EXPANSION_SEARCH  # type: ignore[misc]
            else:
                graph = Index(ndim=dim or 1, metric="cos", dtype=DTYPE)
            if not (len(keys) == len(ids) == len(stamps) == count == len(graph)):
                raise IndexCorrupt(f"{graph_path}: {len(graph)} vectors, manifest says {count}")
            if count and graph.ndim != dim:
                raise IndexCorrupt(f"{graph_path} has {graph.ndim} dimensions, expected {dim}")
        except IndexCorrupt:
            raise
        except Exception as exc:  # any damage inside the files: truncated, garbled, missing
            raise IndexCorrupt(f"damaged index {self.manifest}: {exc}") from None
        return Snapshot(graph, keys, ids, stamps, int(info["high_water"]), generation, dim)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the directory's writer lock: one process writes a new generation at a time."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / f"{self.name}.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def write(
        self,
        chunks: Iterable[tuple[list[str], np.ndarray, np.ndarray]],
        *,
        dim: int,
        high_water: int,
        base: Snapshot | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Publish a new generation: `base` (loaded writable, or None) plus chunks of
        (ids, vectors, stamps). A paper already present has its vector replaced; the last one
        given wins. `high_water`: every vector stored at or before it (microseconds) is in the
        result. `on_progress(added, total)` is called once with 0 and the number of vectors to add,
        then after each part added. Call inside `locked()`. Returns the new generation's number."""
        from usearch.index import Index

        # Read everything first (as half precision: what the graph stores is no finer): the total is
        # then known before the slow part, duplicates are settled once, and large parallel adds
        # keep every core busy.
        parts_ids, parts_vectors, parts_stamps = [], [], []
        for ids, vectors, stamps in chunks:
            if len(ids):
                parts_ids.append(np.asarray(ids, dtype=str))
                parts_vectors.append(np.asarray(vectors, dtype=np.float16))
                parts_stamps.append(np.asarray(stamps, dtype=np.int64))
        if parts_ids:
            new_ids = np.concatenate(parts_ids)
            keys = keys_of(new_ids)
            # The last vector given for a paper wins.
            keys, last = np.unique(keys[::-1], return_index=True)
            take = len(new_ids) - 1 - last
            new_ids, new_stamps = new_ids[take], np.concatenate(parts_stamps)[take]
            new_vectors = np.concatenate(parts_vectors)[take]
        else:
            keys, new_ids = np.zeros(0, np.uint64), np.zeros(0, str)
            new_stamps, new_vectors = np.zeros(0, np.int64), np.zeros((0, dim), np.float16)
        del parts_vectors
        if on_progress:
            on_progress(0, len(keys))
        if base is None or base.dim != dim or not len(base):
            base = None
            graph = Index(
                ndim=dim,
                metric="cos",
                dtype=DTYPE,
                connectivity=CONNECTIVITY,
                expansion_add=EXPANSION_ADD,
                expansion_search=EXPANSION_SEARCH,
            )
        else:
            graph = base.graph
            present = np.asarray(graph.contains(keys), dtype=bool) if len(keys) else None
            if present is not None and present.any():
                graph.remove(keys[present])
        step = max(ADD_PART, len(keys) // 100)
        for start in range(0, len(keys), step):
            graph.add(keys[start : start + step], new_vectors[start : start + step], threads=0)
            if on_progress:
                on_progress(min(step, len(keys) - start), len(keys))
        del new_vectors
        if base is not None:  # the base's entries, less those replaced, sorted by key
            kept = ~np.isin(base.keys, keys)
            all_keys = np.concatenate([base.keys[kept], keys])
            all_ids = np.concatenate([base.ids[kept], new_ids])
            all_stamps = np.concatenate([base.stamps[kept], new_stamps])
            order = np.argsort(all_keys, kind="stable")
            all_keys, all_ids, all_stamps = all_keys[order], all_ids[order], all_stamps[order]
        else:
            all_keys, all_ids, all_stamps = keys, new_ids, new_stamps
        if base is not None:
            high_water = max(high_water, base.high_water)
        generation = max(self.generation() or 0, 0) + 1
        graph_path, meta_path = self._paths(generation)
        self.dir.mkdir(parents=True, exist_ok=True)
        if len(all_keys):
            graph.save(str(graph_path))
        with open(meta_path, "wb") as fh:
            np.savez(
                fh,
                keys=all_keys.astype(np.uint64),
                ids=all_ids.astype(str),
                stamps=all_stamps.astype(np.int64),
            )
            fh.flush()
            os.fsync(fh.fileno())
        info = {
            "format": FORMAT,
            "model": self.model,
            "generation": generation,
            "count": len(all_keys),
            "dim": dim,
            "high_water": high_water,
            "library": "usearch",
            "connectivity": CONNECTIVITY,
            "dtype": str(graph.dtype).rsplit(".", 1)[-1].lower(),
        }
        tmp = self.manifest.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(info))
        os.replace(tmp, self.manifest)
        self._prune(generation)
        return generation

    def _prune(self, newest: int) -> None:
        for path in self.dir.glob(f"{self.name}.*.*"):
            parts = path.name[len(self.name) + 1 :].split(".")
            if parts[0].isdigit() and int(parts[0]) <= newest - KEEP_GENERATIONS:
                with contextlib.suppress(OSError):
                    path.unlink()

    def remove(self) -> None:
        """Delete every file of this index (the next use rebuilds it)."""
        for path in self.dir.glob(f"{self.name}.*"):
            with contextlib.suppress(OSError):
                path.unlink()
