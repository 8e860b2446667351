"""Test databases: the migrations run once per test session (per xdist worker), not once per test.

Every test that uses the `db` fixture still starts from an empty database at the newest
migration; how it gets one differs by backend:

- SQLite: the session migrates a template file once; each test gets a copy (about 10 ms).
- PostgreSQL: schema DDL costs the server 0.5-1 s per test on a busy 2-core machine, whether
  Alembic runs it (0.3-1.9 s) or its recorded statements are replayed (0.55-0.8 s, batched or
  not); CREATE DATABASE ... TEMPLATE took 0.1-0.2 s but its DROP DATABASE waited up to 19 s
  for a checkpoint. So each worker migrates a schema once and reuses it: after a test, every
  table is emptied, the rows the migrations seed are put back and the sequences rewound, in one
  transaction (about 10 ms). A schema whose structure a test changed (a downgrade, say) is
  dropped instead, and the next test gets a newly migrated one.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import sqlalchemy as sa

from paperfeed.store import Database


def sqlite_template(folder: Path) -> Path:
    """A migrated SQLite database file in `folder`, with nothing left in its write-ahead log."""
    path = folder / "template.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    with database.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    return path


def clone_sqlite(template: Path, url: str) -> None:
    """Copy the template to the (not yet existing) file `url` names."""
    shutil.copyfile(template, sa.engine.make_url(url).database)


# One text for the structure of the current schema: tables, columns, types, indexes and the
# migration it is at. Equal texts mean a test left the structure as the migrations made it.
_STRUCTURE = """
SELECT (SELECT version_num FROM alembic_version) || ':' || md5(string_agg(x, ',' ORDER BY x))
FROM (
    SELECT concat_ws(':', c.relname, c.relkind::text, a.attname,
                     format_type(a.atttypid, a.atttypmod)) AS x
    FROM pg_class c
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
) parts
"""


class PgSchemas:
    """One xdist worker's PostgreSQL schemas: empty ones, and migrated ones reused across tests."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.admin = Database(base_url)
        self.clean: list[str] = []  # migrated, emptied, ready for the next test
        self.kept: list[str] = []  # could not be reset (locked by a leftover process): dropped last
        self.reset_sql: str | None = None
        self.structure: str | None = None
        self._resetter = None  # one connection for every reset: connecting costs more than it

    def url(self, schema: str) -> str:
        """The base URL with every connection's search_path set to `schema`."""
        url = sa.engine.make_url(Database(self.base_url).url)
        return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )

    def empty(self) -> str:
        """A new schema with nothing in it, named so no other test or worker collides."""
        schema = "t_" + uuid.uuid4().hex[:12]
        with self.admin.transaction() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        return schema

    def drop(self, schema: str) -> None:
        with self.admin.transaction() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')

    def migrated(self) -> str:
        """An empty schema at the newest migration."""
        if self.clean:
            return self.clean.pop()
        schema = self.empty()
        database = Database(self.url(schema))
        try:
            database.upgrade()
            if self.reset_sql is None:
                with database.connect() as conn:
                    self.reset_sql = _reset_script(conn)
                    self.structure = conn.exec_driver_sql(_STRUCTURE).scalar_one()
        finally:
            database.dispose()
        return schema

    def release(self, schema: str) -> None:
        """Empty a migrated schema after its test, for the next one; drop it if that fails."""
        if self._resetter is None:
            self._resetter = self.admin.engine.raw_connection()
        raw = self._resetter
        try:
            cursor = raw.cursor()
            # A process a test killed may still hold locks: do not wait for it for long.
            cursor.execute("SET lock_timeout = '5s'")
            cursor.execute(f'SET search_path TO "{schema}"')
            cursor.execute(self.reset_sql)  # no parameters: one round trip, many statements
            cursor.execute(_STRUCTURE)
            same = cursor.fetchone()[0] == self.structure
            raw.commit()
        except Exception:  # noqa: BLE001 - whatever went wrong, this schema is not reused
            raw.rollback()
            self.kept.append(schema)
            return
        if same:
            self.clean.append(schema)
        else:
            self.drop(schema)

    def close(self) -> None:
        if self._resetter is not None:
            self._resetter.close()
        for schema in self.clean + self.kept:
            self.drop(schema)
        self.admin.dispose()


def _reset_script(conn: sa.Connection) -> str:
    """SQL that puts a freshly migrated schema's data back: no rows but those the migrations
    seeded, and every sequence where the migrations left it."""
    schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    tables = conn.exec_driver_sql(
        "SELECT tablename FROM pg_tables "
        "WHERE schemaname = %(s)s AND tablename <> 'alembic_version' ORDER BY tablename",
        {"s": schema},
    ).scalars()
    # Foreign keys are triggers: with the replication role "replica" they do not fire, so the
    # tables can be emptied and refilled in any order (the tests connect as a superuser).
    parts = ["SET LOCAL session_replication_role = replica"]
    refill = []
    for table in list(tables):
        parts.append(f'DELETE FROM "{table}"')
        columns = conn.exec_driver_sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %(s)s "
            "AND table_name = %(t)s AND is_generated = 'NEVER' ORDER BY ordinal_position",
            {"s": schema, "t": table},
        ).scalars()
        names = ", ".join(f'"{c}"' for c in columns)
        for row in conn.exec_driver_sql(f'SELECT {names} FROM "{table}"'):
            values = ", ".join(_literal(conn, v) for v in row)
            refill.append(f'INSERT INTO "{table}" ({names}) VALUES ({values})')
    for name, start, last in conn.exec_driver_sql(
        "SELECT sequencename, start_value, last_value FROM pg_sequences WHERE schemaname = %(s)s",
        {"s": schema},
    ):
        called = "false" if last is None else "true"
        parts.append(f"SELECT setval('\"{name}\"', {start if last is None else last}, {called})")
    return ";\n".join(parts + refill)


def _literal(conn: sa.Connection, value) -> str:
    """`value` as a PostgreSQL literal, quoted by the driver."""
    from psycopg import sql

    return sql.Literal(value).as_string(conn.connection.driver_connection)
