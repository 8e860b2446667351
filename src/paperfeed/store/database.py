"""The Database: one engine, its connections and transactions, and the schema's migration state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from paperfeed.errors import ConfigError, SchemaOutdated

MIGRATIONS = Path(__file__).with_name("migrations")


def normalize_url(url: str) -> str:
    """Accept the URL forms people paste (postgres://, postgresql://) and pick psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Database:
    """A paperfeed database reached through one SQLAlchemy engine."""

    def __init__(self, url: str, *, echo: bool = False, statement_timeout: float = 0) -> None:
        self.url = normalize_url(url)
        try:
            sa_url = sa.engine.make_url(self.url)
        except sa.exc.ArgumentError as exc:
            raise ConfigError(f"not a database URL: {url!r} ({exc})") from None
        kwargs: dict = {"echo": echo}
        if sa_url.get_backend_name() == "sqlite":
            # Several threads (web workers, ingest) share the file; WAL lets readers run beside
            # one writer and busy_timeout queues writers instead of failing at once.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = sa.create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        elif statement_timeout > 0:
            # A statement nobody waits for any more (the client gave up) must not keep a
            # connection and a core busy: PostgreSQL cancels it after this long.
            ms = max(1, int(statement_timeout * 1000))
            sa.event.listen(self.engine, "connect", lambda c, _r: _pg_timeout(c, ms))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        with self.engine.connect() as conn:
            conn.execution_options(write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A connection for reads."""
        with self.engine.connect() as conn:
            yield conn

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # --- schema -------------------------------------------------------------------------------

    def _alembic_config(self, conn: sa.Connection | None = None) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        return cfg

    def head_revision(self) -> str | None:
        """The newest migration the code knows."""
        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def current_revision(self) -> str | None:
        """The migration the database is at, or None for an empty database."""
        with self.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Apply migrations up to `revision`; returns (before, after)."""
        before = self.current_revision()
        with self.transaction() as conn:
            command.upgrade(self._alembic_config(conn), revision)
        return before, self.current_revision()

    def check_schema(self) -> None:
        """Raise SchemaOutdated unless the database is at the newest migration."""
        current, head = self.current_revision(), self.head_revision()
        if current != head:
            where = "is empty" if current is None else f"is at revision {current}"
            raise SchemaOutdated(
                f"the database {where} but this paperfeed needs revision {head}: "
                "run `paperfeed db upgrade` first"
            )


def _pg_timeout(dbapi_conn, ms: int) -> None:
    dbapi_conn.execute(f"SET statement_timeout = {ms}")
    dbapi_conn.commit()  # a SET rolled back with its transaction would not last


def is_timeout(exc: BaseException) -> bool:
    """Whether a database error is a statement cancelled by the statement timeout."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == "57014"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Let SQLAlchemy's "begin" event, not the driver, start transactions (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A write transaction takes the write lock up front (BEGIN IMMEDIATE): one that read first
    # and upgraded later would fail at once with SQLITE_BUSY when another writer got in between,
    # instead of waiting its turn. Reads stay deferred, so they never queue behind a writer.
    immediate = conn.get_execution_options().get("write")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
