"""The personal model itself (taste.py): what each signal does to a ranking, with vectors and
words made up so that each part can be seen alone. The service around it (the store, the
surfaces, privacy) is tested in test_library.py."""

from __future__ import annotations

import numpy as np

from paperfeed import taste

from .test_library import topic_vectors


def _papers(vectors, texts, words=None) -> taste.Papers:
    counts = taste.term_counts(texts)
    words = words or taste.Words.count(counts)
    return taste.Papers.of(vectors, counts, words)


def test_not_interested_sinks_a_topic_and_a_model_ignoring_it_would_not():
    vectors, labels = topic_vectors(2, 40, seed=3)
    labels = np.array(labels)
    day = _papers(vectors, ["words"] * len(vectors))
    liked = vectors[[0, 1, 40, 41]]  # one reader, two interests
    before = taste.score(taste.fit(liked), day)
    top = np.argsort(-before)[:20]
    share = np.mean(labels[top] == 1)
    assert 0.25 <= share <= 0.75  # both topics are served
    dismissed = [i for i in np.argsort(-before) if labels[i] == 1][:5]
    after = taste.score(taste.fit(liked, negatives=vectors[dismissed]), day)
    after[dismissed] = -np.inf  # a dismissed paper is never shown again
    assert np.mean(labels[np.argsort(-after)[:20]] == 1) <= share / 2
    ignoring = taste.fit(liked, negatives=vectors[dismissed], dismiss_weight=0.0)
    same = taste.score(ignoring, day)
    same[dismissed] = -np.inf
    assert np.mean(labels[np.argsort(-same)[:20]] == 1) > share / 2  # the test can fail


def test_a_rare_shared_word_outweighs_words_the_whole_listing_uses():
    rng = np.random.default_rng(0)
    flat = np.tile(rng.normal(size=384).astype(np.float32), (30, 1))  # embeddings say nothing
    flat /= np.linalg.norm(flat, axis=1, keepdims=True)
    listing = [f"neural network training study {i}" for i in range(28)]
    texts = [
        *listing,
        "neural network training of many models",  # shares only what everyone says
        "graphene lattice phonons",  # shares the reader's rare words
    ]
    counts = taste.term_counts(texts)
    words = taste.Words.count(counts)
    assert words.idf[counts[29].indices].min() > words.idf[counts[28].indices].min()
    day = taste.Papers.of(flat, counts, words)
    liked = taste.term_counts(["graphene lattice phonons in a neural network"])
    profile = taste.fit(flat[:1], terms=taste.weigh(liked, words.idf))
    scores = taste.score(profile, day)
    assert int(np.argmax(scores)) == 29
    assert scores[29] > scores[28]
    parts = taste.parts(profile, day)
    assert parts["lexical"][29] > parts["lexical"][28] and parts["linear"][29] > 0


def test_a_large_library_is_summarised_and_still_serves_each_interest():
    vectors, labels = topic_vectors(3, 200, seed=1)
    texts = [f"topic{t} words" for t in labels]
    counts = taste.term_counts(texts)
    words = taste.Words.count(counts)
    profile = taste.fit(vectors[:500], terms=taste.weigh(counts[:500], words.idf), prototypes=16)
    assert len(profile.prototypes) == 16 and profile.prototype_terms.shape[0] == 16
    day = taste.Papers.of(vectors[500:], counts[500:], words)
    scores = taste.score(profile, day)
    assert scores.shape == (100,) and np.isfinite(scores).all()


def test_no_signal_scores_nothing_and_dismissals_alone_still_count():
    vectors, _labels = topic_vectors(2, 10)
    day = _papers(vectors, ["a b"] * 20)
    assert taste.fit(np.zeros((0, 384))).empty
    assert not taste.score(taste.fit(np.zeros((0, 384))), day).any()
    only_no = taste.fit(np.zeros((0, 384)), negatives=vectors[:1])
    scores = taste.score(only_no, day)
    assert scores[1] < scores[15]  # close to the dismissed paper: lower


def test_papers_with_no_word_that_counts_score_without_error():
    # Every word of the last papers is in over 10% of the listing: their rows end up empty.
    texts = ["common words here"] * 10 + ["graphene lattice", "common words", "here"]
    counts = taste.term_counts(texts)
    words = taste.Words.count(counts)
    weighted = taste.weigh(counts, words.idf)
    assert weighted[-1].nnz == 0 and abs(weighted[10].multiply(weighted[10]).sum() - 1) < 1e-5
    vectors, _labels = topic_vectors(1, 13)
    profile = taste.fit(vectors[:1], terms=weighted[10:11])
    assert np.isfinite(taste.score(profile, taste.Papers.of(vectors, counts, words))).all()


def test_scoring_some_papers_equals_scoring_a_copy_of_them_alone():
    """score(keep=) works the parts out on every paper and standardises over the kept ones (a
    ranking leaves out the reader's library that way, without copying the window's matrices):
    the scores of a copy of just those papers, and each part a plain product."""
    vectors, _labels = topic_vectors(3, 30, seed=5)
    texts = [f"topic{i % 3} alpha{i % 7} beta{i % 11} gamma{i % 13} delta{i}" for i in range(90)]
    counts = taste.term_counts(texts)
    words = taste.Words.count(counts)
    day = taste.Papers.of(vectors, counts, words)
    profile = taste.fit(
        vectors[:12],
        terms=taste.weigh(counts[:12], words.idf),
        negatives=vectors[60:62],
        prototypes=4,
    )
    keep = np.array([i for i in range(90) if i % 4])
    chosen = taste.score(profile, day, keep=keep)
    assert np.allclose(chosen, taste.score(profile, day.only(keep)), rtol=0, atol=1e-5)
    assert not np.allclose(chosen, taste.score(profile, day)[keep], rtol=0, atol=1e-3)
    columns = np.union1d(counts.indices, profile.prototype_terms.indices)
    rows = day.terms[:, columns].toarray()
    got = taste.parts(profile, day)
    lexical = (rows @ profile.prototype_terms[:, columns].toarray().T).max(axis=1)
    assert got["lexical"].max() > 0 and np.allclose(got["lexical"], lexical, atol=1e-6)
    linear = rows @ profile.direction[:, columns].toarray().ravel()
    assert np.allclose(got["linear"], linear, atol=1e-6)


def test_pruning_keeps_each_rows_heaviest_words_ties_to_the_first():
    import scipy.sparse as sp

    rng = np.random.default_rng(2)
    # Values from a few levels, so that ties fall on the cut; one row short, one empty.
    dense = rng.choice([0, 0, 0, 1, 2, 3], size=(6, 400)).astype(np.float32)
    dense[4, 5:] = 0
    dense[5] = 0
    rows = taste._unit_rows(sp.csr_matrix(dense))
    pruned = taste._prune(rows.copy(), 50)
    for r in range(6):
        values = rows[r].toarray().ravel()
        cols = np.flatnonzero(values)
        # Heaviest first, ties in column order (the stable sort the model was chosen with).
        kept = sorted(cols[np.argsort(-values[cols], kind="stable")][:50])
        assert sorted(pruned[r].indices) == kept
    assert np.allclose(np.linalg.norm(pruned[:5].toarray(), axis=1), 1, atol=1e-6)


def test_a_liked_paper_on_a_crowded_topic_does_not_win_every_comparison():
    # Two liked papers: `crowded` has 30 of the day's papers close to it, `niche` none. A paper
    # a little closer to `crowded` than another is to `niche` is the less telling match.
    rng = np.random.default_rng(5)
    dim = 16
    axes = np.eye(dim, dtype=np.float32)
    crowded, niche = axes[0], axes[1]

    def near(axis, cosine):
        noise = rng.normal(size=dim).astype(np.float32)
        noise -= noise @ axis * axis
        noise /= np.linalg.norm(noise)
        return cosine * axis + np.sqrt(1 - cosine**2) * noise

    crowd = [near(crowded, 0.75) for _ in range(30)]
    others = [near(axes[2 + i % (dim - 2)], 0.9) for i in range(30)]
    vectors = np.stack([near(crowded, 0.8), near(niche, 0.7), *crowd, *others])
    day = _papers(vectors, ["words"] * len(vectors))
    liked = np.stack([crowded, niche])
    corrected = taste.parts(taste.fit(liked), day)["neighbour"]
    assert corrected[1] > corrected[0]
    plain = taste.parts(taste.fit(liked, hub_weight=0.0), day)["neighbour"]
    assert plain[0] > plain[1]  # the test can fail
    assert np.allclose(plain, (vectors @ liked.T).max(axis=1), atol=1e-6)
