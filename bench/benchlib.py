"""Helpers shared by the speed benchmarks: the shared data, throw-away PostgreSQL databases,
free loopback ports and plain aligned tables. Bench code only; nothing in src/ imports it."""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from paperfeed.store.database import normalize_url

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
ARXIV = SHARED / "arxiv-daily-dw" / "papers.jsonl.gz"
HF = SHARED / "hf-daily-papers" / "papers.jsonl.gz"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def require(*paths: Path) -> None:
    """Stop with a clear message unless every data file is there."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        sys.exit(
            "missing shared data: " + ", ".join(missing) + "\nThe benchmarks read the corpora "
            f"in <repo>/../shared/data ({SHARED}); put them there and run again."
        )


def pg_problem(url: str) -> str | None:
    """Why this PostgreSQL server cannot be used, or None when it answers."""
    engine = sa.create_engine(normalize_url(url), connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "skip PostgreSQL"
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()
    return None


@contextmanager
def pg_database(url: str, prefix: str = "bench") -> Iterator[str]:
    """A brand-new, empty PostgreSQL database on the server of `url`; dropped afterwards."""
    server = sa.engine.make_url(normalize_url(url))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain text, columns aligned: numbers to the right, words to the left."""
    cells = [[str(x) for x in r] for r in (head, *rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]

    def numeric(i: int) -> bool:
        vals = [r[i] for r in cells[1:] if r[i]]
        return bool(vals) and all(
            v.replace(",", "").replace(".", "").replace("x", "").isdigit() for v in vals
        )

    right = [numeric(i) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)
        ).rstrip()
        for row in cells
    )
