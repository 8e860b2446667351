"""Backups of a SQLite database: taken online with SQLite's backup API, restored atomically.

A backup is a consistent copy even while the server writes (one read snapshot in WAL mode). A
restore checks the backup first (it is a SQLite file, intact, at a revision this code knows and
not older than the live database's) and then replaces the live contents in one write
transaction through the same API, so readers see the old database or the new one, never a mix,
and the live file's write-ahead log cannot be replayed onto the wrong pages. PostgreSQL has
pg_dump and pg_restore for this (docs/deployment.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from paperfeed.errors import InvalidInput
from paperfeed.store.database import Database


def sqlite_path(db: Database) -> Path:
    """The file of a SQLite database; InvalidInput for any other database."""
    url = sa.engine.make_url(db.url)
    if db.dialect != "sqlite" or not url.database or url.database == ":memory:":
        raise InvalidInput(
            "backup and restore work on a SQLite file; for PostgreSQL use pg_dump and "
            "pg_restore (see docs/deployment.md)"
        )
    return Path(url.database)


def backup(db: Database, destination: Path, *, overwrite: bool = False) -> int:
    """Write a consistent copy of the live database to `destination`; returns its size in bytes."""
    source = sqlite_path(db)
    if not source.exists():
        raise InvalidInput(f"there is no database file at {source}")
    destination = Path(destination)
    if destination.exists() and not overwrite:
        raise InvalidInput(f"{destination} exists: choose another name or pass --overwrite")
    part = destination.with_name(destination.name + ".part")
    part.unlink(missing_ok=True)
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(part)) as dst,
    ):
        src.backup(dst)  # all pages in one step: one snapshot, never restarted by writers
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    with part.open("rb+") as fh:
        os.fsync(fh.fileno())
    part.replace(destination)  # a half-written backup never carries the final name
    return destination.stat().st_size


def revision_of(path: Path) -> str | None:
    """The schema revision stored in a SQLite file; InvalidInput when it is not a sound one."""
    if not Path(path).is_file():
        raise InvalidInput(f"there is no backup at {path}")
    try:
        with contextlib.closing(sqlite3.connect(_read_only(path), uri=True)) as conn:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise InvalidInput(f"{path} is damaged: {check}")
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"{path} is not a paperfeed SQLite database ({exc})") from None
    return row[0] if row else None


def restore(db: Database, backup_file: Path) -> str:
    """Replace the live database's contents with the backup's; returns the restored revision."""
    target = sqlite_path(db)
    backup_file = Path(backup_file)
    restored = revision_of(backup_file)
    order = _revisions(db)
    if restored is None or restored not in order:
        raise InvalidInput(
            f"the backup is at schema revision {restored}, which this paperfeed does not know "
            "(a newer version made it): restore it with that version"
        )
    current = db.current_revision() if target.exists() else None
    if current is not None and current in order and order.index(current) > order.index(restored):
        raise InvalidInput(
            f"the database is at revision {current}, newer than the backup's {restored}: move "
            f"{target} aside, restore into the empty place, then run `paperfeed db upgrade`"
        )
    live_version = _catalog_version(target) if current is not None else 0
    db.dispose()  # our own pooled connections must not hold the old pages
    with (
        contextlib.closing(sqlite3.connect(_read_only(backup_file), uri=True)) as src,
        contextlib.closing(sqlite3.connect(target, timeout=30)) as dst,
    ):
        dst.execute("PRAGMA journal_mode=WAL")
        src.backup(dst)  # one write transaction on the live file
        # Workers cache pages by catalogue version; the restored version may be one they
        # cached with later contents, so move past every version the live file had.
        with dst:
            dst.execute(
                "UPDATE catalog_state SET version = max(version, ?) + 1 WHERE id = 1",
                (live_version,),
            )
            with contextlib.suppress(sqlite3.OperationalError):  # older backups lack the column
                dst.execute("UPDATE catalog_state SET content_version = version WHERE id = 1")
        dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return restored


def _catalog_version(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(_read_only(path), uri=True)) as conn:
        try:
            row = conn.execute("SELECT version FROM catalog_state WHERE id = 1").fetchone()
        except sqlite3.DatabaseError:
            return 0
    return row[0] if row else 0


def _revisions(db: Database) -> list[str | None]:
    """Every revision this code knows, oldest first (None is the empty database)."""
    script = ScriptDirectory.from_config(db._alembic_config())
    return [None] + [r.revision for r in reversed(list(script.walk_revisions()))]


def _read_only(path: Path) -> str:
    return Path(path).resolve().as_uri() + "?mode=ro"
