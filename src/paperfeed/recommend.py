"""A reader's personal ranking ("For you"): the model fitted on what they saved, upvoted and
dismissed, scoring papers with a reason a person understands.

The model is deliberately small, so that refitting after every click is cheap and its pick can be
explained: a paper's score is its cosine to the closest saved paper (a reader with two interests
is served both, where a centroid lands between them) plus its TF-IDF word overlap with the closest
saved paper (both standardised over the papers ranked together), less its closeness to papers the
reader dismissed. Every choice was made on the development split of bench/recommend_quality.py;
docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Any

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
NEIGHBOURS = 1  # the saved papers a paper's neighbour score averages over: the closest one
NEIGHBOUR_SHARE = 1.0  # of the embedding score: the rest is the centroid's cosine
LEXICAL_WEIGHT = 0.5  # of the standardised word-overlap score, beside the embedding's
MAX_DF = 0.1  # words in more than this share of the papers compared say nothing of a reader
DISMISS_WEIGHT = 1.0  # how hard closeness to a dismissed paper pushes down
DISMISS_FLOOR = 0.3  # cosines to dismissed papers below this count for nothing
PROTOTYPES = 256  # a larger library is summarised by this many prototypes for the neighbour score
PROTOTYPE_TERMS = 200  # the words a prototype keeps for the lexical score
HASH_FEATURES = 2**20

_HASHER = None


def _hasher():
    global _HASHER
    if _HASHER is None:
        from sklearn.feature_extraction.text import HashingVectorizer

        # Hashed, so nothing is fitted or stored: the same words map to the same columns in
        # every process, and the weights are worked out from the papers being compared.
        _HASHER = HashingVectorizer(
            n_features=HASH_FEATURES,
            ngram_range=(1, 2),
            stop_words="english",
            strip_accents="unicode",
            token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
            alternate_sign=False,
            norm=None,
            dtype=np.float32,
        )
    return _HASHER


def term_counts(texts: list[str]):
    """Word and word-pair counts of texts (title and abstract), one sparse row each."""
    return _hasher().transform(texts).tocsr()


@dataclasses.dataclass
class Profile:
    """One reader's fitted model: everything `score` needs, nothing tied to the database."""

    centroid: np.ndarray | None  # (d,) unit, or None without positives
    prototypes: np.ndarray  # (k, d) saved papers (or their summaries) the neighbour score uses
    negatives: np.ndarray  # (m, d) dismissed papers
    terms: Any = None  # scipy.sparse (untyped): word counts of the positives, for the lexical score
    neighbours: int = NEIGHBOURS
    neighbour_share: float = NEIGHBOUR_SHARE
    lexical_weight: float = LEXICAL_WEIGHT
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


def _summarise(vectors: np.ndarray, weights: np.ndarray, k: int):
    """At most k prototypes of a large library and each paper's prototype: a few rounds of
    spherical k-means from the most weighted papers, so that scoring a day stays fast whatever
    the library's size. A library of k papers or fewer is its own prototypes."""
    if len(vectors) <= k:
        return vectors, None
    centres = vectors[np.argsort(-weights, kind="stable")[:k]].copy()
    for _ in range(4):
        assign = np.argmax(vectors @ centres.T, axis=1)
        sums = np.zeros_like(centres)
        np.add.at(sums, assign, vectors * weights[:, None].astype(vectors.dtype))
        filled = np.bincount(assign, minlength=k) > 0
        centres[filled] = _unit(sums[filled])
    return centres, np.argmax(vectors @ centres.T, axis=1)


def fit(
    positives: np.ndarray,
    *,
    ages_days: np.ndarray | None = None,
    negatives: np.ndarray | None = None,
    terms=None,
    half_life: float = HALF_LIFE_DAYS,
    neighbours: int = NEIGHBOURS,
    neighbour_share: float = NEIGHBOUR_SHARE,
    lexical_weight: float = LEXICAL_WEIGHT,
    dismiss_weight: float = DISMISS_WEIGHT,
    dismiss_floor: float = DISMISS_FLOOR,
    prototypes: int = PROTOTYPES,
) -> Profile:
    """A reader's profile from unit vectors of what they liked (their ages in days, 0 for the
    newest, and their `term_counts`, row for row) and of what they dismissed."""
    positives = np.asarray(positives, dtype=np.float32).reshape(-1, _dim(positives, negatives))
    negatives = (
        np.zeros((0, positives.shape[1]), dtype=np.float32)
        if negatives is None
        else np.asarray(negatives, dtype=np.float32).reshape(-1, positives.shape[1])
    )
    options: dict[str, Any] = dict(
        neighbours=neighbours,
        neighbour_share=neighbour_share,
        lexical_weight=lexical_weight,
        dismiss_weight=dismiss_weight,
        dismiss_floor=dismiss_floor,
    )
    if not len(positives):
        return Profile(None, positives, negatives, None, **options)
    ages = np.zeros(len(positives)) if ages_days is None else np.asarray(ages_days, float)
    weights = recency_weights(ages, half_life)
    centroid = _unit((positives * weights[:, None]).sum(axis=0)).astype(np.float32)
    protos, assign = _summarise(positives, weights, prototypes)
    if terms is not None and assign is not None:
        import scipy.sparse as sp

        # Each prototype's words are its papers' words together.
        member = sp.csr_matrix(
            (np.ones(len(assign), dtype=np.float32), (assign, np.arange(len(assign)))),
            shape=(len(protos), len(assign)),
        )
        terms = _prune((member @ terms).tocsr(), terms, PROTOTYPE_TERMS)
    return Profile(centroid, protos, negatives, terms, **options)


def _prune(protos, papers, keep: int):
    """Each prototype's `keep` most distinctive words (count times the library's own idf): the
    lexical score's cost stays bounded for large libraries, small ones are compared in full."""
    df = np.bincount(papers.indices, minlength=HASH_FEATURES)
    idf = np.log((1 + papers.shape[0]) / (1 + df)).astype(np.float32)
    rows, cols, vals = [], [], []
    for r in range(protos.shape[0]):
        lo, hi = protos.indptr[r], protos.indptr[r + 1]
        idx, data = protos.indices[lo:hi], protos.data[lo:hi]
        if len(idx) > keep:
            best = np.argpartition(-(data * idf[idx]), keep)[:keep]
            idx, data = idx[best], data[best]
        rows.append(np.full(len(idx), r))
        cols.append(idx)
        vals.append(data)
    import scipy.sparse as sp

    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=protos.shape
    )


def _dim(positives, negatives) -> int:
    for m in (positives, negatives):
        if m is not None and np.asarray(m).size:
            return np.asarray(m).shape[-1]
    return 384


def _weigh(counts, idf: np.ndarray):
    """Sublinear tf times idf, rows to unit length (sparse, worked on the stored values only)."""
    weighted = counts.copy()
    weighted.data = (1 + np.log(weighted.data)) * idf[weighted.indices]
    lengths = np.diff(weighted.indptr)
    sums = np.add.reduceat(weighted.data**2, weighted.indptr[:-1]) if weighted.nnz else None
    if sums is not None:
        norms = np.sqrt(np.where(lengths > 0, sums, 1.0)).astype(np.float32)
        weighted.data /= np.repeat(np.clip(norms, 1e-12, None), lengths)
    return weighted


def lexical(library_terms, paper_terms, *, max_df: float = MAX_DF) -> np.ndarray:
    """Each paper's highest TF-IDF cosine to a library paper (or prototype), the weights counted
    over the library and the papers together; words in more than `max_df` of them are left
    out."""
    n = library_terms.shape[0] + paper_terms.shape[0]
    df = np.bincount(library_terms.indices, minlength=HASH_FEATURES) + np.bincount(
        paper_terms.indices, minlength=HASH_FEATURES
    )
    idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
    idf[df > max(max_df * n, 1)] = 0
    sims = _weigh(paper_terms, idf) @ _weigh(library_terms, idf).T
    return sims.toarray().max(axis=1)


def _standard(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)


def score(profile: Profile, vectors: np.ndarray, terms=None) -> np.ndarray:
    """Scores (higher first) of unit row vectors (and their `term_counts`) for this reader;
    zeros without any signal. Scores compare within one call only: each part is standardised
    over the papers scored together."""
    vectors = np.asarray(vectors, dtype=np.float32)
    out = np.zeros(len(vectors), dtype=np.float32)
    if not len(vectors):
        return out
    spread = 1.0
    if profile.centroid is not None:
        emb = (1 - profile.neighbour_share) * (vectors @ profile.centroid)
        if profile.neighbour_share:
            sims = vectors @ profile.prototypes.T
            k = min(profile.neighbours, sims.shape[1])
            if k == 1:
                top = sims.max(axis=1)
            else:
                top = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
            emb = emb + profile.neighbour_share * top
        spread = float(emb.std()) + 1e-9
        out += (emb - emb.mean()) / spread
        if (
            profile.lexical_weight
            and terms is not None
            and profile.terms is not None
            and profile.terms.shape[0]
        ):
            out += profile.lexical_weight * _standard(lexical(profile.terms, terms))
    if len(profile.negatives):
        near = (vectors @ profile.negatives.T).max(axis=1)
        # In the embedding score's units, so a dismissal weighs the same for every reader.
        out -= profile.dismiss_weight * np.clip(near - profile.dismiss_floor, 0, None) / spread
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


TERM_CACHE = 200_000  # rows of word counts kept per process (a few hundred bytes each)
_TERMS: dict[str, Any] = {}  # one-row scipy.sparse matrices (scipy is untyped)
_TERMS_LOCK = threading.Lock()


def _terms(keys: list[str], texts: list[str]):
    """`term_counts` of texts, remembered by key (a paper's id, or a library entry's) so a
    refresh or a ranking only hashes what it has not seen before."""
    import scipy.sparse as sp

    todo = [i for i, k in enumerate(keys) if k not in _TERMS]
    if todo:
        fresh = term_counts([texts[i] for i in todo])
        with _TERMS_LOCK:
            if len(_TERMS) + len(todo) > TERM_CACHE:
                _TERMS.clear()
            for row, i in enumerate(todo):
                _TERMS[keys[i]] = fresh[row]
    if not keys:
        return sp.csr_matrix((0, HASH_FEATURES), dtype=np.float32)
    rows: list[Any] = [_TERMS.get(k) for k in keys]
    missing = [i for i, r in enumerate(rows) if r is None]  # cleared meanwhile by another thread
    if missing:
        again = term_counts([texts[i] for i in missing])
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
        shape=(len(rows), HASH_FEATURES),
    )


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
    negative_matrix = _vectors(negatives)
    if len(positives):
        newest = max(r[2] for r in pos_rows)
        ages = np.array([(newest - r[2]).total_seconds() / 86400 for r in pos_rows])
        terms = _terms([r[4] for r in pos_rows], [r[5] for r in pos_rows])
        profile = fit(
            positives,
            ages_days=ages,
            negatives=negative_matrix if len(negatives) else None,
            terms=terms,
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
    fitted: Reader,
    ids: list[str],
    vectors: np.ndarray,
    *,
    terms=None,
    explain: int | None = None,
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
    scores = score(fitted.profile, vectors, terms[keep] if terms is not None else None)
    order = np.lexsort((np.array([ids[i] for i in keep]), -scores))
    out = []
    for n, j in enumerate(order):
        reason = _reason(fitted, vectors[j]) if explain is None or n < explain else ""
        out.append((ids[keep[j]], float(scores[j]), reason))
    return out


@dataclasses.dataclass(slots=True)
class Candidates:
    """Papers to rank: ids, unit vectors and word counts, row for row."""

    ids: list[str]
    vectors: np.ndarray
    terms: Any  # scipy.sparse.csr_matrix (scipy is untyped)

    def only(self, keep: list[int]) -> Candidates:
        return Candidates(
            [self.ids[i] for i in keep],
            self.vectors[keep] if keep else self.vectors[:0],
            self.terms[keep] if keep else self.terms[:0],
        )


def candidates(db: Database, settings: Settings, start: dt.date, end: dt.date) -> Candidates:
    """The embedded papers listed start..end."""
    with db.connect() as conn:
        rows = vector_store.listed_between(conn, settings.embedding_model, start, end)
    ids = [r[0] for r in rows]
    terms = _terms(ids, [embedder.paper_text(r[2], r[3]) for r in rows])
    return Candidates(ids, _vectors([r[1] for r in rows]), terms)


def _rank(fitted: Reader, c: Candidates, *, explain: int | None) -> list[tuple[str, float, str]]:
    return rank_vectors(fitted, c.ids, c.vectors, terms=c.terms, explain=explain)


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
    found = candidates(db, settings, start, end)
    if not found.ids:
        return []
    return _papers(db, _rank(fitted, found, explain=limit)[:limit])


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
    if fitted.cold:
        return []
    found = candidates(db, settings, start, end)
    ranked = _rank(fitted, found, explain=explain if explain is not None else limit)
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
        found = candidates(db, settings, start, latest)
        with db.connect() as conn:
            seen = library_store.seen_among(conn, user.id, found.ids)
        fresh = found.only([i for i, a in enumerate(found.ids) if a not in seen])
        ranked = _rank(fitted, fresh, explain=PER_VISIT)[:PER_VISIT]
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
    if fitted.cold:
        return _trending(db, fitted, limit=limit)
    # New papers are the ones listed in the last days; of those, the ones added since the mark.
    found = candidates(db, settings, latest - dt.timedelta(days=NEW_DAYS - 1), latest)
    if since is not None:
        wanted = set(since)
        found = found.only([i for i, a in enumerate(found.ids) if a in wanted])
    if not found.ids:
        return []
    return _papers(db, _rank(fitted, found, explain=limit)[:limit])
