"""The ANN vector index on disk: written at embedding time, followed by running workers through a
high-water mark, rebuilt from the database when missing or damaged; the onnxruntime embedder
against sentence-transformers; hostile queries in the semantic modes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperfeed import search
from paperfeed.cli import app
from paperfeed.errors import InvalidInput
from paperfeed.search import embedder, indexing
from paperfeed.search import vectors as vector_index
from paperfeed.search.ann import AnnFile
from paperfeed.store import papers
from paperfeed.store import vectors as vector_store
from paperfeed.web import create_app

from .conftest import make_paper
from .test_search import HOSTILE
from .test_semantic import TEXTS

pytestmark = pytest.mark.skipif(
    not embedder.available(), reason="the embeddings extra (sentence-transformers) is not installed"
)


@pytest.fixture
def embedded(db, settings):
    with db.transaction() as conn:
        papers.upsert_many(
            conn, [make_paper(i + 1, title=t, abstract=a) for i, (t, a) in enumerate(TEXTS)]
        )
    assert indexing.embed_pending(db, settings) == 4
    search._indexes.clear()  # each test starts like a freshly started worker
    return db, settings


def fresh_worker(db, settings) -> vector_index.VectorIndex:
    """A worker's index as a newly started process would open it."""
    index = vector_index.VectorIndex(indexing.ann_file(settings))
    index.refresh(db)
    return index


def test_onnx_runtime_gives_the_vectors_of_sentence_transformers(tmp_path):
    pytest.importorskip("onnxruntime")
    long = " ".join(t + ". " + a for t, a in TEXTS) * 4  # past the 256-token cut
    texts = ["merging models", "TIES-Merging", long, "Ünïcödé, émoji 😀 and <b>tags</b>"]
    full = embedder.PACKAGED_MODEL
    onnx = embedder.encode(texts, model=full, runtime="onnx", cache_dir=tmp_path)
    torch = embedder.encode(texts, model=full, runtime="torch")
    assert embedder.get(full, runtime="onnx", cache_dir=str(tmp_path)).runtime == "onnx"
    assert onnx.shape == torch.shape == (4, 384)
    assert np.min(np.sum(onnx * torch, axis=1)) > 0.9999  # the same vectors
    assert (tmp_path / "onnx").is_dir()


def test_embedding_writes_the_index_file_that_workers_search(embedded):
    db, s = embedded
    status = indexing.status(db, s)
    assert (status["indexed"], status["index_generation"]) == (4, 1)
    assert list(s.index_path.glob("*.usearch")) and list(s.index_path.glob("*.json"))
    worker = fresh_worker(db, s)
    assert len(worker.snapshot) == 4 and worker.tail_ids == []
    q = indexing.encode(s, ["predicting three-dimensional protein shapes"])[0]
    assert worker.nearest(q, k=2)[0][0] == "2511.00003"


def test_a_running_worker_follows_vectors_stored_elsewhere_then_the_next_generation(embedded):
    """Another machine's ingest stores vectors without touching this machine's file: the worker
    reads them by the high-water mark; folding them into the file moves them out of the tail."""
    db, s = embedded
    worker = fresh_worker(db, s)
    with db.transaction() as conn:
        papers.upsert(
            conn,
            make_paper(
                9,
                title="Speech recognition with transducers",
                abstract="Streaming automatic speech recognition.",
            ),
        )
    vector = indexing.encode(
        s, ["Speech recognition with transducers. Streaming automatic speech recognition."]
    )[0]
    with db.transaction() as conn:
        vector_store.save(conn, s.embedding_model, [("2511.00009", vector.tobytes())])
    assert worker.refresh(db, force=True) == 1 and worker.tail_ids == ["2511.00009"]
    assert worker.refresh(db, force=True) == 0  # the overlap margin does not load it twice
    q = indexing.encode(s, ["transcribing spoken audio as it streams"])[0]
    assert worker.nearest(q, k=1)[0][0] == "2511.00009"
    assert indexing.update_index(db, s) == 1
    worker.refresh(db, force=True)
    assert worker.snapshot.generation == 2 and len(worker.snapshot) == 5
    assert worker.tail_ids == [] and worker.nearest(q, k=1)[0][0] == "2511.00009"
    assert indexing.update_index(db, s) == 0  # nothing new: no new generation
    assert indexing.status(db, s)["index_generation"] == 2


def test_a_worker_moves_its_mark_past_the_vectors_its_file_holds(embedded, monkeypatch):
    """Vectors stored just before the file was written lie after its mark (the overlap margin):
    once a check finds nothing new, the mark moves past them, so later checks count none of
    them again; a vector stored afterwards is still found."""
    db, s = embedded
    worker = fresh_worker(db, s)
    first = worker._mark
    with db.connect() as conn:
        before = vector_store.window(conn, s.embedding_model, after=vector_index.moment(first))
    assert before[0] == 4
    monkeypatch.setattr(vector_index, "OVERLAP", dt.timedelta(0))  # as if minutes had passed
    assert worker.refresh(db, force=True) == 0
    assert worker._mark > first and worker._window == (0, None)
    with db.connect() as conn:
        after = vector_index.moment(worker._mark)
        assert vector_store.window(conn, s.embedding_model, after=after) == (0, None)
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(9, title="Speech recognition", abstract="Transducers."))
    vector = indexing.encode(s, ["Speech recognition. Transducers."])[0]
    with db.transaction() as conn:
        vector_store.save(conn, s.embedding_model, [("2511.00009", vector.tobytes())])
    assert worker.refresh(db, force=True) == 1 and worker.tail_ids == ["2511.00009"]
    assert len(worker) == 5 and worker.nearest(vector, k=1)[0][0] == "2511.00009"


def test_a_replaced_vector_shadows_the_one_in_the_file(embedded):
    db, s = embedded
    worker = fresh_worker(db, s)
    with db.transaction() as conn:
        papers.upsert(
            conn,
            make_paper(
                3,
                version=2,
                title="Sorting networks on GPUs",
                abstract="Fast parallel sorting of integers.",
            ),
        )
    # The new text's vector, stored without folding it into the file (another machine did it).
    with db.connect() as conn:
        todo = vector_store.pending(conn, s.embedding_model, limit=10)
    vectors = indexing.encode(s, [embedder.paper_text(t, a) for _i, t, a in todo])
    with db.transaction() as conn:
        vector_store.save(conn, s.embedding_model, [(todo[0][0], vectors[0].tobytes())])
    worker.refresh(db, force=True)
    assert len(worker) == 4  # replaced, not added
    old = indexing.encode(s, ["predicting three-dimensional protein shapes"])[0]
    ranked = dict(worker.nearest(old, k=4))
    new = indexing.encode(s, ["parallel integer sorting on graphics cards"])[0]
    assert worker.nearest(new, k=1)[0][0] == "2511.00003"
    assert ranked["2511.00003"] < 0.3  # judged by its new text, not the stale vector


@pytest.mark.parametrize(
    "damage", ["garbage graph", "truncated graph", "bad manifest", "missing files", "other model"]
)
def test_a_damaged_or_missing_index_is_rebuilt_with_a_warning(embedded, caplog, damage):
    db, s = embedded
    ann = indexing.ann_file(s)
    graph = next(s.index_path.glob("*.usearch"))
    if damage == "garbage graph":
        graph.write_bytes(b"\x00not an index\xff" * 100)
    elif damage == "truncated graph":
        graph.write_bytes(graph.read_bytes()[:100])
    elif damage == "bad manifest":
        ann.manifest.write_text("{not json")
    elif damage == "missing files":
        ann.remove()
    else:
        ann.manifest.write_text(ann.manifest.read_text().replace(s.embedding_model, "other"))
    with caplog.at_level(logging.INFO, logger="paperfeed"):
        r = search.search(
            db,
            "averaging fine-tuned networks whose updates conflict in sign",
            mode="semantic",
            settings=s,
        )
    assert r.mode == "semantic" and r.hits[0].paper.arxiv_id == "2511.00001"
    expected = "building it" if damage == "missing files" else "rebuilding it"
    assert expected in caplog.text
    assert AnnFile(s.index_path, s.embedding_model).load().graph is not None
    assert len(ann.load()) == 4


def test_a_large_rebuild_runs_in_the_background_and_keywords_answer_meanwhile(
    embedded, monkeypatch
):
    db, s = embedded
    indexing.ann_file(s).remove()
    monkeypatch.setattr(vector_index, "INLINE_REBUILD", 2)
    first = search.search(db, "merging models", mode="semantic", settings=s)
    assert first.mode == "keyword" and first.notice  # said, not failed
    index = search._indexes[next(iter(search._indexes))]
    index._rebuilding.join(timeout=60)
    later = search.search(db, "merging models", mode="semantic", settings=s)
    assert later.mode == "semantic" and len(indexing.ann_file(s).load()) == 4


def test_index_commands_report_and_rebuild_the_file(embedded, database_url):
    db, s = embedded
    runner = CliRunner(env={"COLUMNS": "200", "PAPERFEED_INDEX_DIR": str(s.index_path)})
    base = ["--database-url", database_url]
    status = runner.invoke(app, [*base, "index", "status"])
    assert status.exit_code == 0 and "vector index: 4 vectors, generation 1" in status.output
    rebuilt = runner.invoke(app, [*base, "index", "rebuild"])
    assert rebuilt.exit_code == 0 and "Indexed 4 vectors" in rebuilt.output
    assert "generation 2" in runner.invoke(app, [*base, "index", "status"]).output
    found = runner.invoke(app, [*base, "search", "folding proteins", "--mode", "semantic"])
    assert found.exit_code == 0 and "2511.00003" in found.output


@pytest.mark.parametrize("q", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_in_the_semantic_modes(embedded, q):
    db, s = embedded
    keyword = {h.paper.arxiv_id for h in search.search(db, q, mode="keyword", settings=s).hits}
    for mode in ("semantic", "hybrid"):
        r = search.search(db, q, mode=mode, settings=s)
        assert r.mode == mode and len(r.query.text) <= search.MAX_QUERY
        if q.startswith("author:"):  # names nobody: nothing, whatever the mode, and why
            assert r.hits == [] and "needs a name" in r.notice
        elif not r.query.terms and not r.query.phrases:  # nothing to search for
            assert r.hits == []
        # Hybrid adds only papers close in meaning to what the keywords found.
        assert keyword <= {h.paper.arxiv_id for h in r.hits} or mode == "semantic"
    with TestClient(create_app(s, db=db)) as c:
        api = c.get("/api/search", params={"q": q, "mode": "semantic"})
        assert api.status_code == 200 and api.json()["mode"] == "semantic"
        page = c.get("/search", params={"q": q, "mode": "hybrid"}, follow_redirects=False)
        assert page.status_code in (200, 303)


def test_similar_papers_on_the_paper_page(embedded):
    db, s = embedded
    with TestClient(create_app(dataclasses.replace(s), db=db)) as c:
        page = c.get("/papers/2511.00002")
    assert page.status_code == 200 and "Similar papers" in page.text


def test_similar_papers_fuse_meaning_and_distinctive_words(embedded):
    db, s = embedded
    with db.transaction() as conn:
        papers.upsert(
            conn,
            make_paper(
                7,
                title="Model merging with sign election",
                abstract="Resolving sign conflicts between fine-tuned "
                "checkpoints when merging models.",
            ),
        )
    indexing.embed_pending(db, s)
    hybrid = search.similar(db, "2511.00001", settings=s, limit=3)
    semantic = search.similar(db, "2511.00001", settings=s, limit=3, mode="semantic")
    assert hybrid[0].paper.arxiv_id == semantic[0].paper.arxiv_id == "2511.00007"
    assert "2511.00001" not in [h.paper.arxiv_id for h in hybrid]
    with pytest.raises(InvalidInput):
        search.similar(db, "2511.00001", settings=s, mode="keyword")
    assert search.similar(db, "2511.99999", settings=s) == []  # unknown paper: nothing


def test_the_index_library_and_the_model_runtime_load_in_either_order():
    """usearch 2.26 made importing onnxruntime after it kill the process (SIGSEGV): a worker that
    opens its index before embedding its first query must survive."""
    import subprocess
    import sys

    for first, second in (("usearch.index", "onnxruntime"), ("onnxruntime", "usearch.index")):
        code = f"import {first}; import {second}; print('ok')"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout.strip() == "ok", (first, done.returncode)


def test_searching_keeps_numpy_blas_on_one_thread(db, settings):
    """OpenBLAS helper threads spin after every product and took a whole second core during a
    digest run; once a process has a vector index, BLAS runs on the calling thread."""
    from threadpoolctl import threadpool_info

    from paperfeed import search

    search.vector_index(db, settings)
    # numpy's own copy; scipy, imported by other tests, may bring a second one we never call.
    blas = [
        lib for lib in threadpool_info() if lib["user_api"] == "blas" and "numpy" in lib["filepath"]
    ]
    assert blas and all(lib["num_threads"] == 1 for lib in blas)
