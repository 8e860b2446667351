"""Authors: one normalisation, the paper_authors rows kept by upsert and filled by migration 0007
for papers stored before it, and the lookups author pages use."""

from __future__ import annotations

import sqlalchemy as sa

from paperfeed.store import Database, papers
from paperfeed.store import authors as author_store
from paperfeed.store.tables import catalog_state
from paperfeed.store.tables import papers as papers_table

from .conftest import make_paper


def test_one_normalisation_for_every_name():
    key = author_store.name_key
    assert key("José Núñez-García") == "jose nunez garcia"
    assert key("  STRAßE,  Jr. ") == "strasse jr"
    assert key("<script>alert(1)</script>") == "script alert 1 script"
    assert key("") == "" and key("---") == ""
    assert author_store.last_key(key("Martin Luther King Jr.")) == "king"


def test_migration_fills_authors_of_papers_stored_before_it(database_url):
    db = Database(database_url)
    db.upgrade("0005")
    old = [
        make_paper(1, authors=["Sanja Fidler", "Jun Gao"]),
        make_paper(2, authors=["Ｊｕｎ Ｇａｏ"]),  # full-width letters normalise too
        make_paper(3, authors=[]),
    ]
    with db.transaction() as conn:  # rows as the code of revision 0005 wrote them
        if conn.execute(sa.select(sa.func.count()).select_from(catalog_state)).scalar() == 0:
            conn.execute(sa.insert(catalog_state).values(id=1, version=0, changed_at=sa.func.now()))
        now = make_paper().published
        # Only the columns revision 0005 has: later revisions add more to the table definition.
        present = {c["name"] for c in sa.inspect(conn).get_columns("papers")}
        rows = [
            {"arxiv_id": p.arxiv_id, **papers._values(p), "created_at": now, "modified_at": now}
            for p in old
        ]
        rows = [{k: v for k, v in r.items() if k in present} for r in rows]
        then = sa.table("papers", *(sa.column(k, papers_table.c[k].type) for k in rows[0]))
        conn.execute(sa.insert(then), rows)
    db.upgrade()
    with db.connect() as conn:
        # Same day and time: newest first falls back to the id, descending.
        assert author_store.papers_of(conn, "Jun Gao") == ["2511.00002", "2511.00001"]
        assert author_store.papers_of(conn, "Fidler") == ["2511.00001"]
        rows = conn.execute(sa.text("SELECT count(*) FROM paper_authors")).scalar()
    assert rows == 3
    with db.transaction() as conn:  # idempotent upsert keeps one row per author
        papers.upsert_many(conn, old)
        papers.upsert_many(conn, old)
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM paper_authors")).scalar() == 3
    db.dispose()
