"""A reader's taste: the model fitted on the papers they liked and dismissed, and how it scores
papers. Pure arithmetic over unit embeddings and hashed word counts: nothing here reads the
database (recommend.py, the service, feeds it).

A paper's score adds three parts, each standardised over the papers ranked together:

- its embedding cosine to the closest liked paper (a reader with two interests is served both,
  where a centroid lands between them), each liked paper's cosine less how close it is to the
  papers ranked with it (the mean of its HUB_NEIGHBOURS closest among them): a liked paper on a
  crowded topic, close to many of the day's papers, no longer wins every comparison (hubness
  correction, as CSLS does for cross-lingual retrieval);
- its TF-IDF cosine to the closest liked paper, the words weighted by an idf counted over the
  catalogue's recent papers (`Words`), so a rare word two papers share weighs what it should;
- a per-reader linear model over the same TF-IDF features: closeness to the recency-weighted mean
  of what the reader liked, less half the closeness to the mean of the recent listing (the papers
  they did not pick), each standardised; a Rocchio classifier, closed form, so refitting after
  every click costs milliseconds (a LinearSVC on the same features and negatives ranked no
  better on the dev split and takes 40-220 ms to fit);

less its closeness to papers the reader dismissed. Every choice was made on the development
split of bench/recommend_quality.py; docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

HASH_BITS = 18
HASH_FEATURES = 2**HASH_BITS
HALF_LIFE_DAYS = 365.0  # a liked paper's weight halves with each year it is older than the newest
LEXICAL_WEIGHT = 0.5  # of the nearest paper's standardised TF-IDF cosine
LINEAR_WEIGHT = 1.0  # of the linear model's standardised positive side
BACKGROUND_WEIGHT = 0.5  # of its standardised negative side: closeness to the listing's mean
DISMISS_WEIGHT = 1.0  # how hard closeness to a dismissed paper pushes down
DISMISS_FLOOR = 0.3  # cosines to dismissed papers below this count for nothing
MAX_DF = 0.1  # words in more than this share of the recent papers weigh nothing (as in sanity)
DENSE_FROM = 20_000  # words in the linear model from which scoring scatters it into a dense vector
PROTOTYPES = 256  # a larger library is summarised by this many prototypes for the neighbour score
PROTOTYPE_TERMS = 200  # the words a prototype keeps for the lexical score
HUB_NEIGHBOURS = 10  # a liked paper's crowding: its mean cosine to this many closest ranked papers
HUB_WEIGHT = 1.0  # how much of that crowding a liked paper's cosines lose

_HASHER = None


def _hasher():
    global _HASHER
    if _HASHER is None:
        from sklearn.feature_extraction.text import HashingVectorizer

        # Hashed, so nothing is fitted or stored: the same words map to the same columns in
        # every process.
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


def empty_terms(rows: int = 0):
    import scipy.sparse as sp

    return sp.csr_matrix((rows, HASH_FEATURES), dtype=np.float32)


@dataclasses.dataclass
class Words:
    """What a word is worth: idf over a sample of the catalogue's recent papers, and the mean
    TF-IDF row of the recent listing (the linear model's negatives). One per process and day."""

    idf: np.ndarray  # (HASH_FEATURES,) float32
    background: np.ndarray  # (HASH_FEATURES,) float32, the mean weighted row

    @classmethod
    def count(cls, counts, *, listing=None) -> Words:
        """From the word counts of recent papers; `listing`: the rows of the latest listing days
        among them (all of them when None)."""
        n = counts.shape[0]
        df = np.bincount(counts.indices, minlength=HASH_FEATURES)
        idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
        idf[df > max(MAX_DF * n, 1)] = 0
        rows = weigh(counts if listing is None else counts[listing], idf)
        mean = np.asarray(rows.sum(axis=0), dtype=np.float32).ravel() / max(rows.shape[0], 1)
        return cls(idf, mean)

    @classmethod
    def flat(cls) -> Words:
        """No catalogue to count over: every word weighs the same."""
        return cls(
            np.ones(HASH_FEATURES, dtype=np.float32), np.zeros(HASH_FEATURES, dtype=np.float32)
        )


def weigh(counts, idf: np.ndarray):
    """Sublinear tf times idf, rows to unit length (sparse, worked on the stored values only)."""
    weighted = counts.astype(np.float32, copy=True)
    weighted.data = (1 + np.log(weighted.data)) * idf[weighted.indices]
    weighted.eliminate_zeros()
    return _unit_rows(weighted)


@dataclasses.dataclass
class Papers:
    """Papers to score, row for row: unit vectors, weighted word rows, and the part of the
    linear model's score that is the same for every reader (their cosine to the listing's mean
    row). Worked out once per listing window and process, shared by every reader."""

    vectors: np.ndarray  # (n, d) float32
    terms: Any  # scipy.sparse csr (n, HASH_FEATURES), weighted unit rows
    background: np.ndarray  # (n,) float32
    _by_word: Any = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, vectors: np.ndarray, counts, words: Words) -> Papers:
        terms = weigh(counts, words.idf)
        return cls(np.asarray(vectors, dtype=np.float32), terms, terms @ words.background)

    def __len__(self) -> int:
        return len(self.vectors)

    def only(self, keep) -> Papers:
        return Papers(self.vectors[keep], self.terms[keep], self.background[keep])

    @property
    def by_word(self):
        """The word rows transposed, (HASH_FEATURES, n) csr: a reader's sparse rows times this
        visit only the words they hold, where `terms @ rows.T` converted the reader's rows to a
        2^18-row matrix on every call. Made once per window (all readers share it); two threads
        making it at once make the same matrix."""
        if self._by_word is None:
            self._by_word = self.terms.T.tocsr()
        return self._by_word


@dataclasses.dataclass
class Profile:
    """One reader's fitted model: everything `score` needs, nothing tied to the database."""

    prototypes: np.ndarray  # (k, d) liked papers (or their summaries): the neighbour scores
    prototype_terms: Any  # scipy.sparse (k, HASH_FEATURES) weighted rows, pruned
    direction: Any  # scipy.sparse (1, HASH_FEATURES): the linear model's positive side
    negatives: np.ndarray  # (m, d) dismissed papers
    lexical_weight: float = LEXICAL_WEIGHT
    hub_weight: float = HUB_WEIGHT
    linear_weight: float = LINEAR_WEIGHT
    background_weight: float = BACKGROUND_WEIGHT
    dismiss_weight: float = DISMISS_WEIGHT
    dismiss_floor: float = DISMISS_FLOOR

    @property
    def liked(self) -> bool:
        return bool(len(self.prototypes))

    @property
    def empty(self) -> bool:
        return not self.liked and not len(self.negatives)


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
    import scipy.sparse as sp

    centres = vectors[np.argsort(-weights, kind="stable")[:k]].copy()
    weighted = vectors * weights[:, None].astype(vectors.dtype)
    rows = np.arange(len(vectors))
    for _ in range(4):
        assign = np.argmax(vectors @ centres.T, axis=1)
        member = sp.csr_matrix((np.ones(len(rows), np.float32), (assign, rows)), (k, len(rows)))
        sums = np.asarray(member @ weighted)
        filled = np.bincount(assign, minlength=k) > 0
        centres[filled] = _unit(sums[filled])
    return centres, np.argmax(vectors @ centres.T, axis=1)


def _prune(rows, keep: int):
    """Each row's `keep` heaviest words, back to unit length: the lexical score's cost stays
    bounded for large libraries; rows with fewer words are kept whole."""
    import scipy.sparse as sp

    lengths = np.diff(rows.indptr)
    if not len(lengths) or lengths.max() <= keep:
        return rows
    row_of = np.repeat(np.arange(rows.shape[0]), lengths)
    order = _by_row_heaviest(row_of, rows.data)
    place = np.arange(len(order)) - np.repeat(rows.indptr[:-1], lengths)
    chosen = order[place < keep]
    pruned = sp.csr_matrix(
        (rows.data[chosen], (row_of[chosen], rows.indices[chosen])), shape=rows.shape
    )
    return _unit_rows(pruned)


def _by_row_heaviest(row_of: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Positions ordered by row, heaviest value first, ties in position order (a stable sort).
    Values are positive float32: their bit patterns sort as they do, so row, value and position
    pack into one int64 key per position and an unstable sort of those unique keys (several
    times faster than a stable argsort of floats) gives the stable order."""
    n = len(values)
    row_bits, pos_bits = int(row_of[-1]).bit_length() if n else 0, max(n - 1, 0).bit_length()
    if values.dtype != np.float32 or row_bits + pos_bits > 31 or (n and values.min() <= 0):
        return np.argsort(row_of + (1 - values.astype(np.float64)), kind="stable")
    heavier_first = np.uint32(0x7FFFFFFF) - values.view(np.uint32)  # positive floats < 2^31
    keys = (row_of.astype(np.int64) << (32 + pos_bits)) | (
        heavier_first.astype(np.int64) << pos_bits
    )
    keys |= np.arange(n, dtype=np.int64)
    keys.sort()
    return keys & ((1 << pos_bits) - 1)


def _unit_rows(rows):
    """Sparse rows scaled to unit length, in place of their values."""
    lengths = np.diff(rows.indptr)
    if rows.nnz:
        # bincount, not add.reduceat: rows may be empty, the last ones too.
        row_of = np.repeat(np.arange(rows.shape[0]), lengths)
        sums = np.bincount(
            row_of, weights=rows.data.astype(np.float64) ** 2, minlength=len(lengths)
        )
        norms = np.sqrt(np.clip(sums, 1e-24, None)).astype(rows.dtype)
        rows.data /= np.repeat(norms, lengths)
    return rows


def fit(
    positives: np.ndarray,
    *,
    terms=None,
    ages_days: np.ndarray | None = None,
    negatives: np.ndarray | None = None,
    half_life: float = HALF_LIFE_DAYS,
    prototypes: int = PROTOTYPES,
    **weights: float,
) -> Profile:
    """A reader's profile from unit vectors of what they liked (with their weighted word rows,
    `weigh`, and ages in days, 0 for the newest, row for row) and of what they dismissed.
    `weights`: the Profile's weights, to try others (bench)."""
    import scipy.sparse as sp

    dim = _dim(positives, negatives)
    positives = np.asarray(positives, dtype=np.float32).reshape(-1, dim)
    negatives = (
        np.zeros((0, dim), dtype=np.float32)
        if negatives is None
        else np.asarray(negatives, dtype=np.float32).reshape(-1, dim)
    )
    terms = empty_terms(len(positives)) if terms is None else terms
    if not len(positives):
        return Profile(positives, empty_terms(), empty_terms(1), negatives)
    ages = np.zeros(len(positives)) if ages_days is None else np.asarray(ages_days, float)
    w = recency_weights(ages, half_life).astype(np.float32)
    # The linear model's positive side: the recency-weighted mean liked row, to unit length.
    direction = _unit_rows((sp.csr_matrix(w[None, :]) @ terms).tocsr())
    protos, assign = _summarise(positives, w.astype(np.float64), prototypes)
    if assign is not None:
        # Each prototype's words are its papers' words together.
        member = sp.csr_matrix(
            (w, (assign, np.arange(len(assign)))), shape=(len(protos), len(assign))
        )
        terms = _unit_rows((member @ terms).tocsr())
    return Profile(protos, _prune(terms.tocsr(), PROTOTYPE_TERMS), direction, negatives, **weights)


def _dim(positives, negatives) -> int:
    for m in (positives, negatives):
        if m is not None and np.asarray(m).size:
            return np.asarray(m).shape[-1]
    return 384


def _neighbour(cosines: np.ndarray, hub_weight: float) -> np.ndarray:
    """Each paper's best cosine to a liked paper, the liked paper's crowding taken off: its mean
    cosine to its HUB_NEIGHBOURS closest papers among these. Too few papers to tell crowding
    (fewer than twice that many): the plain closest."""
    n = len(cosines)
    if not hub_weight or n < 2 * HUB_NEIGHBOURS:
        return cosines.max(axis=1)
    crowding = np.partition(cosines, n - HUB_NEIGHBOURS, axis=0)[n - HUB_NEIGHBOURS :].mean(axis=0)
    return (cosines - hub_weight * crowding).max(axis=1)


def _standard(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)


def _sparse_rows(rows, papers: Papers) -> np.ndarray:
    """(k, n) dense products of a reader's k sparse word rows with the papers' word rows."""
    return (rows @ papers.by_word).toarray()


def parts(profile: Profile, papers: Papers, *, keep=None) -> dict[str, np.ndarray]:
    """The raw parts of the score, for the bench and for reasons; of the papers `keep` selects
    (an index array; all when None), worked out on all of them: a window's matrices are shared
    by every reader and copying them to leave out a reader's few library papers cost more than
    scoring those."""
    out: dict[str, np.ndarray] = {}
    crowded = None  # the neighbour part, already of the kept papers: crowding is counted among them
    if profile.liked:
        cosines = papers.vectors @ profile.prototypes.T
        crowded = _neighbour(cosines if keep is None else cosines[keep], profile.hub_weight)
        if profile.lexical_weight and profile.prototype_terms.nnz:
            out["lexical"] = _sparse_rows(profile.prototype_terms, papers).max(axis=0)
        if profile.linear_weight and profile.direction.nnz > DENSE_FROM:
            # Scattered into a dense vector: a sparse matrix times a dense vector is the fast
            # product for a large library; the dense copy lives for this call only.
            dense = np.zeros(HASH_FEATURES, dtype=np.float32)
            dense[profile.direction.indices] = profile.direction.data
            out["linear"] = papers.terms @ dense
        elif profile.linear_weight and profile.direction.nnz:
            out["linear"] = _sparse_rows(profile.direction, papers)[0]
    if len(profile.negatives):
        out["dismissed"] = (papers.vectors @ profile.negatives.T).max(axis=1)
    if keep is not None:
        out = {name: part[keep] for name, part in out.items()}
    if crowded is not None:
        out["neighbour"] = crowded
    return out


def score(profile: Profile, papers: Papers, *, keep=None) -> np.ndarray:
    """Scores (higher first) of these papers for this reader; zeros without any signal. Scores
    compare within one call only: each part is standardised over the papers scored together
    (the ones `keep` selects, an index array, when given; all when None)."""
    background = papers.background if keep is None else papers.background[keep]
    out = np.zeros(len(background), dtype=np.float32)
    if not len(out):
        return out
    got = parts(profile, papers, keep=keep)
    spread = 1.0
    if "neighbour" in got:
        spread = float(got["neighbour"].std()) + 1e-9
        out += _standard(got["neighbour"])
    if "lexical" in got:
        out += profile.lexical_weight * _standard(got["lexical"])
    if "linear" in got:
        out += profile.linear_weight * _standard(got["linear"])
        out -= profile.background_weight * _standard(background)
    if "dismissed" in got:
        # In the embedding score's units, so a dismissal weighs the same for every reader.
        near = np.clip(got["dismissed"] - profile.dismiss_floor, 0, None)
        out -= profile.dismiss_weight * near / spread
    return out
