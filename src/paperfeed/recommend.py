"""A reader's personal ranking ("For you"): the model fitted on what they saved, upvoted and
dismissed, scoring papers with a reason a person understands.

The model is deliberately small, so that refitting after every click is cheap and its pick can be
explained: a paper's score mixes its cosine to the reader's recency-weighted centroid with the mean
of its few highest cosines to single saved papers (a reader with two interests is served both, where
a centroid alone lands between them), less its closeness to papers the reader dismissed. Every
choice was made on the development split of bench/recommend_quality.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import numpy as np

from paperfeed import feeds
from paperfeed.config import Settings
from paperfeed.errors import InvalidInput
from paperfeed.models import Paper, User
from paperfeed.search import embedder, indexing
from paperfeed.store import Database
from paperfeed.store import library as library_store
from paperfeed.store import papers as paper_store
from paperfeed.store import vectors as vector_store

HALF_LIFE_DAYS = 365.0  # a saved paper's weight halves with each year it is older than the newest
NEIGHBOURS = 3  # the saved papers a paper's neighbour score averages over
NEIGHBOUR_SHARE = 0.5  # of the score: the rest is the centroid's cosine
DISMISS_WEIGHT = 1.0  # how hard closeness to a dismissed paper pushes down
DISMISS_FLOOR = 0.3  # cosines to dismissed papers below this count for nothing
PROTOTYPES = 256  # a larger library is summarised by this many prototypes for the neighbour score


@dataclasses.dataclass
class Profile:
    """One reader's fitted model: everything `score` needs, nothing tied to the database."""

    centroid: np.ndarray | None  # (d,) unit, or None without positives
    prototypes: np.ndarray  # (k, d) saved papers (or their summaries) the neighbour score uses
    negatives: np.ndarray  # (m, d) dismissed papers
    neighbours: int = NEIGHBOURS
    neighbour_share: float = NEIGHBOUR_SHARE
    dismiss_weight: float = DISMISS_WEIGHT
    dismiss_floor: float = DISMISS_FLOOR

    @property
    def empty(self) -> bool:
        return self.centroid is None and not len(self.negatives)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.clip(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12, None)


def recency_weights(ages_days: np.ndarray, half_life: float = HALF_LIFE_DAYS) -> np.ndarray:
    """Weights halving every `half_life` days of age (age 0: the newest signal)."""
    return np.power(0.5, np.asarray(ages_days, dtype=np.float64) / half_life)


def _summarise(vectors: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """At most k prototypes of a large library: a few rounds of spherical k-means from the most
    weighted papers, so that scoring a day stays fast whatever the library's size."""
    if len(vectors) <= k:
        return vectors
    centres = vectors[np.argsort(-weights, kind="stable")[:k]].copy()
    for _ in range(4):
        assign = np.argmax(vectors @ centres.T, axis=1)
        sums = np.zeros_like(centres)
        np.add.at(sums, assign, vectors * weights[:, None].astype(vectors.dtype))
        filled = np.bincount(assign, minlength=k) > 0
        centres[filled] = _unit(sums[filled])
    return centres


def fit(
    positives: np.ndarray,
    *,
    ages_days: np.ndarray | None = None,
    negatives: np.ndarray | None = None,
    half_life: float = HALF_LIFE_DAYS,
    neighbours: int = NEIGHBOURS,
    neighbour_share: float = NEIGHBOUR_SHARE,
    dismiss_weight: float = DISMISS_WEIGHT,
    dismiss_floor: float = DISMISS_FLOOR,
    prototypes: int = PROTOTYPES,
) -> Profile:
    """A reader's profile from unit vectors of what they liked (and their ages in days, 0 for the
    newest) and of what they dismissed."""
    positives = np.asarray(positives, dtype=np.float32).reshape(-1, _dim(positives, negatives))
    negatives = (
        np.zeros((0, positives.shape[1]), dtype=np.float32)
        if negatives is None
        else np.asarray(negatives, dtype=np.float32).reshape(-1, positives.shape[1])
    )
    if not len(positives):
        return Profile(
            None, positives, negatives, neighbours, neighbour_share, dismiss_weight, dismiss_floor
        )
    ages = np.zeros(len(positives)) if ages_days is None else np.asarray(ages_days, float)
    weights = recency_weights(ages, half_life)
    centroid = _unit((positives * weights[:, None]).sum(axis=0)).astype(np.float32)
    protos = _summarise(positives, weights, prototypes)
    return Profile(
        centroid, protos, negatives, neighbours, neighbour_share, dismiss_weight, dismiss_floor
    )


def _dim(positives, negatives) -> int:
    for m in (positives, negatives):
        if m is not None and np.asarray(m).size:
            return np.asarray(m).shape[-1]
    return 384


def score(profile: Profile, vectors: np.ndarray) -> np.ndarray:
    """Scores (higher first) of unit row vectors for this reader; zeros without any signal."""
    vectors = np.asarray(vectors, dtype=np.float32)
    out = np.zeros(len(vectors), dtype=np.float32)
    if not len(vectors):
        return out
    if profile.centroid is not None:
        out += (1 - profile.neighbour_share) * (vectors @ profile.centroid)
        if profile.neighbour_share:
            sims = vectors @ profile.prototypes.T
            k = min(profile.neighbours, sims.shape[1])
            top = (
                np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:] if k < sims.shape[1] else sims
            )
            out += profile.neighbour_share * top.mean(axis=1)
    if len(profile.negatives):
        near = (vectors @ profile.negatives.T).max(axis=1)
        out -= profile.dismiss_weight * np.clip(near - profile.dismiss_floor, 0, None)
    return out


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

    profile: Profile
    positives: np.ndarray  # (n, d) every positive, for reasons
    titles: list[str]  # one per positive row
    kinds: list[str]  # "saved" or "upvoted", per row
    library_ids: set[str]  # arXiv ids in the library (left out of rankings)
    dismissed_ids: set[str]
    stamp: tuple

    @property
    def cold(self) -> bool:
        return not len(self.positives)


EMBED_PER_REFRESH = 32  # entries without a vector embedded per refresh (imports embed the rest)
_CACHE: dict[tuple[int, int], Reader] = {}
_CACHE_LOCK = threading.Lock()


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


def _stamp(conn, user_id: int) -> tuple:
    return library_store.signal_stamp(conn, user_id)


def reader(db: Database, settings: Settings, user_id: int) -> Reader:
    """The reader's model, refitted when their library, votes or dismissals changed since it was
    last fitted (a cheap aggregate read decides)."""
    with db.connect() as conn:
        stamp = _stamp(conn, user_id)
    key = (id(db), user_id)
    cached = _CACHE.get(key)
    if cached is not None and cached.stamp == stamp:
        return cached
    if stamp[-1]:  # entries without vectors: a few now, the rest on later refreshes
        embed_library(db, settings, user_id, limit=EMBED_PER_REFRESH)
        with db.connect() as conn:
            stamp = _stamp(conn, user_id)
    fitted = refresh(db, settings, user_id, stamp=stamp)
    with _CACHE_LOCK:
        if len(_CACHE) > 10_000:
            _CACHE.clear()
        _CACHE[key] = fitted
    return fitted


def refresh(db: Database, settings: Settings, user_id: int, *, stamp: tuple = ()) -> Reader:
    """Fit the reader's model from the store: library entries and upvotes positive (newer
    weighing more), dismissals negative."""
    model = settings.embedding_model
    with db.connect() as conn:
        rows = library_store.training(conn, user_id, model)
        upvoted = library_store.upvoted_training(conn, user_id, model)
        negatives = library_store.dismissed_vectors(conn, user_id, model)
        dismissed_ids = {a for a, _t in library_store.dismissed(conn, user_id)}
    library_ids = {r[1] for r in rows if r[1]}
    pos_rows = [(r[2], r[4], r[5], "saved") for r in rows if r[4] is not None]
    pos_rows += [
        (title, blob, at, "upvoted") for aid, title, blob, at in upvoted if aid not in library_ids
    ]
    positives = _vectors([r[1] for r in pos_rows])
    negative_matrix = _vectors(negatives)
    if len(positives):
        newest = max(r[2] for r in pos_rows)
        ages = np.array([(newest - r[2]).total_seconds() / 86400 for r in pos_rows])
        profile = fit(
            positives, ages_days=ages, negatives=negative_matrix if len(negatives) else None
        )
    else:
        profile = fit(
            np.zeros((0, negative_matrix.shape[1] if len(negatives) else 384)),
            negatives=negative_matrix if len(negatives) else None,
        )
    return Reader(
        profile,
        positives,
        [r[0] for r in pos_rows],
        [r[3] for r in pos_rows],
        library_ids,
        dismissed_ids,
        stamp,
    )


def _reason(fitted: Reader, vector: np.ndarray) -> str:
    if fitted.cold:
        return "Trending: save or import papers to get picks of your own"
    sims = fitted.positives @ vector
    best = int(np.argmax(sims))
    verb = "you saved" if fitted.kinds[best] == "saved" else "you upvoted"
    title = fitted.titles[best]
    title = title if len(title) <= 90 else title[:87].rstrip() + "…"
    return f"Close to “{title}”, which {verb}"


def rank_vectors(
    fitted: Reader, ids: list[str], vectors: np.ndarray, *, explain: int | None = None
) -> list[tuple[str, float, str]]:
    """(id, score, reason) best first; library papers and dismissed ones left out. Reasons are
    worked out for the first `explain` only (all when None): they cost a pass over the library."""
    keep = [
        i
        for i, a in enumerate(ids)
        if a not in fitted.library_ids and a not in fitted.dismissed_ids
    ]
    if not keep:
        return []
    vectors = vectors[keep]
    scores = score(fitted.profile, vectors)
    order = np.lexsort((np.array([ids[i] for i in keep]), -scores))
    out = []
    for n, j in enumerate(order):
        reason = _reason(fitted, vectors[j]) if explain is None or n < explain else ""
        out.append((ids[keep[j]], float(scores[j]), reason))
    return out


def _day_vectors(db: Database, settings: Settings, start: dt.date, end: dt.date):
    with db.connect() as conn:
        rows = vector_store.listed_between(conn, settings.embedding_model, start, end)
    ids = [r[0] for r in rows]
    return ids, _vectors([r[1] for r in rows])


def _papers(db: Database, ranked: list[tuple[str, float, str]]) -> list[Pick]:
    with db.connect() as conn:
        found = paper_store.get_many(conn, [r[0] for r in ranked])
    return [Pick(found[a], s, r) for a, s, r in ranked if a in found]


def _trending(db: Database, fitted: Reader, *, limit: int) -> list[Pick]:
    trends = feeds.trending(db, "week", limit=limit + len(fitted.dismissed_ids))
    picks = [
        Pick(t.paper, float(t.score), _reason(fitted, np.zeros(1)))
        for t in trends
        if t.paper.arxiv_id not in fitted.library_ids
        and t.paper.arxiv_id not in fitted.dismissed_ids
    ]
    return picks[:limit]


def picks_for(
    db: Database, settings: Settings, user_id: int, start: dt.date, end: dt.date, *, limit: int
) -> list[Pick]:
    """The reader's best `limit` papers listed start..end (none without a signal): the digest's
    personal section."""
    fitted = reader(db, settings, user_id)
    if fitted.cold:
        return []
    ids, vectors = _day_vectors(db, settings, start, end)
    if not ids:
        return []
    return _papers(db, rank_vectors(fitted, ids, vectors, explain=limit)[:limit])


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
    fitted = reader(db, settings, user.id)
    ids, vectors = _day_vectors(db, settings, start, end)
    if fitted.cold or not ids:
        return []
    ranked = rank_vectors(fitted, ids, vectors, explain=explain if explain is not None else limit)
    return _papers(db, ranked[:limit])


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
        batches = library_store.batches(conn, user.id)
        latest = paper_store.latest_day(conn, on_or_before=now.date() + dt.timedelta(days=1))
    made = False
    if page == 0 and latest is not None:
        start = latest - dt.timedelta(days=NEW_DAYS - 1)
        ids, vectors = _day_vectors(db, settings, start, latest)
        with db.connect() as conn:
            seen = library_store.seen_among(conn, user.id, ids)
        fresh = [i for i, a in enumerate(ids) if a not in seen]
        ranked = rank_vectors(
            fitted,
            [ids[i] for i in fresh],
            vectors[fresh] if fresh else vectors[:0],
            explain=PER_VISIT,
        )[:PER_VISIT]
        if ranked:
            with db.transaction() as conn:
                library_store.mark_seen(conn, user.id, ranked, batch=now)
            batches = [now, *batches]
            made = True
    if not batches:
        return Visit([], None, 0, 1, False, False)
    page = max(0, min(page, len(batches) - 1))
    with db.connect() as conn:
        rows = library_store.seen_in(conn, user.id, batches[page])
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
            reason = _reason(fitted, np.zeros(1))
            return [Pick(p, 0.0, reason) for p in listing.papers]
        return rank_period(db, settings, user, day, day, limit=limit)
    fitted = reader(db, settings, user.id)
    with db.transaction() as conn:
        mark = library_store.api_mark(conn, user.id)
        library_store.set_api_mark(conn, user.id, now)
        latest = paper_store.latest_day(conn, on_or_before=now.date() + dt.timedelta(days=1))
        since = paper_store.created_since(conn, mark) if mark else None
    if latest is None:
        return []
    if since is None:
        start = latest - dt.timedelta(days=NEW_DAYS - 1)
        ids, vectors = _day_vectors(db, settings, start, latest)
    else:
        with db.connect() as conn:
            rows = vector_store.vectors_of(conn, settings.embedding_model, since)
        ids = [a for a in since if a in rows]
        vectors = _vectors([rows[a] for a in ids])
    if fitted.cold:
        return _trending(db, fitted, limit=limit)
    if not ids:
        return []
    return _papers(db, rank_vectors(fitted, ids, vectors, explain=limit)[:limit])
