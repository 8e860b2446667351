"""Paper rows: get, upsert (idempotent, version-aware merge) and ordered listings."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace

import sqlalchemy as sa

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import IngestCounts, Paper, Rejected
from paperfeed.store import authors as author_store
from paperfeed.store.tables import catalog_state as S
from paperfeed.store.tables import comments as C
from paperfeed.store.tables import paper_vectors
from paperfeed.store.tables import papers as T
from paperfeed.store.tables import users as U

_CONTENT = (
    "version",
    "title",
    "abstract",
    "authors",
    "primary_category",
    "categories",
    "comment",
    "journal_ref",
    "doi",
    "published",
    "updated",
    "listing_day",
    "code_url",
    "project_url",
    "upvotes",
    "num_comments",
    "github_stars",
    "ai_summary",
    "ai_keywords",
    "organization",
    "organization_id",
    "hf_submitter",
    "hf_comments",
)
# Hugging Face's own view of a paper: an import that says anything here brings the news.
_HF_FIELDS = ("ai_summary", "ai_keywords", "organization", "organization_id", "hf_submitter")
_METADATA = (
    "title",
    "abstract",
    "authors",
    "primary_category",
    "categories",
    "comment",
    "journal_ref",
    "doi",
    "updated",
)
VISIBLE = T.c.hidden == sa.false()  # what readers see: not hidden by an administrator
# Listing order of the daily page: most upvoted first, then the most recent.
_ORDER = (T.c.upvotes.desc(), T.c.published.desc(), T.c.arxiv_id.desc())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def row_to_paper(row: sa.Row) -> Paper:
    """A Paper from a row of the papers table."""
    m = row._mapping
    values = {k: m[k] for k in ("arxiv_id", *_CONTENT)}
    values["ai_keywords"] = values["ai_keywords"] or []
    return Paper(**values, submitted_by=m["submitted_by"], hidden=bool(m["hidden"]))


def _known(value) -> bool:
    return value is not None and value != [] and value != ""


def _complete(p: Paper) -> Paper:
    """Fill what the table needs but a source may not say."""
    published = p.published
    listing_day = p.listing_day
    if published is None:
        day = listing_day or _now().date()
        published = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    if listing_day is None:
        listing_day = published.astimezone(dt.UTC).date()
    primary = p.primary_category or (p.categories[0] if p.categories else None)
    return replace(
        p,
        version=p.version or 1,
        published=published,
        listing_day=listing_day,
        primary_category=primary,
        upvotes=p.upvotes or 0,
        num_comments=0,  # counted from our own discussion as comments arrive
    )


def merge(existing: Paper, incoming: Paper) -> Paper:
    """What a stored paper becomes when a source reports it again.

    Metadata follows the incoming record unless it is an older version; fields the source
    does not know keep their stored values; the first listing day wins; upvotes never go down.
    A source's GitHub star count only fills a missing one: `ingest github-stars` keeps it
    current. The comment count is ours (the discussion here); a source's goes to hf_comments.
    """
    # A stored paper without a version is older than any versioned report.
    older = (
        incoming.version is not None
        and existing.version is not None
        and incoming.version < existing.version
    )
    newer = incoming.version is not None and (
        existing.version is None or incoming.version > existing.version
    )
    out = replace(existing)
    if not older:
        for name in _METADATA:
            value = getattr(incoming, name)
            if _known(value):
                setattr(out, name, value)
    if newer:
        out.version = incoming.version
    if incoming.published is not None and (
        existing.published is None or incoming.published < existing.published
    ):
        out.published = incoming.published
    for name in ("code_url", "project_url"):
        value = getattr(incoming, name)
        if _known(value) and (newer or getattr(existing, name) is None):
            setattr(out, name, value)
    if incoming.upvotes is not None:
        out.upvotes = max(existing.upvotes or 0, incoming.upvotes)
    if incoming.hf_comments is not None:
        out.hf_comments = max(existing.hf_comments or 0, incoming.hf_comments)
    if incoming.github_stars is not None and existing.github_stars is None:
        out.github_stars = incoming.github_stars
    for name in _HF_FIELDS:
        value = getattr(incoming, name)
        if _known(value):
            setattr(out, name, value)
    if out.primary_category is None and out.categories:
        out.primary_category = out.categories[0]
    return out


def _values(p: Paper) -> dict:
    values = {k: getattr(p, k) for k in _CONTENT}
    values["ai_keywords"] = values["ai_keywords"] or None
    return values


def _row(p: Paper) -> dict:
    return {**_values(p), "github_repo": p.github_repo}


def get(conn: sa.Connection, arxiv_id: str) -> Paper:
    """The paper with this id (no version suffix); raises NotFound."""
    row = conn.execute(sa.select(T).where(T.c.arxiv_id == arxiv_id)).first()
    if row is None:
        raise NotFound(f"no paper with arXiv id {arxiv_id}")
    return row_to_paper(row)


def get_many(conn: sa.Connection, arxiv_ids: Iterable[str]) -> dict[str, Paper]:
    """The stored papers among these ids, by id."""
    ids = list(dict.fromkeys(arxiv_ids))
    out: dict[str, Paper] = {}
    for i in range(0, len(ids), 500):
        rows = conn.execute(sa.select(T).where(T.c.arxiv_id.in_(ids[i : i + 500])))
        out.update((r.arxiv_id, row_to_paper(r)) for r in rows)
    return out


def upsert_many(conn: sa.Connection, incoming: Iterable[Paper]) -> IngestCounts:
    """Insert new papers and merge known ones; running it twice changes nothing."""
    batch: dict[str, Paper] = {}
    for p in incoming:  # a later duplicate inside one batch merges into the earlier one
        batch[p.arxiv_id] = merge(batch[p.arxiv_id], p) if p.arxiv_id in batch else _complete(p)
    counts = IngestCounts()
    if not batch:
        return counts
    existing = get_many(conn, batch)
    now = _now()
    inserts, updates, reworded = [], [], []
    authored: list[Paper] = []  # papers whose author rows must be written
    for arxiv_id, p in batch.items():
        old = existing.get(arxiv_id)
        if old is None:
            inserts.append({"arxiv_id": arxiv_id, **_row(p), "created_at": now, "modified_at": now})
            authored.append(p)
            continue
        merged = merge(old, p)
        if _values(merged) == _values(old):
            counts.unchanged += 1
        else:
            updates.append({"b_id": arxiv_id, **_row(merged), "modified_at": now})
            if (merged.title, merged.abstract) != (old.title, old.abstract):
                reworded.append(arxiv_id)
            if merged.authors != old.authors:
                authored.append(merged)
    if inserts:
        conn.execute(sa.insert(T), inserts)
        counts.new += len(inserts)
    if inserts or updates:
        touch(conn)
    if updates:
        stmt = (
            sa.update(T)
            .where(T.c.arxiv_id == sa.bindparam("b_id"))
            .values({k: sa.bindparam(k) for k in (*_CONTENT, "github_repo", "modified_at")})
        )
        conn.execute(stmt, updates)
        counts.updated += len(updates)
    if authored:
        author_store.replace(conn, authored)
    if reworded:  # their embeddings describe the old text: embed them again
        conn.execute(sa.delete(paper_vectors).where(paper_vectors.c.arxiv_id.in_(reworded)))
    return counts


# How drivers refuse a value: SQLAlchemy wraps the database's errors; sqlite3 raises OverflowError
# for integers past 64 bits and both raise ValueError (UnicodeEncodeError) for lone surrogates.
_REFUSED = (sa.exc.SQLAlchemyError, OverflowError, ValueError)


def upsert_each(conn: sa.Connection, incoming: list[Paper]) -> tuple[IngestCounts, list[Rejected]]:
    """upsert_many, but a paper the database refuses is rejected with the reason, not fatal.

    Sources bound every field, so this is the second line: the batch goes in as one statement
    in a savepoint, and only if the database refuses it does each paper get its own savepoint,
    so the refused ones are named and every other one still lands.
    """
    try:
        with conn.begin_nested():
            return upsert_many(conn, incoming), []
    except _REFUSED:
        pass
    counts, refused = IngestCounts(), []
    for paper in incoming:
        try:
            with conn.begin_nested():
                counts.add(upsert_many(conn, [paper]))
        except _REFUSED as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
            refused.append(Rejected(paper.arxiv_id, f"the database refused it: {reason}"))
    return counts, refused


def touch(conn: sa.Connection, *, content: bool = True) -> None:
    """Mark the catalogue changed, inside the caller's transaction; `content=False` for a vote,
    which moves counts and order but leaves what cards show otherwise as it was."""
    values = {"version": S.c.version + 1, "changed_at": _now()}
    if content:
        values["content_version"] = S.c.version + 1
    conn.execute(sa.update(S).where(S.c.id == 1).values(**values))


def catalog_version(conn: sa.Connection) -> int:
    """A number that grows whenever any paper is added or changed."""
    return conn.execute(sa.select(S.c.version).where(S.c.id == 1)).scalar_one()


def catalog_state(conn: sa.Connection) -> tuple[int, dt.datetime]:
    """(version, when it last changed)."""
    row = conn.execute(sa.select(S.c.version, S.c.changed_at).where(S.c.id == 1)).one()
    return row.version, row.changed_at


def catalog_stamp(conn: sa.Connection) -> tuple[int, int, dt.datetime]:
    """(version, content version, when it last changed) in one read."""
    q = sa.select(S.c.version, S.c.content_version, S.c.changed_at).where(S.c.id == 1)
    row = conn.execute(q).one()
    return row.version, row.content_version, row.changed_at


def upsert(conn: sa.Connection, paper: Paper) -> str:
    """Upsert one paper; returns 'new', 'updated' or 'unchanged'."""
    c = upsert_many(conn, [paper])
    return "new" if c.new else "updated" if c.updated else "unchanged"


# --- listings ---------------------------------------------------------------------------------


MAX_CURSOR = 400  # characters; an issued cursor is about 100


def encode_cursor(p: Paper) -> str:
    """An opaque keyset cursor that points just after this paper in listing order."""
    if p.published is None:  # the papers table requires it; a Paper built elsewhere may not
        raise ValueError(f"{p.arxiv_id} has no publication time to page by")
    return encode_position(p.upvotes, p.published, p.arxiv_id)


def encode_position(upvotes: int | None, published: dt.datetime, arxiv_id: str) -> str:
    """The cursor just after a paper with these sort keys."""
    raw = json.dumps([upvotes, published.isoformat(), arxiv_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, dt.datetime, str]:
    """The keyset position in a cursor; raises InvalidInput for anything we did not issue."""
    try:
        # A cursor we issued is short and flat: anything long or deep is refused before parsing.
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        upvotes, published, arxiv_id = json.loads(raw)
        when = dt.datetime.fromisoformat(published)
        if not isinstance(upvotes, int) or not isinstance(arxiv_id, str) or when.tzinfo is None:
            raise ValueError
        if not -(2**63) <= upvotes < 2**63:  # what an INTEGER column (and BIGINT) holds
            raise ValueError
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError):
        raise InvalidInput("invalid cursor: pass back the next_cursor a listing returned") from None
    return upvotes, when, arxiv_id


def list_between(
    conn: sa.Connection,
    start: dt.date,
    end: dt.date,
    *,
    limit: int,
    cursor: str | None = None,
    offset: int = 0,
    newest_first: bool = False,
    submitter: str | None = None,
) -> list[Paper]:
    """Papers listed on days start..end (inclusive), in listing order, after `cursor`;
    `newest_first` orders by publication time; `submitter` is a Hugging Face user name or a
    reader's display name."""
    q = sa.select(T).where(T.c.listing_day >= start, T.c.listing_day <= end, VISIBLE)
    if submitter is not None:
        readers = sa.select(U.c.id).where(U.c.display_name == submitter)
        q = q.where(sa.or_(T.c.hf_submitter == submitter, T.c.submitted_by.in_(readers)))
    if newest_first:
        order = (T.c.published.desc(), T.c.arxiv_id.desc())
        rows = conn.execute(q.order_by(*order).limit(limit).offset(offset or None))
        return [row_to_paper(r) for r in rows]
    q = _after(q, cursor)
    rows = conn.execute(q.order_by(*_ORDER).limit(limit).offset(offset or None))
    return [row_to_paper(r) for r in rows]


def _after(q: sa.Select, cursor: str | None) -> sa.Select:
    if not cursor:
        return q
    upvotes, published, arxiv_id = decode_cursor(cursor)
    # All three sort keys descend, so "after" is a plain row-value comparison.
    return q.where(
        sa.tuple_(T.c.upvotes, T.c.published, T.c.arxiv_id)
        < sa.tuple_(
            sa.literal(upvotes), sa.literal(published, T.c.published.type), sa.literal(arxiv_id)
        )
    )


def lineup_between(
    conn: sa.Connection, start: dt.date, end: dt.date, *, limit: int, cursor: str | None = None
) -> tuple[list[tuple[str, int, int | None]], str | None]:
    """(id, upvotes, submitted_by) of the papers list_between would return, in its order, and
    the cursor of the next page (None on the last): the narrow rows a page of cached cards
    needs, mostly from the listing index. The publication time, a sort key, is read only for
    the cursor's paper: converting it on every row was a third of reading a 300-paper day."""
    q = sa.select(T.c.arxiv_id, T.c.upvotes, T.c.submitted_by).where(
        T.c.listing_day >= start, T.c.listing_day <= end, VISIBLE
    )
    rows = [
        (r[0], r[1], r[2])
        for r in conn.execute(_after(q, cursor).order_by(*_ORDER).limit(limit + 1))
    ]
    if len(rows) <= limit:
        return rows, None
    if limit <= 0:
        return [], None
    last = rows[limit - 1]
    published = conn.execute(sa.select(T.c.published).where(T.c.arxiv_id == last[0])).scalar_one()
    return rows[:limit], encode_position(last[1], published, last[0])


def ranked_ids(
    conn: sa.Connection, *, day: dt.date | None = None, limit: int
) -> list[tuple[str, int, dt.datetime]]:
    """(id, upvotes, published) of the most upvoted visible papers of one listing day, or of all
    days when `day` is None; narrow rows straight from an index, for ranking."""
    q = sa.select(T.c.arxiv_id, T.c.upvotes, T.c.published).where(T.c.upvotes > 0, VISIBLE)
    if day is not None:
        q = q.where(T.c.listing_day == day)
    rows = conn.execute(q.order_by(*_ORDER).limit(limit))
    return [(r.arxiv_id, r.upvotes, r.published) for r in rows]


def count_between(conn: sa.Connection, start: dt.date, end: dt.date) -> int:
    """How many papers are listed on days start..end."""
    q = sa.select(sa.func.count()).where(T.c.listing_day >= start, T.c.listing_day <= end, VISIBLE)
    return conn.execute(q).scalar_one()


def day_before(conn: sa.Connection, day: dt.date) -> dt.date | None:
    """The latest listing day before `day` that has papers."""
    return conn.execute(
        sa.select(sa.func.max(T.c.listing_day)).where(T.c.listing_day < day, VISIBLE)
    ).scalar()


def day_after(conn: sa.Connection, day: dt.date) -> dt.date | None:
    """The earliest listing day after `day` that has papers."""
    return conn.execute(
        sa.select(sa.func.min(T.c.listing_day)).where(T.c.listing_day > day, VISIBLE)
    ).scalar()


def latest_day(conn: sa.Connection, *, on_or_before: dt.date) -> dt.date | None:
    """The most recent listing day with papers, not after `on_or_before`."""
    q = sa.select(sa.func.max(T.c.listing_day)).where(T.c.listing_day <= on_or_before)
    return conn.execute(q).scalar()


def any_stored(conn: sa.Connection) -> bool:
    """Whether the catalogue holds at least one paper."""
    return conn.execute(sa.select(T.c.arxiv_id).limit(1)).first() is not None


def set_hidden(conn: sa.Connection, arxiv_id: str, hidden: bool) -> None:
    """Hide a paper from every listing, or show it again; raises NotFound."""
    res = conn.execute(sa.update(T).where(T.c.arxiv_id == arxiv_id).values(hidden=hidden))
    if res.rowcount == 0:
        raise NotFound(f"no paper with arXiv id {arxiv_id}")
    touch(conn)


def set_submitter(conn: sa.Connection, arxiv_id: str, user_id: int) -> None:
    """Record who submitted a paper."""
    conn.execute(sa.update(T).where(T.c.arxiv_id == arxiv_id).values(submitted_by=user_id))
    touch(conn)


def recount_comments(conn: sa.Connection, arxiv_id: str) -> None:
    """Set a paper's comment count to what its discussion shows readers: every comment not
    hidden by an administrator (a deleted one keeps its place in the thread)."""
    shown = (
        sa.select(sa.func.count())
        .select_from(C)
        .where(C.c.arxiv_id == arxiv_id, C.c.hidden == sa.false())
        .scalar_subquery()
    )
    conn.execute(sa.update(T).where(T.c.arxiv_id == arxiv_id).values(num_comments=shown))
    touch(conn)


def count(conn: sa.Connection) -> int:
    """How many papers are stored."""
    return conn.execute(sa.select(sa.func.count()).select_from(T)).scalar_one()


def iter_all(conn: sa.Connection, *, batch_size: int = 1000) -> Iterator[Paper]:
    """Every paper in (listing_day, arxiv_id) order, read in keyset pages."""
    last: tuple[dt.date, str] | None = None
    while True:
        q = sa.select(T).order_by(T.c.listing_day, T.c.arxiv_id).limit(batch_size)
        if last is not None:
            q = q.where(
                sa.tuple_(T.c.listing_day, T.c.arxiv_id) > sa.tuple_(*map(sa.literal, last))
            )
        rows = conn.execute(q).all()
        if not rows:
            return
        for r in rows:
            yield row_to_paper(r)
        last = (rows[-1].listing_day, rows[-1].arxiv_id)


def created_since(conn: sa.Connection, moment: dt.datetime, *, limit: int = 20_000) -> list[str]:
    """Ids of visible papers added to the catalogue after `moment`, oldest first."""
    q = (
        sa.select(T.c.arxiv_id)
        .where(T.c.created_at > moment, VISIBLE)
        .order_by(T.c.created_at, T.c.arxiv_id)
        .limit(limit)
    )
    return list(conn.execute(q).scalars())
