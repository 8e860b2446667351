"""Embedding throughput work: the int8 model beside the full-precision one (separate names, so
their vectors are never compared), the index writer's progress, and `index embed --limit`."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from paperfeed import search
from paperfeed.cli import app
from paperfeed.errors import ConfigError
from paperfeed.search import embedder, indexing
from paperfeed.search.ann import AnnFile
from paperfeed.store import papers
from paperfeed.store import vectors as vector_store

from .conftest import make_paper
from .test_semantic import TEXTS

pytestmark = pytest.mark.skipif(
    not embedder.available(), reason="the embeddings extra (sentence-transformers) is not installed"
)
FULL = embedder.PACKAGED_MODEL
INT8 = embedder.PACKAGED_MODEL + embedder.INT8


def _papers(db, n: int) -> None:
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [
                make_paper(i + 1, title=f"{TEXTS[i % 4][0]} {i}", abstract=TEXTS[i % 4][1])
                for i in range(n)
            ],
        )


def test_the_int8_model_is_close_to_full_precision_but_a_different_name(tmp_path):
    texts = [f"{t}. {a}" for t, a in TEXTS] + ["merging fine-tuned models", "Ünïcödé 😀 <b>"]
    full = embedder.encode(texts, model=FULL, runtime="onnx", cache_dir=tmp_path)
    int8 = embedder.encode(texts, model=INT8, runtime="onnx", cache_dir=tmp_path)
    assert int8.shape == full.shape and int8.dtype == np.float32
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    cosine = (full * int8).sum(axis=1)
    assert cosine.min() > 0.97 and cosine.max() < 0.99999  # close, yet not the same vectors
    # The quantised export lives beside the full one and says what it is.
    info = json.loads((embedder._export_dir(INT8, tmp_path) / "source.json").read_text())
    assert info["from"] == FULL and "int8" in info["weights"]
    # Deterministic: the same text gives the same vector in a batch of any shape.
    again = embedder.encode(texts[:1], model=INT8, runtime="onnx", cache_dir=tmp_path)
    assert np.allclose(again[0], int8[0], atol=1e-5)


FUSED = FULL + embedder.FUSED_INT8


def test_the_fused_model_is_close_to_full_precision_and_to_no_other_name():
    """`@fused-int8`: fused attention and int8 weights, vectors of its own name, close to full
    precision's, and different from `@int8`'s (so never stored under it). Not the default until
    its retrieval quality is measured."""
    assert embedder.DEFAULT_MODEL == INT8
    assert embedder.base_model(FUSED) == FULL
    assert embedder.variant(INT8) == embedder.INT8 and embedder.variant(FULL) == ""
    texts = [f"{t}. {a}" for t, a in TEXTS] + ["merging fine-tuned models", "Ünïcödé 😀 <b>", ""]
    fused = embedder.encode(texts, model=FUSED, runtime="onnx")
    full = embedder.encode(texts, model=FULL, runtime="onnx")
    int8 = embedder.encode(texts, model=INT8, runtime="onnx")
    assert np.allclose(np.linalg.norm(fused, axis=1), 1.0, atol=1e-5)
    assert (full * fused).sum(axis=1).min() > 0.97
    assert (int8 * fused).sum(axis=1).max() < 0.99999  # another model: another name
    info = json.loads((embedder._export_dir(FUSED, None) / "source.json").read_text())
    assert info["from"] == FULL and "fused attention" in info["weights"]
    # A text alone gives the vector it got among others.
    again = embedder.encode(texts[:1], model=FUSED, runtime="onnx")
    assert np.allclose(again[0], fused[0], atol=1e-5)


def test_the_int8_model_refuses_torch():
    for model in (INT8, FUSED):
        assert not embedder.available(runtime="torch", model=model)
        with pytest.raises(ConfigError, match="onnxruntime only"):
            embedder.get(model, runtime="torch")


def test_vectors_of_two_models_are_never_mixed(db, settings, database_url):
    """Vectors are stored and indexed per model name: switching the model leaves every paper
    pending for the new one, and searches only ever compare vectors of one model."""
    _papers(db, 4)
    full = dataclasses.replace(settings, embedding_model=FULL)
    int8 = dataclasses.replace(settings, embedding_model=INT8)
    assert indexing.embed_pending(db, full) == 4
    assert indexing.status(db, int8)["pending"] == 4  # the full model's vectors do not count
    assert indexing.embed_pending(db, int8) == 4
    with db.connect() as conn:
        a = vector_store.vectors_of(conn, FULL, ["2511.00001"])["2511.00001"]
        b = vector_store.vectors_of(conn, INT8, ["2511.00001"])["2511.00001"]
    assert a != b
    assert indexing.ann_file(full).manifest != indexing.ann_file(int8).manifest
    assert indexing.status(db, int8)["other_models"] == {FULL: 4}
    env = {"COLUMNS": "200", "PAPERFEED_INDEX_DIR": str(settings.index_path)}
    runner = CliRunner(env={**env, "PAPERFEED_EMBEDDING_MODEL": INT8})
    status = runner.invoke(app, ["--database-url", database_url, "index", "status"]).output
    assert f"model: {INT8}" in status and f"also stored: 4 vectors of {FULL}" in status
    for s in (full, int8):
        assert AnnFile(s.index_path, s.embedding_model).describe()["count"] == 4
        search._indexes.clear()
        hits = search.search(db, "folding proteins", mode="semantic", settings=s).hits
        assert hits[0].paper.arxiv_id == "2511.00003"


def test_folding_reports_its_real_total(db, settings):
    """Papers embedded without folding (an interrupted run, say) are folded by the next run: the
    index's progress counts what it really adds, never more than the total it announced."""
    _papers(db, 7)
    assert indexing.embed_pending(db, settings, limit=5, fold=False) == 5
    calls = []
    assert indexing.embed_pending(db, settings, limit=1, fold=False) == 1
    indexing.update_index(db, settings, on_progress=lambda n, total: calls.append((n, total)))
    assert calls[0] == (0, 6) and sum(n for n, _t in calls) == 6
    assert all(total == 6 for _n, total in calls)
    calls.clear()
    indexing.embed_pending(db, settings, limit=1, fold=False)
    indexing.update_index(db, settings, on_progress=lambda n, total: calls.append((n, total)))
    assert calls[0] == (0, 1) and sum(n for n, _t in calls) == 1
    calls.clear()
    indexing.rebuild_index(db, settings, on_progress=lambda n, total: calls.append((n, total)))
    assert calls[0] == (0, 7) and sum(n for n, _t in calls) == 7


def test_index_embed_with_a_limit_never_shows_more_than_its_total(db, database_url, settings):
    _papers(db, 6)
    indexing.embed_pending(db, settings, limit=4, fold=False)  # stored, not yet in the file
    runner = CliRunner(env={"COLUMNS": "200", "PAPERFEED_INDEX_DIR": str(settings.index_path)})
    out = runner.invoke(app, ["--database-url", database_url, "index", "embed", "--limit", "1"])
    assert out.exit_code == 0, out.output
    assert "Embedded 1 papers." in out.output
    counts = [(int(a), int(b)) for a, b in re.findall(r"(\d+)/(\d+)", out.output)]
    status = runner.invoke(app, ["--database-url", database_url, "index", "status"])
    assert f"model: {settings.embedding_model}" in status.output
    assert "also stored" not in status.output  # one model only
    assert (1, 1) in counts and (5, 5) in counts  # embedded 1; the first build folds all 5
    assert all(a <= b for a, b in counts), out.output
    rebuilt = runner.invoke(app, ["--database-url", database_url, "index", "rebuild"])
    assert rebuilt.exit_code == 0 and "Indexed 5 vectors" in rebuilt.output
    assert all(int(a) <= int(b) for a, b in re.findall(r"(\d+)/(\d+)", rebuilt.output))
