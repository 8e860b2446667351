"""Semantic and hybrid search with the real packaged all-MiniLM-L6-v2 model: embedding pending
papers, paraphrase queries, fusion, similar papers, and a worker following new vectors."""

from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from paperfeed import search
from paperfeed.cli import app
from paperfeed.search import embedder, indexing
from paperfeed.store import papers

from .conftest import make_paper

pytestmark = pytest.mark.skipif(
    not embedder.available(), reason="the embeddings extra (sentence-transformers) is not installed"
)

TEXTS = [
    (
        "TIES-Merging: Resolving Interference When Merging Models",
        "Combining several fine-tuned checkpoints into one network loses accuracy because "
        "parameter "
        "updates disagree in sign; we trim small updates, elect a sign and average what agrees.",
    ),
    (
        "Latent Diffusion for Video",
        "We generate short video clips with a denoising diffusion "
        "model operating in a compressed latent space.",
    ),
    (
        "Protein Folding with Transformers",
        "Attention-based networks predict the 3D structure of proteins from amino-acid sequences.",
    ),
    (
        "A Survey of Reinforcement Learning from Human Feedback",
        "We review methods that align "
        "language models with human preferences using reward models and policy optimisation.",
    ),
]


@pytest.fixture
def embedded(db, settings):
    with db.transaction() as conn:
        papers.upsert_many(
            conn, [make_paper(i + 1, title=t, abstract=a) for i, (t, a) in enumerate(TEXTS)]
        )
    s = dataclasses.replace(settings, embedding_batch_size=3)
    assert indexing.status(db, s)["pending"] == 4
    assert indexing.embed_pending(db, s) == 4
    status = indexing.status(db, s)
    assert (status["embedded"], status["pending"], status["embedding_extra"]) == (4, 0, True)
    assert indexing.embed_pending(db, s) == 0  # nothing is embedded twice
    return db, s


def test_vectors_are_unit_length_and_deterministic():
    a, b = embedder.encode(["merging models", "merging models"], model=embedder.DEFAULT_MODEL)
    assert abs(float(a @ a) - 1.0) < 1e-5 and float(a @ b) > 0.9999


def test_a_paraphrase_finds_the_paper_by_meaning(embedded):
    db, s = embedded
    q = "averaging fine-tuned networks when their weight updates conflict in direction"
    keyword = search.search(db, q, mode="keyword", settings=s)
    semantic = search.search(db, q, mode="semantic", settings=s)
    assert semantic.mode == "semantic" and semantic.notice is None
    assert semantic.hits[0].paper.arxiv_id == "2511.00001"
    hybrid = search.search(db, q, settings=s)
    assert hybrid.mode == "hybrid" and hybrid.hits[0].paper.arxiv_id == "2511.00001"
    assert {h.paper.arxiv_id for h in keyword.hits} <= {h.paper.arxiv_id for h in hybrid.hits}


def test_filters_apply_to_semantic_hits(embedded):
    """Every filter holds in the semantic and hybrid modes: the video paper is found by meaning,
    and a filter it fails removes it (and anything else failing it) from every mode."""
    db, s = embedded
    with db.transaction() as conn:
        papers.upsert(
            conn,
            make_paper(
                2,
                version=2,
                title=TEXTS[1][0],
                abstract=TEXTS[1][1],
                code_url="https://github.com/a/b",
            ),
        )
        papers.upsert_many(
            conn,
            [
                make_paper(
                    i + 1,
                    version=2,
                    title=t,
                    abstract=a,
                    authors=["Sanja Fidler"] if i == 0 else ["Jun Gao"],
                    categories=["cs.CV"] if i == 1 else ["cs.LG"],
                )
                for i, (t, a) in enumerate(TEXTS)
            ],
        )
    q = "making short films with generative models"
    for mode in ("semantic", "hybrid"):
        found = search.search(db, q, mode=mode, has_code=True, settings=s)
        assert found.mode == mode and [h.paper.arxiv_id for h in found.hits] == ["2511.00002"]
        assert (
            search.search(db, q, mode=mode, has_code=True, categories=["cs.LG"], settings=s).hits
            == []
        )
        merging = 'combining fine-tuned checkpoints author:"Sanja Fidler"'
        by = search.search(db, merging, mode=mode, settings=s)
        assert by.mode == mode and [h.paper.arxiv_id for h in by.hits] == ["2511.00001"]
        gao = search.search(db, f'{q} author:"Jun Gao"', mode=mode, settings=s).hits
        assert gao[0].paper.arxiv_id == "2511.00002" and "2511.00001" not in str(gao)
        nobody = search.search(db, f"{q} author:Nobody", mode=mode, settings=s)
        assert nobody.hits == [] and "Nobody" in nobody.notice
        phrase = search.search(db, f'{q} "denoising diffusion"', mode=mode, settings=s)
        assert [h.paper.arxiv_id for h in phrase.hits] == ["2511.00002"]
        cats = search.search(db, q, mode=mode, categories=["cs.CV"], settings=s)
        assert [h.paper.arxiv_id for h in cats.hits] == ["2511.00002"]
        with db.transaction() as conn:
            papers.set_hidden(conn, "2511.00002", True)
        assert "2511.00002" not in [
            h.paper.arxiv_id for h in search.search(db, q, mode=mode, settings=s).hits
        ]
        with db.transaction() as conn:
            papers.set_hidden(conn, "2511.00002", False)


def test_nonsense_finds_nothing_and_says_so(embedded):
    """A query nothing is about: no semantic candidate reaches the floor, so every mode finds
    nothing and the answer says so, on the page and in the API too."""
    db, s = embedded
    for mode in ("semantic", "hybrid"):
        r = search.search(db, "qwxzv plorf zzzk", mode=mode, settings=s)
        assert r.mode == mode and r.hits == [] and r.notice == search.NOTHING_CLOSE
    assert search.search(db, "protein structure prediction", mode="semantic", settings=s).hits


def test_an_exact_title_comes_first_in_every_mode_without_a_vector(embedded):
    """A paper stored after the embedding run has no vector: typed by its exact title it is
    still the first result in every mode, not buried below papers that have one."""
    db, s = embedded
    with db.transaction() as conn:
        papers.upsert(
            conn,
            make_paper(
                7,
                title="Reward models for language model alignment",
                abstract="We align language models with human preferences using reward models.",
            ),
        )
    assert search.vector_index(db, s).holds(["2511.00007", "2511.00004"]) == {"2511.00004"}
    for mode in ("keyword", "semantic", "hybrid"):
        r = search.search(db, "Reward models for language model alignment", mode=mode, settings=s)
        assert r.mode == mode and r.hits[0].paper.arxiv_id == "2511.00007", mode


def test_similar_papers_and_a_worker_following_new_vectors(embedded):
    db, s = embedded
    before = search.similar(db, "2511.00002", settings=s, limit=3)
    assert "2511.00002" not in [h.paper.arxiv_id for h in before] and len(before) == 3
    with db.transaction() as conn:
        video = make_paper(9, title="Video diffusion models", abstract="Models that make videos.")
        papers.upsert(conn, video)
    indexing.embed_pending(db, s)
    after = search.similar(db, "2511.00002", settings=s, limit=1)
    assert after[0].paper.arxiv_id == "2511.00009"  # picked up without a restart


def test_index_commands(db, database_url, tmp_path):
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(1))
    runner = CliRunner(env={"COLUMNS": "200", "PAPERFEED_INDEX_DIR": str(tmp_path / "index")})
    status = runner.invoke(app, ["--database-url", database_url, "index", "status"])
    assert status.exit_code == 0 and "pending: 1" in status.output
    embed = runner.invoke(app, ["--database-url", database_url, "index", "embed"])
    assert embed.exit_code == 0 and "Embedded 1 papers." in embed.output


def test_a_reworded_paper_is_embedded_again_and_the_index_follows(embedded):
    """A newer version with a new abstract drops the stale vector; re-embedding replaces it in a
    running worker's index."""
    db, s = embedded
    q = "predicting three-dimensional protein shapes"
    assert search.search(db, q, mode="semantic", settings=s).hits[0].paper.arxiv_id == "2511.00003"
    with db.transaction() as conn:
        papers.upsert(
            conn,
            make_paper(
                3,
                version=2,
                title="Sorting networks on GPUs",
                abstract="Fast parallel sorting of integers on graphics processors.",
            ),
        )
    assert indexing.status(db, s)["pending"] == 1
    assert indexing.embed_pending(db, s) == 1
    hits = search.search(
        db, "parallel integer sorting on graphics cards", mode="semantic", settings=s
    ).hits
    assert hits[0].paper.arxiv_id == "2511.00003"
    index = search.vector_index(db, s)
    assert len(index) == 4  # replaced in place, not appended


def test_ingest_with_embed_makes_papers_findable_by_meaning(db, database_url, tmp_path):
    import json

    f = tmp_path / "p.jsonl"
    f.write_text(
        "\n".join(
            json.dumps({"arxiv_id": f"2511.{i + 1:05d}", "title": t, "abstract": a})
            for i, (t, a) in enumerate(TEXTS)
        )
    )
    runner = CliRunner(env={"COLUMNS": "200", "PAPERFEED_INDEX_DIR": str(tmp_path / "index")})
    out = runner.invoke(app, ["--database-url", database_url, "ingest", "jsonl", str(f), "--embed"])
    assert out.exit_code == 0, out.output
    assert "Embedded 4 papers." in out.output


def test_a_days_search_ranks_that_days_papers_by_meaning(db, settings):
    """A digest's topic searches one day. Tried: 400 papers of another day all nearer to the
    query than the day's one paper, so the catalogue's nearest 300 hold none of that day; the
    day's paper must still be found, and its own vector ranks it (stored vectors, no model)."""
    import datetime as dt

    import numpy as np

    from paperfeed.store import vectors as vector_store

    rng = np.random.default_rng(3)
    axis, other = np.eye(384, dtype=np.float32)[0], np.eye(384, dtype=np.float32)[1]

    def unit(v):
        return (v / np.linalg.norm(v)).astype(np.float32)

    busy, quiet = dt.date(2025, 11, 18), dt.date(2025, 11, 19)
    rows = [make_paper(i, listing_day=busy) for i in range(1, 401)]
    rows += [make_paper(900, listing_day=quiet), make_paper(901, listing_day=quiet)]
    vecs = [unit(axis + 0.05 * rng.standard_normal(384)) for _ in range(400)]
    vecs += [unit(0.6 * axis + 0.8 * other), unit(other)]
    with db.transaction() as conn:
        papers.upsert_many(conn, rows)
        pairs = [(p.arxiv_id, v.tobytes()) for p, v in zip(rows, vecs, strict=True)]
        vector_store.save(conn, settings.embedding_model, pairs)
    found = search.search(
        db, "anything", mode="semantic", since=quiet, until=quiet, settings=settings, vector=axis
    )
    # 901 is orthogonal to the query (cosine 0): below the floor, not a match at all.
    assert [h.paper.arxiv_id for h in found.hits] == ["2511.00900"]
    # A window too wide to rank exactly still answers, from the approximate index.
    wide = search.search(
        db, "anything", mode="semantic", since=dt.date(2020, 1, 1), settings=settings, vector=axis
    )
    assert wide.hits and wide.hits[0].paper.listing_day == busy


def test_a_digest_topic_finds_the_days_paper_by_meaning(embedded):
    """A saved search in other words than the paper's: the hybrid digest still lists it, with
    the topics embedded in one batch, exactly as one at a time would."""
    import datetime as dt

    from paperfeed import digests
    from paperfeed.models import Preferences

    db, s = embedded
    topic = "merge multiple finetuned networks into a single one"
    batch = search.embed_queries(db, s, [topic, "protein structure", topic])
    assert list(batch) == [topic, "protein structure"]
    assert float(batch[topic] @ indexing.encode(s, [topic])[0]) > 0.9999
    composer = digests.Composer(
        db,
        dataclasses.replace(s, digest_search_mode="hybrid"),
        now=dt.datetime(2025, 11, 20, 12, tzinfo=dt.UTC),
    )
    prefs = Preferences(topics=[topic])
    composer.prepare([prefs])
    (_trending, mine) = composer.compose(prefs).sections
    assert mine.topic == topic and mine.papers[0].arxiv_id == "2511.00001"
    # Words alone miss it: no paper has every word of the topic (one sharing a word is noise).
    assert search.relevant(db, topic, mode="keyword", settings=s).hits == []
    noise = search.relevant(db, "qwxzv plorf merging zzzk", settings=s)
    assert noise.mode == "hybrid" and noise.hits == []  # one shared word is not relevance
