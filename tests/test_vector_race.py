"""A search while the worker follows new vectors (issue 11, finding 12): `nearest` used to read
`tail` and `tail_ids` without the lock `_follow` holds, and could pair a longer tail with the
older ids (IndexError, a 500)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from paperfeed.search.ann import AnnFile
from paperfeed.search.vectors import VectorIndex
from paperfeed.store import papers
from paperfeed.store import vectors as vector_store

from .conftest import make_paper

pytest.importorskip("usearch")
MODEL = "race-test-model"


class SlowIds(list):
    """Ids that take a while to grow, and say when a grow begins: the moment a follow has put
    its new vectors in the tail but not yet their ids."""

    def __init__(self, items, entered: threading.Event) -> None:
        super().__init__(items)
        self.entered = entered

    def extend(self, items) -> None:
        items = list(items)
        self.entered.set()
        threading.Event().wait(0.3)
        super().extend(items)


def _vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=8).astype(np.float32)
    return v / np.linalg.norm(v)


def test_a_search_during_a_follow_sees_a_consistent_tail(db, tmp_path):
    with db.transaction() as conn:
        papers.upsert_many(conn, [make_paper(i) for i in (1, 2)])
    index = VectorIndex(AnnFile(tmp_path / "index", MODEL))
    index.refresh(db)  # nothing embedded yet: no file, follow the database
    with db.transaction() as conn:
        vector_store.save(conn, MODEL, [("2511.00001", _vector(1).tobytes())])
    assert index.refresh(db, force=True) == 1 and index.tail_ids == ["2511.00001"]

    entered = threading.Event()
    index.tail_ids = SlowIds(index.tail_ids, entered)
    with db.transaction() as conn:
        vector_store.save(conn, MODEL, [("2511.00002", _vector(2).tobytes())])
    follower = threading.Thread(target=index.refresh, args=(db,), kwargs={"force": True})
    follower.start()
    assert entered.wait(10)
    found = index.nearest(_vector(2), k=2)  # raised IndexError before the fix
    follower.join()
    assert [arxiv_id for arxiv_id, _ in found] == ["2511.00002", "2511.00001"]
    assert index.nearest(_vector(1), k=1)[0][0] == "2511.00001"
