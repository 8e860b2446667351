"""The vector index a worker searches: the ANN file on disk plus an exact tail of newer vectors.

The ANN file (search/ann.py) holds everything embedded up to its high-water mark. Vectors stored
since then, by an ingest on another machine say, are read by the mark on every search and scanned
exactly, so a long-running worker finds new papers without a restart; `paperfeed index embed`
folds them into the file and every worker then switches to the new generation. A missing or damaged
file is rebuilt from the database with a warning: inline for small catalogues, in a background
thread for large ones (semantic search falls back to keywords meanwhile).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from paperfeed.errors import IndexCorrupt
from paperfeed.search.ann import AnnFile, Snapshot
from paperfeed.store import Database
from paperfeed.store import vectors as store

log = logging.getLogger(__name__)
OVERLAP = dt.timedelta(minutes=5)  # a batch stamped earlier may commit later: re-read a margin
FOLLOW_SECONDS = 1.0  # how often a worker asks the database for vectors newer than its mark
REBUILD_PAGE = 20_000  # vectors read per database round trip when the index is written anew
INLINE_REBUILD = 20_000  # vectors a search request may wait to rebuild; more go to a thread
TAIL_WARNING = 50_000  # tail size at which the log asks for `paperfeed index embed`
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def stamp(moment: dt.datetime) -> int:
    """A vector's stored time as integer microseconds (the ANN file's high-water unit)."""
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def moment(stamp_us: int) -> dt.datetime:
    """The inverse of `stamp`."""
    return _EPOCH + dt.timedelta(microseconds=int(stamp_us))


def _chunks(
    db: Database, model: str, batch: int
) -> Iterator[tuple[list[str], np.ndarray, np.ndarray]]:
    """Every stored vector in keyset pages of `batch`, each page one float32 matrix made from
    one joined buffer (no array per row)."""
    after = None
    while True:
        with db.connect() as conn:
            rows = store.page(conn, model, after=after, limit=batch)
        if not rows:
            return
        ids = [r[0] for r in rows]
        vectors = np.frombuffer(b"".join([r[1] for r in rows]), dtype=np.float32)
        stamps = np.fromiter((stamp(r[2]) for r in rows), dtype=np.int64, count=len(rows))
        yield ids, vectors.reshape(len(rows), -1), stamps
        after = ids[-1]


def _settled(read_start: dt.datetime) -> int:
    """The mark a read that began at `read_start` completes: vectors stored before it less the
    overlap had committed by then, so the read saw them all."""
    return stamp(read_start - OVERLAP)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rebuild(
    db: Database,
    ann: AnnFile,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    batch: int = REBUILD_PAGE,
) -> int:
    """Write a new ANN file from every vector in the database; returns how many it holds."""
    with ann.locked():
        return _write_all(db, ann, on_progress=on_progress, batch=batch)


def _write_all(
    db: Database,
    ann: AnnFile,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    batch: int = REBUILD_PAGE,
) -> int:
    started = _now()
    with db.connect() as conn:
        dim = store.dimension(conn, ann.model)
    chunks = _chunks(db, ann.model, batch)
    ann.write(chunks, dim=dim or 0, high_water=_settled(started), on_progress=on_progress)
    return ann.describe().get("count", 0)


def update(
    db: Database, ann: AnnFile, *, on_progress: Callable[[int, int], None] | None = None
) -> int:
    """Fold vectors stored since the file's high-water mark into it (building the file when it
    is missing or damaged); returns how many vectors were added."""
    with ann.locked():
        try:
            base = ann.load(view=False)
        except IndexCorrupt as exc:
            if ann.generation() is not None:
                log.warning("vector index unusable (%s): rebuilding it from the database", exc)
            return _write_all(db, ann, on_progress=on_progress)
        started = _now()
        with db.connect() as conn:
            unchanged = store.window(conn, ann.model, after=moment(base.high_water)) == _held_after(
                base, base.high_water
            )
        fresh = [] if unchanged else _newer(db, ann.model, base, base.high_water, {})[0]
        if not fresh:
            return 0
        ids = [i for i, _v, _s in fresh]
        vectors = np.stack([v for _i, v, _s in fresh])
        stamps = np.array([s for _i, _v, s in fresh], dtype=np.int64)
        ann.write(
            [(ids, vectors, stamps)],
            dim=base.dim or vectors.shape[1],
            high_water=_settled(started),
            base=base,
            on_progress=on_progress,
        )
        return len(ids)


def _held_after(snapshot: Snapshot, mark: int) -> tuple[int, dt.datetime | None]:
    """(how many, newest time) of the snapshot's vectors stored after `mark`: what the
    database's window should say when nothing has changed since the file was written."""
    later = snapshot.stamps[snapshot.stamps > mark]
    return len(later), moment(int(later.max())) if len(later) else None


def _newer(
    db: Database, model: str, snapshot: Snapshot | None, mark: int | None, known: dict[str, int]
):
    """(id, vector, stamp) of vectors stored after `mark` that neither the snapshot nor `known`
    (id -> stamp) holds in that version, and the stamps of every vector read."""
    with db.connect() as conn:
        rows = store.added_since(conn, model, after=None if mark is None else moment(mark))
        read = [stamp(r.created_at) for r in rows]
        if snapshot is not None and len(snapshot) and rows:
            pos = snapshot.position([r.arxiv_id for r in rows])
            rows = [
                r
                for r, p in zip(rows, pos, strict=True)
                if p < 0 or int(snapshot.stamps[p]) != stamp(r.created_at)
            ]
        rows = [r for r in rows if known.get(r.arxiv_id) != stamp(r.created_at)]
        if not rows:
            return [], read
        blobs = store.vectors_of(conn, model, [r.arxiv_id for r in rows])
    fresh = [
        (r.arxiv_id, np.frombuffer(blobs[r.arxiv_id], dtype=np.float32), stamp(r.created_at))
        for r in rows
        if r.arxiv_id in blobs
    ]
    return fresh, read


class VectorIndex:
    """One model's vectors for one database, as a worker searches them."""

    def __init__(self, ann: AnnFile) -> None:
        self.ann = ann
        self.model = ann.model
        self.snapshot: Snapshot | None = None
        self.tail_ids: list[str] = []
        self.tail = np.zeros((0, 0), dtype=np.float32)
        self._tail_row: dict[str, int] = {}
        self._tail_stamp: dict[str, int] = {}
        self._lock = threading.Lock()  # one refresh at a time (held across database reads)
        # Held while the searchable state (snapshot, tail, tail_ids, ...) changes and while a
        # search takes its references, so a search never pairs a new tail with old ids. Not
        # _lock: that one is held across database reads and inline rebuilds.
        self._state = threading.Lock()
        self._rebuilding: threading.Thread | None = None
        self._warned_tail = False
        self._shadowed = 0
        self._generation: int | None | str = "unopened"
        self._mark: int | None = None
        self._window: tuple | None = None
        self._checked = 0.0

    def refresh(self, db: Database, *, force: bool = False) -> int:
        """Switch to a newer ANN generation if one was published, then (at most every
        FOLLOW_SECONDS unless forced) read vectors stored since the mark; returns how many new
        vectors arrived in the tail."""
        with self._lock:  # one refresh at a time, so no vector is appended twice
            if self._rebuilding is not None:
                if self._rebuilding.is_alive():
                    return 0
                self._rebuilding = None
            generation = self.ann.generation()
            if generation != self._generation:
                if not self._open(db, generation):
                    return 0
            elif not force and time.monotonic() - self._checked < FOLLOW_SECONDS:
                return 0
            return self._follow(db)

    def _open(self, db: Database, generation: int | None) -> bool:
        try:
            snapshot = self.ann.load(view=True)
        except IndexCorrupt as exc:
            with db.connect() as conn:
                total = store.count(conn, self.model)
            if generation is None and total == 0:
                snapshot = None  # nothing embedded yet: follow the database until there is
            else:
                if generation is None:
                    log.info(
                        "no vector index at %s yet: building it from %d vectors",
                        self.ann.dir,
                        total,
                    )
                else:
                    log.warning("vector index unusable (%s): rebuilding it from the database", exc)
                if total > INLINE_REBUILD:
                    self._rebuilding = threading.Thread(
                        target=self._rebuild, args=(db,), name="paperfeed-index", daemon=True
                    )
                    self._rebuilding.start()
                    return False
                update(db, self.ann)
                snapshot = self.ann.load(view=True)
                generation = snapshot.generation
        with self._state:
            self.snapshot, self._generation = snapshot, generation
            # What the new generation holds replaces the tail; anything newer is read again.
            self.tail_ids, self.tail = [], np.zeros((0, 0), dtype=np.float32)
            self._tail_row, self._tail_stamp = {}, {}
            self._shadowed = 0  # tail vectors that replace one in the file
        self._mark = snapshot.high_water if snapshot is not None else None
        # (count, newest time) of vectors after the mark as last seen: at first, those the file
        # holds, so a worker opening a file written just after a bulk load does not re-read it.
        self._window = _held_after(snapshot, snapshot.high_water) if snapshot is not None else None
        return True

    def _rebuild(self, db: Database) -> None:
        try:
            update(db, self.ann)
        except Exception:  # a background thread has no caller to tell: log and retry later
            log.exception("rebuilding the vector index failed")

    def _follow(self, db: Database) -> int:
        self._checked = time.monotonic()
        started = _now()
        after = None if self._mark is None else moment(self._mark)
        with db.connect() as conn:
            window = store.window(conn, self.model, after=after)
        if window == self._window:  # nothing stored or removed after the mark since last time
            self._advance(_settled(started))
            return 0
        fresh, read = _newer(db, self.model, self.snapshot, self._mark, self._tail_stamp)
        # Everything stored before the read began, less the overlap, has now been seen.
        self._mark = max(self._mark or 0, _settled(started))
        later = [s for s in read if s > self._mark]
        self._window = (len(later), moment(max(later)) if later else None)
        with self._state:
            self._append(fresh)
        if len(self.tail_ids) > TAIL_WARNING and not self._warned_tail:
            self._warned_tail = True
            log.warning(
                "%d vectors are not in the vector index file yet; run `paperfeed index "
                "embed` (or `index rebuild`) to fold them in",
                len(self.tail_ids),
            )
        return len(fresh)

    def _advance(self, mark: int) -> None:
        """Move the mark up to `mark` after a check that found nothing new after it: what is
        stored after the old mark is then what this index holds, so the new window is counted
        from the held stamps, not read. Without it a worker opened on a file written just after
        a bulk load counted every vector of the load once a second (15 ms of CPU at 100,000)
        until the next vector arrived."""
        if self._mark is None or mark <= self._mark:
            return
        later: list[int] = []
        snapshot = self.snapshot
        if snapshot is not None and len(snapshot):
            newer = snapshot.stamps > mark
            if newer.any():
                tail = self._tail_row
                pairs = zip(snapshot.ids[newer], snapshot.stamps[newer], strict=True)
                later = [int(s) for i, s in pairs if str(i) not in tail]
        later += [s for s in self._tail_stamp.values() if s > mark]
        self._mark = mark
        self._window = (len(later), moment(max(later)) if later else None)

    def _append(self, fresh) -> None:
        appended: list[tuple[str, np.ndarray]] = []
        for arxiv_id, vector, when in fresh:
            row = self._tail_row.get(arxiv_id)
            if row is not None:  # re-embedded after its text changed
                self.tail[row] = vector
            else:
                self._tail_row[arxiv_id] = len(self.tail_ids) + len(appended)
                appended.append((arxiv_id, vector))
            self._tail_stamp[arxiv_id] = when
        if appended:
            if self.snapshot is not None and len(self.snapshot):
                pos = self.snapshot.position([i for i, _v in appended])
                self._shadowed += int((pos >= 0).sum())
            block = np.stack([v for _i, v in appended])
            self.tail = block if self.tail.size == 0 else np.vstack([self.tail, block])
            self.tail_ids.extend(i for i, _v in appended)

    def __len__(self) -> int:
        base = len(self.snapshot) if self.snapshot is not None else 0
        return base + len(self.tail_ids) - self._shadowed

    def holds(self, arxiv_ids: list[str]) -> set[str]:
        """Those of these papers whose vector the index has (in the file or the tail)."""
        found = {i for i in arxiv_ids if i in self._tail_row}
        snapshot = self.snapshot
        if snapshot is not None and len(snapshot) and arxiv_ids:
            pos = snapshot.position(arxiv_ids)
            found.update(i for i, p in zip(arxiv_ids, pos, strict=True) if p >= 0)
        return found

    def nearest(self, vector: np.ndarray, *, k: int, exclude: str | None = None):
        """(id, cosine similarity) of the k closest papers: approximate over the file, exact
        over the tail."""
        vector = np.asarray(vector, dtype=np.float32)
        found: dict[str, float] = {}
        with self._state:  # a consistent view; a follow after this only appends past `rows`
            snapshot, shadowed, tail_row = self.snapshot, self._shadowed, self._tail_row
            tail, tail_ids = self.tail, self.tail_ids
            rows = len(tail_ids)
            scores = tail @ vector if rows else None
        if snapshot is not None and len(snapshot):
            for arxiv_id, score in snapshot.search(vector, k + 1 + shadowed):
                if arxiv_id not in tail_row:  # the tail holds its newer vector
                    found[arxiv_id] = score
        if scores is not None:
            top = np.argsort(-scores, kind="stable")[: k + 1]
            for i in top:
                found[tail_ids[i]] = float(scores[i])
        if exclude is not None:
            found.pop(exclude, None)
        ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:k]
