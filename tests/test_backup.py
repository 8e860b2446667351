"""`paperfeed db backup` / `db restore` on SQLite: online, consistent, checked and atomic."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.store import Database, papers
from paperfeed.web import create_app

from .conftest import make_paper

runner = CliRunner()


def cli(url: str, *args: str):
    return runner.invoke(app, ["--database-url", url, "db", *args])


def count(db: Database) -> int:
    with db.connect() as conn:
        return papers.count(conn)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_backup_while_writing_then_restore_brings_that_moment_back(
    db, settings, database_url, tmp_path
):
    """A writer adds papers in small transactions while the backup runs; the backup holds whole
    transactions only, and restoring it under a running app brings exactly that state back."""
    stop = threading.Event()

    def writer() -> None:
        n = 1
        while not stop.is_set():
            with db.transaction() as conn:
                papers.upsert_many(conn, [make_paper(n + i) for i in range(10)])
            n += 10

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while count(db) < 200:
            pass
        done = cli(database_url, "backup", str(tmp_path / "b.db"))
    finally:
        stop.set()
        thread.join()
    assert done.exit_code == 0, done.output
    with sqlite3.connect(tmp_path / "b.db") as conn:
        saved = conn.execute("SELECT count(*) FROM papers").fetchone()[0]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM papers_fts").fetchone()[0] == saved
    assert saved % 10 == 0 and 200 <= saved <= count(db)
    again = cli(database_url, "backup", str(tmp_path / "b.db"))
    assert again.exit_code == 1 and "exists" in again.output  # nothing overwritten by accident

    with TestClient(create_app(settings, db=Database(database_url))) as site:
        site.get("/api/papers/2511.00001")  # the app caches pages and holds connections
        with db.transaction() as conn:
            papers.upsert(conn, make_paper(1, title="Changed after the backup"))
        assert site.get("/api/papers/2511.00001").json()["title"] == "Changed after the backup"
        restored = cli(database_url, "restore", str(tmp_path / "b.db"))
        assert restored.exit_code == 0, restored.output
        assert count(db) == saved
        # No worker keeps serving a page it cached from the replaced contents.
        assert site.get("/api/papers/2511.00001").json()["title"].startswith("Sparse Mixtures")
        assert site.get("/search", params={"q": "sparse"}).status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_restore_refuses_bad_backups_and_older_schemas_and_loses_nothing(
    db, database_url, tmp_path
):
    with db.transaction() as conn:
        papers.upsert_many(conn, [make_paper(i) for i in range(1, 4)])
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    refused = cli(database_url, "restore", str(garbage))
    assert refused.exit_code == 1 and "not a paperfeed SQLite database" in refused.output
    missing = cli(database_url, "restore", str(tmp_path / "nope.db"))
    assert missing.exit_code == 1 and "no backup" in missing.output

    old_url = f"sqlite:///{tmp_path / 'old.db'}"
    Database(old_url).upgrade("0002")
    assert cli(old_url, "backup", str(tmp_path / "old-backup.db")).exit_code == 0
    older = cli(database_url, "restore", str(tmp_path / "old-backup.db"))
    assert older.exit_code == 1 and "newer than the backup" in older.output
    assert count(db) == 3  # every refusal left the live database alone

    # Into an empty place an older backup goes, and says the schema needs upgrading.
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    into_fresh = cli(fresh, "restore", str(tmp_path / "old-backup.db"))
    assert into_fresh.exit_code == 0 and "db upgrade" in into_fresh.output


def test_backup_of_postgresql_points_to_pg_dump(database_url, tmp_path):
    result = cli(database_url, "backup", str(tmp_path / "x.db"))
    if database_url.startswith("sqlite"):
        assert result.exit_code == 1 and "no database file" in result.output
    else:
        assert result.exit_code == 1 and "pg_dump" in result.output
