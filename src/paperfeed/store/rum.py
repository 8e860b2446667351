"""The RUM index of keyword search on PostgreSQL (migration 0010): whether this database has one,
and the best matches of a query read from it in rank order.

A GIN index finds the papers with a word but not the best of them: ranking them means reading
every match from the table. RUM keeps each word's positions and weights in the index, so
`ORDER BY search_vector <=> query LIMIT k` ranks from the index alone. Where the extension is
missing (it is optional) `operator` is None and search ranks through GIN and `ts_rank`."""

from __future__ import annotations

import time

import sqlalchemy as sa

_TTL = 600.0  # seconds an answer is trusted: the index appears or goes only with a migration
_known: dict[str, tuple[float, str | None]] = {}

_FIND = """
SELECT n.nspname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am a ON a.oid = c.relam
CROSS JOIN pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE i.indrelid = 'papers'::regclass AND a.amname = 'rum' AND i.indisvalid AND i.indisready
  AND e.extname = 'rum'
LIMIT 1
"""


def operator(conn: sa.Connection) -> str | None:
    """The RUM distance operator, qualified by the extension's schema (`OPERATOR("public".<=>)`),
    when the papers table has a usable RUM index; otherwise None. Remembered per database for
    ten minutes (`forget` clears it)."""
    if conn.dialect.name != "postgresql":
        return None
    key = str(conn.engine.url)
    now = time.monotonic()
    hit = _known.get(key)
    if hit is not None and now - hit[0] <= _TTL:
        return hit[1]
    schema = conn.exec_driver_sql(_FIND).scalar()
    found = None if schema is None else 'OPERATOR("' + schema.replace('"', '""') + '".<=>)'
    _known[key] = (now, found)
    return found


def forget() -> None:
    """Look again next time: after a migration adds or drops the index."""
    _known.clear()


def best(conn: sa.Connection, queries: list[str], *, k: int) -> list[str]:
    """Ids of the `k` best matches of each `to_tsquery` text by RUM's rank (hidden papers
    included: the caller checks), found from the index alone. Only with `operator`."""
    distance = operator(conn)
    if distance is None or not queries:
        return []
    params: dict = {"k": k}
    parts = []
    for i, text in enumerate(queries):
        params[f"q{i}"] = text
        q = f"to_tsquery('english', :q{i})"  # inline, so the planner sees a constant
        parts.append(
            f"(SELECT arxiv_id FROM papers WHERE search_vector @@ {q} "
            f"ORDER BY search_vector {distance} {q} LIMIT :k)"
        )
    return list(conn.execute(sa.text(" UNION ".join(parts)), params).scalars())
