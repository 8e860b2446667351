"""The Database: one engine, its connections and transactions, and the schema's migration state."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from paperfeed.errors import ConfigError, DatabaseUnavailable, SchemaOutdated

MIGRATIONS = Path(__file__).with_name("migrations")
FAILURE_MEMORY = 300.0  # seconds a failed write (disk full) is reported without a later success


def normalize_url(url: str) -> str:
    """Accept the URL forms people paste (postgres://, postgresql://) and pick psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Database:
    """A paperfeed database reached through one SQLAlchemy engine."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        statement_timeout: float = 0,
        lock_timeout: float | None = None,
    ) -> None:
        self.url = normalize_url(url)
        # The last write that failed for want of the database (locked, full, read-only), until
        # a write succeeds again: /healthz reports it.
        self.write_failure: DatabaseUnavailable | None = None
        self._write_failed_at = 0.0
        try:
            sa_url = sa.engine.make_url(self.url)
        except sa.exc.ArgumentError as exc:
            raise ConfigError(f"not a database URL: {url!r} ({exc})") from None
        kwargs: dict = {"echo": echo}
        if sa_url.get_backend_name() == "sqlite":
            # Several threads (web workers, ingest) share the file; WAL lets readers run beside
            # one writer and busy_timeout queues writers instead of failing at once.
            busy = 30.0 if lock_timeout is None else lock_timeout
            self._busy_ms = int(busy * 1000)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = sa.create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            pragmas = functools.partial(_sqlite_pragmas, busy_ms=self._busy_ms)
            sa.event.listen(self.engine, "connect", pragmas)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        else:
            # A statement nobody waits for any more (the client gave up) must not keep a
            # connection and a core busy: PostgreSQL cancels it after this long.
            limits = {}
            if statement_timeout > 0:
                limits["statement_timeout"] = max(1, int(statement_timeout * 1000))
            if lock_timeout:
                limits["lock_timeout"] = max(1, int(lock_timeout * 1000))
            if limits:
                sa.event.listen(self.engine, "connect", lambda c, _r: _pg_timeout(c, limits))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection inside one transaction: committed on success, rolled back on error.
        DatabaseUnavailable when the database cannot take the write now."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(write=True)
                with conn.begin():
                    yield conn
        except sa.exc.DBAPIError as exc:
            failure = self._unavailable(exc)
            if failure is None:
                raise
            if failure.kind == "full":  # no probe can see it: remember it for /healthz
                self.write_failure, self._write_failed_at = failure, time.monotonic()
            raise failure from exc
        self.write_failure = None

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A connection for reads; DatabaseUnavailable when the database cannot answer now."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            failure = self._unavailable(exc)
            if failure is None:
                raise
            raise failure from exc

    def check_writable(self, *, wait: float = 0.25) -> None:
        """DatabaseUnavailable unless a write could start within `wait` seconds: no lock held
        by another writer, no read-only file or server, no recent "disk full". Nothing is
        written."""
        failure = self.write_failure
        if failure is not None and time.monotonic() - self._write_failed_at < FAILURE_MEMORY:
            raise failure
        try:
            with self.engine.connect() as conn:
                if self.dialect == "sqlite":
                    raw = conn.connection.driver_connection
                    assert raw is not None  # a checked-out connection holds its driver's
                    raw.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
                    try:
                        conn.execution_options(write=True)
                        probe = conn.begin()  # BEGIN IMMEDIATE: the write lock, or "locked"
                        try:
                            # Changing a page, even to itself, fails on a read-only file; the
                            # rollback leaves the file as it was.
                            version = conn.exec_driver_sql("PRAGMA user_version").scalar()
                            conn.exec_driver_sql(f"PRAGMA user_version = {int(version or 0)}")
                        finally:
                            probe.rollback()
                    finally:
                        raw.execute(f"PRAGMA busy_timeout={self._busy_ms}")
                    return
                read_only = conn.exec_driver_sql("SHOW transaction_read_only").scalar()
                conn.rollback()
        except sa.exc.DBAPIError as exc:
            translated = self._unavailable(exc)
            if translated is None:
                raise
            raise translated from exc
        if read_only == "on":
            raise DatabaseUnavailable(
                f"{self._where()} is read-only (a standby?): paperfeed needs one it can write to",
                kind="read_only",
                retry_after=60,
            )

    def _unavailable(self, exc: sa.exc.DBAPIError) -> DatabaseUnavailable | None:
        """The condition a driver error stands for, when it is one a caller can wait out."""
        orig = exc.orig
        state = getattr(orig, "sqlstate", None) or ""
        name = getattr(orig, "sqlite_errorname", None) or ""
        where = self._where()
        if state == "57014":
            return DatabaseUnavailable(
                "The database took too long to answer: try again, or narrow the search with "
                "words that are less common or a date range.",
                kind="timeout",
            )
        if state in ("55P03", "40P01") or name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return DatabaseUnavailable(
                "The database is busy with another write and the wait ran out: try again in a "
                "moment.",
                kind="locked",
            )
        if state == "53100" or name == "SQLITE_FULL":
            return DatabaseUnavailable(
                f"The disk of {where} is full: nothing was saved. Free some space and retry.",
                kind="full",
                retry_after=60,
            )
        if state == "25006" or name.startswith("SQLITE_READONLY"):
            return DatabaseUnavailable(
                f"{where} is read-only: paperfeed cannot save anything (check the permissions "
                "of the file and of its folder).",
                kind="read_only",
                retry_after=60,
            )
        if (
            state.startswith("08")
            or name.startswith("SQLITE_CANTOPEN")
            or (
                self.dialect == "postgresql"
                and not state
                and isinstance(exc, sa.exc.OperationalError)
            )
        ):
            return DatabaseUnavailable(
                f"{where} cannot be reached: {str(orig).strip().splitlines()[0][:200]}",
                kind="unreachable",
                retry_after=10,
            )
        return None

    def _where(self) -> str:
        url = self.engine.url
        if self.dialect == "sqlite":
            return f"the database file {url.database}"
        return f"the database {url.database} on {url.host or 'localhost'}"

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


def _pg_timeout(dbapi_conn, limits: dict[str, int]) -> None:
    for name, ms in limits.items():
        dbapi_conn.execute(f"SET {name} = {int(ms)}")
    dbapi_conn.commit()  # a SET rolled back with its transaction would not last


def _sqlite_pragmas(dbapi_conn, _record, *, busy_ms: int = 30000) -> None:
    # Let SQLAlchemy's "begin" event, not the driver, start transactions (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cur.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A write transaction takes the write lock up front (BEGIN IMMEDIATE): one that read first
    # and upgraded later would fail at once with SQLITE_BUSY when another writer got in between,
    # instead of waiting its turn. Reads stay deferred, so they never queue behind a writer.
    immediate = conn.get_execution_options().get("write")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
