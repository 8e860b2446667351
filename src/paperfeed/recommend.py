"""A reader's personal ranking ("For you"), the service: their model (taste.py) fitted from
what they saved, upvoted and dismissed in the store, refitted when that changes, and the
rankings with a reason for every pick that /for-you, the day pages, the digest, the private feed
and the API show.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Any

import numpy as np

from paperfeed import feeds, taste
from paperfeed.config import Settings
from paperfeed.errors import InvalidInput
from paperfeed.models import Paper, User
from paperfeed.search import embedder, indexing, semantic
from paperfeed.store import Database
from paperfeed.store import library as library_store
from paperfeed.store import papers as paper_store
from paperfeed.store import reading as reading_store
from paperfeed.store import vectors as vector_store


# -- the service: a reader's model from the store, and their rankings -----------------------------
@dataclasses.dataclass(slots=True)
class Pick:
    """A paper ranked for a reader, with why."""

    paper: Paper
    score: float
    reason: str


@dataclasses.dataclass(slots=True)
class Reader:
    """A reader's fitted model with what explains it: the titles behind each positive row."""

    profile: taste.Profile
    positives: np.ndarray  # (n, d) every positive, for reasons
    titles: list[str]  # one per positive row
    kinds: list[str]  # "saved" or "upvoted", per row
    library_ids: set[str]  # arXiv ids in the library (left out of rankings)
    dismissed_ids: set[str]
    stamp: tuple  # the signals' fingerprint (library_store.Signals) and the Words' day
    terms: Any = None  # the positives' weighted word rows and ages in days, as fitted: a
    ages: np.ndarray | None = None  # refit after a dismissal reuses them

    @property
    def cold(self) -> bool:
        return not len(self.positives)


TERM_CACHE = 200_000  # rows of word counts kept per process (a few hundred bytes each)
WORD_PAPERS = 5_000  # the recent papers word weights are counted over
BACKGROUND_PAPERS = 1_000  # the most recent of them: the listing the linear model sets apart
_TERMS: dict[str, Any] = {}  # one-row scipy.sparse matrices (scipy is untyped)
_TERMS_LOCK = threading.Lock()


def _terms(keys: list[str], texts: list[str]):
    """`term_counts` of texts, remembered by key (a paper's id, or a library entry's) so a
    refresh or a ranking only hashes what it has not seen before."""
    import scipy.sparse as sp

    todo = [i for i, k in enumerate(keys) if k not in _TERMS]
    if todo:
        fresh = taste.term_counts([texts[i] for i in todo])
        with _TERMS_LOCK:
            if len(_TERMS) + len(todo) > TERM_CACHE:
                _TERMS.clear()
            for row, i in enumerate(todo):
                _TERMS[keys[i]] = fresh[row]
    if not keys:
        return taste.empty_terms()
    rows: list[Any] = [_TERMS.get(k) for k in keys]
    missing = [i for i, r in enumerate(rows) if r is None]  # cleared meanwhile by another thread
    if missing:
        again = taste.term_counts([texts[i] for i in missing])
        for row, i in enumerate(missing):
            rows[i] = again[row]
    # One concatenation, not a stack of thousands of one-row matrices.
    indptr = np.concatenate([[0], np.cumsum([r.nnz for r in rows])])
    return sp.csr_matrix(
        (
            np.concatenate([r.data for r in rows]),
            np.concatenate([r.indices for r in rows]),
            indptr,
        ),
        shape=(len(rows), taste.HASH_FEATURES),
    )


_WORDS: dict[int, tuple[dt.date | None, taste.Words]] = {}
_WORDS_LOCK = threading.Lock()
_COUNT_LOCK = threading.Lock()
_WARM: set[int] = set()  # databases whose new day's weights are counted in a background thread
_COUNTING: set[int] = set()  # ... and are being counted now


def words(db: Database) -> tuple[dt.date | None, taste.Words]:
    """The word weights of the catalogue's WORD_PAPERS most recent papers and the mean row of the
    BACKGROUND_PAPERS newest, worked out once per latest listing day and process. For a
    database given to `warm_words`, a new day's weights are counted in a background thread and
    the previous day's answer meanwhile: counting takes seconds, and no request waits for it."""
    with db.connect() as conn:
        latest = paper_store.latest_day(conn, on_or_before=dt.date.max)
    cached = _WORDS.get(id(db))
    if cached is not None and cached[0] == latest:
        return cached
    if cached is not None and id(db) in _WARM:
        with _WORDS_LOCK:
            start = id(db) not in _COUNTING
            _COUNTING.add(id(db))
        if start:
            threading.Thread(
                target=_count_words, args=(db, latest), daemon=True, name="word-weights"
            ).start()
        return cached
    return _count_words(db, latest)


def _count_words(db: Database, latest: dt.date | None) -> tuple[dt.date | None, taste.Words]:
    try:
        with _COUNT_LOCK:  # one count at a time: a second caller waits and takes the first's
            cached = _WORDS.get(id(db))
            if cached is not None and cached[0] == latest:
                return cached
            found: tuple[dt.date | None, taste.Words]
            if latest is None:
                found = (latest, taste.Words.flat())
            else:
                with db.connect() as conn:
                    rows = library_store.recent_texts(conn, until=latest, limit=WORD_PAPERS)
                texts = [embedder.paper_text(r[1], r[2]) for r in rows]
                counts = _terms([r[0] for r in rows], texts)
                found = (latest, taste.Words.count(counts, listing=slice(0, BACKGROUND_PAPERS)))
            _WORDS[id(db)] = found
            return found
    finally:
        with _WORDS_LOCK:
            _COUNTING.discard(id(db))


def warm_words(db: Database) -> threading.Thread:
    """Count the word weights now, in a background thread, and from then on whenever the
    latest listing day changes (see `words`): what a server worker does at start-up, so that
    no reader's request counts them."""
    _WARM.add(id(db))
    with _WORDS_LOCK:
        _COUNTING.add(id(db))
    thread = threading.Thread(target=words, args=(db,), daemon=True, name="word-weights")
    thread.start()
    return thread


EMBED_PER_REFRESH = 32  # entries without a vector embedded per refresh (imports embed the rest)
_CACHE: dict[tuple[int, int], Reader] = {}
_CACHE_LOCK = threading.Lock()
# Listing windows read and weighed (Candidates), oldest first; a day, a week or a month each.
_WINDOWS: dict[tuple, Candidates] = {}
WINDOWS_KEPT = 16


def _vectors(blobs: list[bytes]) -> np.ndarray:
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.frombuffer(b, dtype=np.float32) for b in blobs])


def embed_library(
    db: Database, settings: Settings, user_id: int, *, limit: int | None = None, on_progress=None
) -> int:
    """Embed the reader's entries that have no vector (imports without a catalogue paper, or
    papers not embedded yet); returns how many. Nothing happens without the embeddings extra."""
    if not indexing.embedding_available(settings):
        return 0
    with db.connect() as conn:
        todo = [
            (r[0], r[2], r[3])
            for r in library_store.training(conn, user_id, settings.embedding_model)
            if r[4] is None
        ]
    todo = todo[:limit] if limit is not None else todo
    done = 0
    for at in range(0, len(todo), 64):
        part = todo[at : at + 64]
        vectors = indexing.encode(settings, [embedder.paper_text(t, a) for _i, t, a in part])
        with db.transaction() as conn:
            library_store.set_vectors(
                conn,
                user_id,
                [
                    (i, v.astype(np.float32).tobytes())
                    for (i, _t, _a), v in zip(part, vectors, strict=True)
                ],
            )
        done += len(part)
        if on_progress:
            on_progress(len(part))
    return done


def missing_vectors(db: Database, settings: Settings, user_id: int) -> int:
    """How many of the reader's entries have no vector yet."""
    with db.connect() as conn:
        rows = library_store.training(conn, user_id, settings.embedding_model)
    return sum(1 for r in rows if r[4] is None)


def _stamp(conn, user_id: int, day: dt.date | None) -> tuple:
    return (library_store.signal_stamp(conn, user_id), day)


def _positive_side(stamp: tuple) -> tuple | None:
    """The part of a stamp the positives depend on: all but the dismissals."""
    if len(stamp) != 2:
        return None
    signals, day = stamp
    return (signals._replace(dismissed=0, last_dismissed=None), day)


def reader(
    db: Database,
    settings: Settings,
    user_id: int,
    *,
    day_words: tuple[dt.date | None, taste.Words] | None = None,
) -> Reader:
    """The reader's model, refitted when their library, votes or dismissals changed since it was
    last fitted (a cheap aggregate read decides). `day_words`: `words(db)` when the caller has
    it (a digest run reads it once for every reader)."""
    semantic.blas_on_one_thread()  # the fit's and the rankings' products: see there
    day, _w = day_words or words(db)
    with db.connect() as conn:
        stamp = _stamp(conn, user_id, day)
    key = (id(db), user_id)
    cached = _CACHE.get(key)
    if cached is not None and cached.stamp == stamp:
        return cached
    if stamp[0].missing:  # entries without vectors: a few now, the rest on later refreshes
        embed_library(db, settings, user_id, limit=EMBED_PER_REFRESH)
        with db.connect() as conn:
            stamp = _stamp(conn, user_id, day)
    fitted = refresh(db, settings, user_id, stamp=stamp, weights=_w, previous=cached)
    with _CACHE_LOCK:
        if len(_CACHE) > 10_000:
            _CACHE.clear()
        _CACHE[key] = fitted
    return fitted


def refresh(
    db: Database,
    settings: Settings,
    user_id: int,
    *,
    stamp: tuple = (),
    weights: taste.Words | None = None,
    previous: Reader | None = None,
) -> Reader:
    """Fit the reader's model from the store: library entries and upvotes positive (newer
    weighing more), dismissals negative. `previous`: the reader's last fit; when only their
    dismissals changed since (its stamp says), its positives are fitted again as they are
    instead of read and weighed again."""
    model = settings.embedding_model
    with db.connect() as conn:
        dismissed_list = [a for a, _t in library_store.dismissed(conn, user_id)]
        negatives = library_store.dismissed_vectors(conn, user_id, model, ids=dismissed_list)
        dismissed_ids = set(dismissed_list)
        same = (
            previous is not None
            and previous.terms is not None
            and _positive_side(stamp) is not None
            and _positive_side(stamp) == _positive_side(previous.stamp)
        )
        if not same:
            rows = library_store.training(conn, user_id, model)
            upvoted = library_store.upvoted_training(conn, user_id, model)
    negative_matrix = _vectors(negatives) if negatives else None
    if same:
        assert previous is not None
        profile = taste.fit(
            previous.positives,
            terms=previous.terms,
            ages_days=previous.ages,
            negatives=negative_matrix,
        )
        return dataclasses.replace(
            previous, profile=profile, dismissed_ids=dismissed_ids, stamp=stamp
        )
    library_ids = {r[1] for r in rows if r[1]}
    # (title, vector, when, kind, text key, text)
    pos_rows = [
        (r[2], r[4], r[5], "saved", r[1] or f"item:{r[0]}", embedder.paper_text(r[2], r[3]))
        for r in rows
        if r[4] is not None
    ]
    pos_rows += [
        (title, blob, at, "upvoted", aid, embedder.paper_text(title, abstract))
        for aid, title, abstract, blob, at in upvoted
        if aid not in library_ids
    ]
    positives = _vectors([r[1] for r in pos_rows])
    terms, ages = None, None
    if len(positives):
        newest = max(r[2] for r in pos_rows)
        ages = np.array([(newest - r[2]).total_seconds() / 86400 for r in pos_rows])
        weights = weights or words(db)[1]
        counts = _terms([r[4] for r in pos_rows], [r[5] for r in pos_rows])
        terms = taste.weigh(counts, weights.idf)
        profile = taste.fit(positives, terms=terms, ages_days=ages, negatives=negative_matrix)
    else:
        profile = taste.fit(np.zeros((0, 0)), negatives=negative_matrix)
    return Reader(
        profile,
        positives,
        [r[0] for r in pos_rows],
        [r[3] for r in pos_rows],
        library_ids,
        dismissed_ids,
        stamp,
        terms,
        ages,
    )


COLD_REASON = "Trending: save or import papers to get picks of your own"


def _reasons(fitted: Reader, vectors: np.ndarray) -> list[str]:
    """Why each paper was picked: the liked paper it is closest to (one product for all)."""
    if fitted.cold:
        return [COLD_REASON] * len(vectors)
    if not len(vectors):
        return []
    best = np.argmax(vectors @ fitted.positives.T, axis=1)
    out = []
    for b in best:
        verb = "you saved" if fitted.kinds[b] == "saved" else "you upvoted"
        title = fitted.titles[b]
        title = title if len(title) <= 90 else title[:87].rstrip() + "…"
        out.append(f"Close to “{title}”, which {verb}")
    return out


@dataclasses.dataclass(slots=True)
class Candidates:
    """Papers to rank: their ids and taste.Papers, row for row, with what every ranking of them
    needs worked out once: each id's row and its place in id order (the tie-break)."""

    ids: list[str]
    papers: taste.Papers
    rows: dict[str, int] = dataclasses.field(init=False)
    id_order: np.ndarray = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.rows = {a: i for i, a in enumerate(self.ids)}
        self.id_order = np.empty(len(self.ids), dtype=np.int64)
        self.id_order[sorted(range(len(self.ids)), key=self.ids.__getitem__)] = np.arange(
            len(self.ids)
        )

    def only(self, keep: list[int]) -> Candidates:
        return Candidates([self.ids[i] for i in keep], self.papers.only(np.asarray(keep, int)))


def rank(
    fitted: Reader, found: Candidates, *, explain: int | None = None, limit: int | None = None
) -> list[tuple[str, float, str]]:
    """(id, score, reason) best first, the first `limit` (all when None); library papers and
    dismissed ones left out. Reasons are worked out for the first `explain` only (all when
    None)."""
    rows = found.rows
    skip = [rows[a] for a in fitted.library_ids | fitted.dismissed_ids if a in rows]
    keep = None
    if skip:
        mask = np.ones(len(found.ids), dtype=bool)
        mask[skip] = False
        keep = np.flatnonzero(mask)
    kept = len(found.ids) if keep is None else len(keep)
    if not kept:
        return []
    scores = taste.score(fitted.profile, found.papers, keep=keep)
    place = found.id_order if keep is None else found.id_order[keep]
    order = np.lexsort((place, -scores))[:limit]
    picked = order if keep is None else keep[order]
    n = len(order) if explain is None else min(explain, len(order))
    reasons = _reasons(fitted, found.papers.vectors[picked[:n]]) + [""] * (len(order) - n)
    ids = found.ids
    return [
        (ids[i], float(s), reason)
        for i, s, reason in zip(picked.tolist(), scores[order].tolist(), reasons, strict=True)
    ]


def candidates(
    db: Database,
    settings: Settings,
    start: dt.date,
    end: dt.date,
    *,
    cache: dict | None = None,
    day_words: tuple[dt.date | None, taste.Words] | None = None,
) -> Candidates:
    """The embedded papers listed start..end; remembered in `cache` (one run's, e.g. a digest
    run's) when given, else kept per process while nothing they are made of changes (reading
    and weighing a day was most of ranking it: every signed-in "For you" page ranks one).
    `day_words`: as for `reader`."""
    day, weights = day_words or words(db)
    key = (start, end, day)
    if cache is not None and key in cache:
        return cache[key]
    model = settings.embedding_model
    with db.connect() as conn:
        # A paper added, changed or hidden moves the content version; a vector stored moves the
        # newest vector's time: two indexed reads say whether a kept window is still current.
        _version, content, _changed = paper_store.catalog_stamp(conn)
        kept = (id(db), model, start, end, day, content, vector_store.newest(conn, model))
        found = _WINDOWS.get(kept)
        if found is None:
            rows = vector_store.listed_between(conn, model, start, end)
    if found is None:
        ids = [r[0] for r in rows]
        counts = _terms(ids, [embedder.paper_text(r[2], r[3]) for r in rows])
        found = Candidates(ids, taste.Papers.of(_vectors([r[1] for r in rows]), counts, weights))
        with _CACHE_LOCK:
            _WINDOWS[kept] = found
            while len(_WINDOWS) > WINDOWS_KEPT:
                _WINDOWS.pop(next(iter(_WINDOWS)))
    if cache is not None:
        cache[key] = found
    return found


def _papers(db: Database, ranked: list[tuple[str, float, str]]) -> list[Pick]:
    with db.connect() as conn:
        found = paper_store.get_many(conn, [r[0] for r in ranked])
    return [Pick(found[a], s, r) for a, s, r in ranked if a in found]


def _trending(db: Database, fitted: Reader, *, limit: int) -> list[Pick]:
    trends = feeds.trending(db, "week", limit=limit + len(fitted.dismissed_ids))
    picks = [
        Pick(t.paper, float(t.score), COLD_REASON)
        for t in trends
        if t.paper.arxiv_id not in fitted.library_ids
        and t.paper.arxiv_id not in fitted.dismissed_ids
    ]
    return picks[:limit]


def picks_for(
    db: Database,
    settings: Settings,
    user_id: int,
    start: dt.date,
    end: dt.date,
    *,
    limit: int,
    cache: dict | None = None,
    day_words: tuple[dt.date | None, taste.Words] | None = None,
) -> list[Pick]:
    """The reader's best `limit` papers listed start..end (none without a signal): the digest's
    personal section. `cache`: the run's, so a window's papers are read once per run;
    `day_words`: the run's `words(db)`, read once."""
    day_words = day_words or words(db)
    fitted = reader(db, settings, user_id, day_words=day_words)
    if fitted.cold:
        return []
    found = candidates(db, settings, start, end, cache=cache, day_words=day_words)
    if not found.ids:
        return []
    ranked = rank(fitted, found, explain=limit, limit=limit)
    if cache is None:
        return _papers(db, ranked)
    # The run's readers rank the same window: its papers are read once, not once per reader.
    key = ("papers", start, end, day_words[0])
    if key not in cache:
        with db.connect() as conn:
            cache[key] = paper_store.get_many(conn, found.ids)
    window = cache[key]
    return [Pick(window[a], s, r) for a, s, r in ranked if a in window]


def rank_period(
    db: Database,
    settings: Settings,
    user: User,
    start: dt.date,
    end: dt.date,
    *,
    limit: int = 1000,
    explain: int | None = None,
) -> list[Pick]:
    """The papers listed start..end ranked for the reader: library and dismissed papers left
    out, whatever they have seen. A reader with no signal gets the period's listing order."""
    day_words = words(db)
    fitted = reader(db, settings, user.id, day_words=day_words)
    if fitted.cold:
        return []
    found = candidates(db, settings, start, end, day_words=day_words)
    ranked = rank(fitted, found, explain=explain if explain is not None else limit, limit=limit)
    return _papers(db, ranked)


@dataclasses.dataclass(slots=True)
class Visit:
    """What /for-you shows: one batch of picks, and whether there are older batches."""

    picks: list[Pick]
    batch: dt.datetime | None
    page: int
    pages: int
    cold: bool
    new: bool  # the batch was made on this visit


NEW_DAYS = 7  # how far back a first visit looks for papers
PER_VISIT = 50


def for_you(
    db: Database, settings: Settings, user: User, *, page: int = 0, now: dt.datetime | None = None
) -> Visit:
    """Page 0: the papers listed since the reader last looked (at most NEW_DAYS back) that
    /for-you never showed them, ranked; they are remembered as seen, so each paper is shown once.
    With nothing new, page 0 is the last batch again. Page n: the n-th older batch."""
    now = now or dt.datetime.now(dt.UTC)
    fitted = reader(db, settings, user.id)
    if fitted.cold:
        return Visit(_trending(db, fitted, limit=20), None, 0, 1, True, False)
    with db.connect() as conn:
        batches = reading_store.batches(conn, user.id)
        latest = paper_store.latest_day(conn, on_or_before=now.date() + dt.timedelta(days=1))
    made = False
    if page == 0 and latest is not None:
        start = latest - dt.timedelta(days=NEW_DAYS - 1)
        found = candidates(db, settings, start, latest)
        with db.connect() as conn:
            seen = reading_store.seen_among(conn, user.id, found.ids)
        fresh = found.only([i for i, a in enumerate(found.ids) if a not in seen])
        ranked = rank(fitted, fresh, explain=PER_VISIT, limit=PER_VISIT)
        if ranked:
            with db.transaction() as conn:
                reading_store.mark_seen(conn, user.id, ranked, batch=now)
            batches = [now, *batches]
            made = True
    if not batches:
        return Visit([], None, 0, 1, False, False)
    page = max(0, min(page, len(batches) - 1))
    with db.connect() as conn:
        rows = reading_store.seen_in(conn, user.id, batches[page])
    return Visit(_papers(db, rows), batches[page], page, len(batches), False, made and page == 0)


API_MAX = 1000


def api_for_you(
    db: Database,
    settings: Settings,
    user: User,
    *,
    day: dt.date | None,
    limit: int,
    now: dt.datetime | None = None,
) -> list[Pick]:
    """GET /api/for-you: with a day, that day's papers ranked (every one when `limit` allows);
    without, the papers added to the catalogue since the reader's last such call."""
    if not 1 <= limit <= API_MAX:
        raise InvalidInput(f"limit must be between 1 and {API_MAX}")
    now = now or dt.datetime.now(dt.UTC)
    if day is not None:
        fitted = reader(db, settings, user.id)
        if fitted.cold:  # nothing to learn from: the day in the daily page's order
            listing = feeds.listing(db, feeds.Period.day(day), limit=limit)
            return [Pick(p, 0.0, COLD_REASON) for p in listing.papers]
        return rank_period(db, settings, user, day, day, limit=limit)
    fitted = reader(db, settings, user.id)
    with db.transaction() as conn:
        mark = reading_store.api_mark(conn, user.id)
        reading_store.set_api_mark(conn, user.id, now)
        latest = paper_store.latest_day(conn, on_or_before=now.date() + dt.timedelta(days=1))
        since = paper_store.created_since(conn, mark) if mark else None
    if latest is None:
        return []
    if fitted.cold:
        return _trending(db, fitted, limit=limit)
    # New papers are the ones listed in the last days; of those, the ones added since the mark.
    found = candidates(db, settings, latest - dt.timedelta(days=NEW_DAYS - 1), latest)
    if since is not None:
        wanted = set(since)
        found = found.only([i for i, a in enumerate(found.ids) if a in wanted])
    if not found.ids:
        return []
    return _papers(db, rank(fitted, found, explain=limit, limit=limit))
