"""Transfers between databases: every table copied row for row, e.g. SQLite up to PostgreSQL.

Generic over the tables of `tables.metadata`, in foreign-key order, so a table added later is
copied without changes here. The source is read in one transaction (a consistent snapshot on
both backends: WAL on SQLite, REPEATABLE READ on PostgreSQL) and streamed in primary-key order;
the target is written batch by batch with an upsert on the primary key, so an interrupted or
repeated copy can simply be run again. Rows deleted from the source since an earlier copy are
not deleted from the target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from paperfeed.errors import InvalidInput
from paperfeed.store.database import Database
from paperfeed.store.dialect import insert
from paperfeed.store.tables import catalog_state, metadata

ProgressHook = Callable[[str, int], None]  # (table, rows just copied)


@dataclass
class TableCopy:
    """One table's outcome: rows in the source and, after the copy, in the target."""

    table: str
    source_rows: int
    target_rows: int

    @property
    def matches(self) -> bool:
        return self.source_rows == self.target_rows


def tables() -> list[sa.Table]:
    """Every table, parents before the tables that refer to them."""
    return list(metadata.sorted_tables)


def count_rows(db: Database) -> dict[str, int]:
    """Rows per table."""
    with db.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in tables()
        }


def copy_database(
    source: Database,
    target: Database,
    *,
    batch_size: int = 2000,
    on_rows: ProgressHook | None = None,
    on_start: Callable[[dict[str, int]], None] | None = None,
) -> list[TableCopy]:
    """Copy every row of `source` into `target` (migrated first) and count both sides after.

    The source must be at the schema revision this code knows; InvalidInput when it is the
    target itself.
    """
    if source.url == target.url:
        raise InvalidInput("the source and the target are the same database")
    source.check_schema()
    target.upgrade()
    target_version = _version(target)
    deferred = _defer_rum(target)
    if on_start is not None:
        on_start(count_rows(source))
    with source.engine.connect() as read:
        if source.dialect == "postgresql":
            read = read.execution_options(isolation_level="REPEATABLE READ")
        with read.begin():
            source_version = _version_in(read)
            for table in tables():
                _copy_table(read, target, table, batch_size=batch_size, on_rows=on_rows)
            source_rows = {
                t.name: read.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in tables()
            }
    with target.transaction() as conn:
        if target.dialect == "postgresql":
            _reset_sequences(conn)
        # Workers on the target cache pages by catalogue version: the copied version could equal
        # one they cached from other contents, so move past both.
        conn.execute(
            sa.update(catalog_state)
            .where(catalog_state.c.id == 1)
            .values(
                version=max(source_version, target_version) + 1,
                content_version=max(source_version, target_version) + 1,
            )
        )
    _restore_indexes(target, deferred)
    after = count_rows(target)
    return [TableCopy(t.name, source_rows[t.name], after[t.name]) for t in tables()]


def _defer_rum(target: Database) -> list[str]:
    """Drop the target's RUM indexes for the copy and return how to rebuild them: RUM has no
    pending list like GIN's, so filling it row by row would cost many times one build."""
    if target.dialect != "postgresql":
        return []
    with target.transaction() as conn:
        rows = conn.exec_driver_sql(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
            "WHERE a.amname = 'rum' AND i.indrelid = 'papers'::regclass"
        ).all()
        for name, _definition in rows:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [definition for _name, definition in rows]


def _restore_indexes(target: Database, definitions: list[str]) -> None:
    if not definitions:
        return
    with target.transaction() as conn:
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")  # a faster build
        for definition in definitions:
            conn.exec_driver_sql(definition)


def _version(db: Database) -> int:
    with db.connect() as conn:
        return _version_in(conn)


def _version_in(conn: sa.Connection) -> int:
    query = sa.select(catalog_state.c.version).where(catalog_state.c.id == 1)
    return conn.execute(query).scalar() or 0


def _copy_table(
    read: sa.Connection,
    target: Database,
    table: sa.Table,
    *,
    batch_size: int,
    on_rows: ProgressHook | None,
) -> None:
    key = list(table.primary_key.columns)
    others = [c.name for c in table.columns if not c.primary_key]
    # Primary-key order keeps a reply after the comment it answers (self-referencing rows).
    result = read.execution_options(stream_results=True, yield_per=batch_size).execute(
        sa.select(table).order_by(*key)
    )
    for rows in result.partitions(batch_size):
        batch = [dict(r._mapping) for r in rows]
        with target.transaction() as conn:
            stmt = insert(conn, table)
            if others:
                stmt = stmt.on_conflict_do_update(
                    index_elements=[c.name for c in key],
                    set_={name: stmt.excluded[name] for name in others},
                )
            else:
                stmt = stmt.on_conflict_do_nothing(index_elements=[c.name for c in key])
            conn.execute(stmt, batch)
        if on_rows is not None:
            on_rows(table.name, len(batch))


def _reset_sequences(conn: sa.Connection) -> None:
    """Point each serial column's sequence past the largest id copied in explicitly."""
    for table in tables():
        column = table.autoincrement_column
        if column is None:
            continue
        seq = conn.execute(
            sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
        ).scalar()
        if seq is None:
            continue
        top = conn.execute(sa.select(sa.func.max(column))).scalar()
        conn.execute(
            sa.text("SELECT setval(:s, :v, :called)"),
            {"s": seq, "v": top or 1, "called": top is not None},
        )
