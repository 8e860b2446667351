"""A reader's library in the store: saved and imported entries, notes, "not interested",
collections, and what the personal model trains on (store/reading.py has what the reader was
shown).

Every read and write here takes the reader's user_id and filters on it: no function returns or
changes another reader's rows, so a guessed item or collection id finds nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NamedTuple

import sqlalchemy as sa

from paperfeed.errors import NotFound
from paperfeed.models import Collection, LibraryItem, Reference
from paperfeed.store.dialect import insert
from paperfeed.store.tables import collection_items as CI
from paperfeed.store.tables import collections as C
from paperfeed.store.tables import dismissals as D
from paperfeed.store.tables import library_items as L
from paperfeed.store.tables import paper_vectors as V
from paperfeed.store.tables import papers as P
from paperfeed.store.tables import votes as VO


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _item(row, collections: list[int] | None = None) -> LibraryItem:
    return LibraryItem(
        id=row.id,
        user_id=row.user_id,
        key=row.key,
        title=row.title,
        abstract=row.abstract,
        authors=list(row.authors or []),
        source=row.source,
        saved_at=row.saved_at,
        arxiv_id=row.arxiv_id,
        doi=row.doi,
        year=row.year,
        venue=row.venue,
        note=row.note,
        collections=collections or [],
    )


# -- library items ---------------------------------------------------------------------------
def save(
    conn: sa.Connection,
    user_id: int,
    ref: Reference,
    *,
    source: str,
    vector: bytes | None = None,
    saved_at: dt.datetime | None = None,
) -> tuple[int, bool]:
    """Add an entry, or merge it into the one with the same key: (item id, whether new). A merge
    fills what the stored entry lacks and never overwrites a reader's note."""
    key = ref.key()
    if key is None:
        raise ValueError("an entry needs an arXiv id, a DOI or a title")
    row = conn.execute(sa.select(L).where(L.c.user_id == user_id, L.c.key == key)).first()
    if row is None and ref.arxiv_id:  # saved before under its DOI or title, now with an id
        row = conn.execute(
            sa.select(L).where(L.c.user_id == user_id, L.c.arxiv_id == ref.arxiv_id)
        ).first()
    if row is not None:
        fill: dict[str, object] = {
            name: value
            for name, value in (
                ("arxiv_id", ref.arxiv_id),
                ("doi", ref.doi),
                ("abstract", ref.abstract),
                ("year", ref.year),
                ("venue", ref.venue),
                ("note", ref.note),
                ("vector", vector),
            )
            if value and not getattr(row, name)
        }
        if ref.authors and not row.authors:
            fill["authors"] = ref.authors
        if fill:
            conn.execute(sa.update(L).where(L.c.id == row.id).values(**fill))
        return row.id, False
    stmt = (
        insert(conn, L)
        .values(**_item_row(user_id, key, ref, source, vector, saved_at or _now()))
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(L.c.id)
    )
    new = conn.execute(stmt).first()
    if new is None:  # a concurrent save of the same entry won
        got = conn.execute(sa.select(L.c.id).where(L.c.user_id == user_id, L.c.key == key))
        return got.scalar_one(), False
    return new.id, True


def _item_row(
    user_id: int,
    key: str,
    ref: Reference,
    source: str,
    vector: bytes | None,
    saved_at: dt.datetime,
) -> dict:
    """The library row of one entry, for `save` and `add_many` alike."""
    return dict(
        user_id=user_id,
        key=key,
        arxiv_id=ref.arxiv_id,
        doi=ref.doi,
        title=ref.title or ref.arxiv_id or ref.doi or "",
        abstract=ref.abstract or "",
        authors=list(ref.authors),
        year=ref.year,
        venue=ref.venue,
        note=ref.note or "",
        source=source,
        vector=vector,
        saved_at=saved_at,
    )


def known_keys(conn: sa.Connection, user_id: int) -> tuple[set[str], set[str]]:
    """The keys and the arXiv ids of the reader's entries: which of an import's are new."""
    rows = conn.execute(sa.select(L.c.key, L.c.arxiv_id).where(L.c.user_id == user_id))
    keys, ids = set(), set()
    for key, arxiv_id in rows:
        keys.add(key)
        if arxiv_id:
            ids.add(arxiv_id)
    return keys, ids


def add_many(
    conn: sa.Connection,
    user_id: int,
    entries: list[tuple[str, Reference]],
    *,
    source: str,
    saved_at: dt.datetime | None = None,
) -> dict[str, int]:
    """Add (key, entry) pairs whose keys the reader does not have (`known_keys`), in bulk: {key:
    item id} of those added. An entry a concurrent save added first is left out: `save` it."""
    if not entries:
        return {}
    when = saved_at or _now()
    rows = [_item_row(user_id, key, ref, source, None, when) for key, ref in entries]
    stmt = (
        insert(conn, L)
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(L.c.id, L.c.key)
    )
    out: dict[str, int] = {}
    for at in range(0, len(rows), 500):
        result = conn.execute(stmt, rows[at : at + 500])
        out.update((key, item_id) for item_id, key in result)
    return out


def get(conn: sa.Connection, user_id: int, item_id: int) -> LibraryItem:
    """One of this reader's entries; raises NotFound (also for another reader's)."""
    row = conn.execute(sa.select(L).where(L.c.id == item_id, L.c.user_id == user_id)).first()
    if row is None:
        raise NotFound(f"no library entry {item_id}")
    cols = conn.execute(sa.select(CI.c.collection_id).where(CI.c.item_id == item_id)).scalars()
    return _item(row, sorted(cols))


def item_for(conn: sa.Connection, user_id: int, arxiv_id: str) -> LibraryItem | None:
    row = conn.execute(
        sa.select(L).where(L.c.user_id == user_id, L.c.arxiv_id == arxiv_id).limit(1)
    ).first()
    return None if row is None else _item(row)


def remove(conn: sa.Connection, user_id: int, item_id: int) -> bool:
    deleted = conn.execute(sa.delete(L).where(L.c.id == item_id, L.c.user_id == user_id))
    return deleted.rowcount == 1


def remove_paper(conn: sa.Connection, user_id: int, arxiv_id: str) -> bool:
    deleted = conn.execute(sa.delete(L).where(L.c.user_id == user_id, L.c.arxiv_id == arxiv_id))
    return deleted.rowcount > 0


def set_note(conn: sa.Connection, user_id: int, item_id: int, note: str) -> None:
    done = conn.execute(
        sa.update(L).where(L.c.id == item_id, L.c.user_id == user_id).values(note=note)
    )
    if done.rowcount != 1:
        raise NotFound(f"no library entry {item_id}")


def items(
    conn: sa.Connection,
    user_id: int,
    *,
    collection_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[LibraryItem]:
    """This reader's entries, newest first (of one collection of theirs, if given)."""
    q = sa.select(L).where(L.c.user_id == user_id)
    if collection_id is not None:
        q = q.join(CI, CI.c.item_id == L.c.id).where(CI.c.collection_id == collection_id)
    q = q.order_by(L.c.saved_at.desc(), L.c.id.desc()).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    rows = list(conn.execute(q))
    member: dict[int, list[int]] = {}
    if rows:
        links = conn.execute(
            sa.select(CI.c.item_id, CI.c.collection_id)
            .join(C, C.c.id == CI.c.collection_id)
            .where(C.c.user_id == user_id)
        )
        for item_id, cid in links:
            member.setdefault(item_id, []).append(cid)
    return [_item(r, sorted(member.get(r.id, []))) for r in rows]


def count(conn: sa.Connection, user_id: int) -> int:
    q = sa.select(sa.func.count()).select_from(L).where(L.c.user_id == user_id)
    return conn.execute(q).scalar_one()


def saved_among(conn: sa.Connection, user_id: int, arxiv_ids: Iterable[str]) -> set[str]:
    ids = list(arxiv_ids)
    if not ids:
        return set()
    q = sa.select(L.c.arxiv_id).where(L.c.user_id == user_id, L.c.arxiv_id.in_(ids))
    return set(conn.execute(q).scalars())


def saved_ids(conn: sa.Connection, user_id: int) -> set[str]:
    q = sa.select(L.c.arxiv_id).where(L.c.user_id == user_id, L.c.arxiv_id.is_not(None))
    return set(conn.execute(q).scalars())


def training(conn: sa.Connection, user_id: int, model: str) -> list[tuple]:
    """(item id, arxiv id, title, abstract, vector bytes or None, saved_at) of every entry: the
    catalogue's vector where the paper has one, else the entry's own."""
    q = (
        sa.select(
            L.c.id,
            L.c.arxiv_id,
            L.c.title,
            L.c.abstract,
            sa.func.coalesce(V.c.vector, L.c.vector),
            L.c.saved_at,
        )
        .outerjoin(V, sa.and_(V.c.arxiv_id == L.c.arxiv_id, V.c.model == model))
        .where(L.c.user_id == user_id)
        .order_by(L.c.id)
    )
    return [tuple(r) for r in conn.execute(q).all()]  # all(): one fetch, not one per row


def upvoted_training(conn: sa.Connection, user_id: int, model: str) -> list[tuple]:
    """(arxiv id, title, abstract, vector bytes, voted at) of the papers the reader upvoted."""
    q = (
        sa.select(VO.c.arxiv_id, P.c.title, P.c.abstract, V.c.vector, VO.c.created_at)
        .join(P, P.c.arxiv_id == VO.c.arxiv_id)
        .join(V, sa.and_(V.c.arxiv_id == VO.c.arxiv_id, V.c.model == model))
        .where(VO.c.user_id == user_id)
    )
    return [tuple(r) for r in conn.execute(q).all()]


def recent_texts(conn: sa.Connection, *, until: dt.date, limit: int) -> list[tuple[str, str, str]]:
    """(arxiv id, title, abstract) of the `limit` most recently listed visible papers listed on
    or before `until`, newest first: what the personal model counts word weights over."""
    q = (
        sa.select(P.c.arxiv_id, P.c.title, P.c.abstract)
        .where(P.c.listing_day <= until, P.c.hidden.is_(False))
        .order_by(P.c.listing_day.desc(), P.c.arxiv_id.desc())
        .limit(limit)
    )
    return [tuple(r) for r in conn.execute(q)]


class Signals(NamedTuple):
    """`signal_stamp`: a fingerprint of each kind of signal."""

    entries: int
    last_saved: dt.datetime | None
    entry_ids: int  # the sum of the entries' ids
    with_vector: int  # entries with a vector of their own
    dismissed: int
    last_dismissed: dt.datetime | None
    votes: int
    last_vote: dt.datetime | None
    missing: int  # entries with no vector at all


def _signal_stamp_query() -> sa.Select:
    user: sa.BindParameter[int] = sa.bindparam("user_id", type_=sa.Integer)

    def of(table: sa.Table, column) -> sa.ScalarSelect:
        return sa.select(column).where(table.c.user_id == user).scalar_subquery()

    missing = (
        sa.select(sa.func.count())
        .select_from(L.outerjoin(V, V.c.arxiv_id == L.c.arxiv_id))
        .where(L.c.user_id == user, L.c.vector.is_(None), V.c.arxiv_id.is_(None))
        .scalar_subquery()
    )
    return sa.select(
        of(L, sa.func.count()),
        of(L, sa.func.max(L.c.saved_at)),
        of(L, sa.func.coalesce(sa.func.sum(L.c.id), 0)),
        of(L, sa.func.count(L.c.vector)),
        of(D, sa.func.count()),
        of(D, sa.func.max(D.c.created_at)),
        of(VO, sa.func.count()),
        of(VO, sa.func.max(VO.c.created_at)),
        missing,
    )


# Built once: it is read before every ranking.
_SIGNAL_STAMP = _signal_stamp_query()


def signal_stamp(conn: sa.Connection, user_id: int) -> Signals:
    """A cheap fingerprint of everything the reader's model learns from: it changes whenever an
    entry, an upvote or a dismissal is added or removed. One statement of nine indexed
    aggregates: it is read before every ranking, and each round trip costs more than its
    aggregate."""
    return Signals(*conn.execute(_SIGNAL_STAMP, {"user_id": user_id}).one())


def set_vectors(conn: sa.Connection, user_id: int, rows: list[tuple[int, bytes]]) -> None:
    for item_id, vector in rows:
        conn.execute(
            sa.update(L).where(L.c.id == item_id, L.c.user_id == user_id).values(vector=vector)
        )


# -- not interested ----------------------------------------------------------------------------
def dismiss(conn: sa.Connection, user_id: int, arxiv_id: str) -> bool:
    stmt = (
        insert(conn, D)
        .values(user_id=user_id, arxiv_id=arxiv_id, created_at=_now())
        .on_conflict_do_nothing(index_elements=["user_id", "arxiv_id"])
        .returning(D.c.arxiv_id)
    )
    return conn.execute(stmt).first() is not None


def undismiss(conn: sa.Connection, user_id: int, arxiv_id: str) -> bool:
    gone = conn.execute(sa.delete(D).where(D.c.user_id == user_id, D.c.arxiv_id == arxiv_id))
    return gone.rowcount == 1


def dismissed(conn: sa.Connection, user_id: int) -> list[tuple[str, dt.datetime]]:
    q = (
        sa.select(D.c.arxiv_id, D.c.created_at)
        .where(D.c.user_id == user_id)
        .order_by(D.c.created_at.desc(), D.c.arxiv_id)
    )
    return [tuple(r) for r in conn.execute(q)]


def _marks_among(table: sa.Table, kind: str) -> sa.Select:
    return (
        sa.select(sa.literal(kind).label("kind"), table.c.arxiv_id)
        .join(P, P.c.arxiv_id == table.c.arxiv_id)
        .where(
            table.c.user_id == sa.bindparam("user_id"),
            P.c.listing_day >= sa.bindparam("start", type_=sa.Date),
            P.c.listing_day <= sa.bindparam("end", type_=sa.Date),
        )
    )


# Built once: a page asks for its reader's marks on every request.
_MARKS = sa.union_all(_marks_among(VO, "v"), _marks_among(L, "s"), _marks_among(D, "d"))


def marks_between(
    conn: sa.Connection, user_id: int, start: dt.date, end: dt.date
) -> tuple[set[str], set[str], set[str]]:
    """(upvoted, saved, dismissed) among the papers listed start..end, in one read: what a
    page of cards shows for one reader. Bounded by days, not ids, so the statement is the same
    for every page (no long IN list to expand)."""

    found: dict[str, set[str]] = {"v": set(), "s": set(), "d": set()}
    rows = conn.execute(_MARKS, {"user_id": user_id, "start": start, "end": end})
    for kind, arxiv_id in rows:
        found[kind].add(arxiv_id)
    return found["v"], found["s"], found["d"]


def dismissed_among(conn: sa.Connection, user_id: int, arxiv_ids: Iterable[str]) -> set[str]:
    ids = list(arxiv_ids)
    if not ids:
        return set()
    q = sa.select(D.c.arxiv_id).where(D.c.user_id == user_id, D.c.arxiv_id.in_(ids))
    return set(conn.execute(q).scalars())


def dismissed_vectors(
    conn: sa.Connection, user_id: int, model: str, *, ids: list[str] | None = None
) -> list[bytes]:
    """The vectors of the papers the reader dismissed; `ids`: those papers' ids when the caller
    has read them already (`dismissed`), which saves a query."""
    # The reader's ids first: as one join, SQLite scanned every vector of the model (18 ms).
    if ids is None:
        ids = list(conn.execute(sa.select(D.c.arxiv_id).where(D.c.user_id == user_id)).scalars())
    out: list[bytes] = []
    for at in range(0, len(ids), 500):
        q = sa.select(V.c.vector).where(V.c.arxiv_id.in_(ids[at : at + 500]), V.c.model == model)
        out += conn.execute(q).scalars()
    return out


# -- collections -------------------------------------------------------------------------------
def _collection(row) -> Collection:
    return Collection(row.id, row.user_id, row.name, bool(row.public), row.created_at, row.size)


def _collections_query():
    size = (
        sa.select(sa.func.count())
        .select_from(CI)
        .where(CI.c.collection_id == C.c.id)
        .scalar_subquery()
    )
    return sa.select(C, size.label("size"))


def create_collection(conn: sa.Connection, user_id: int, name: str) -> int:
    """A new private collection, or the existing one of that name."""
    got = conn.execute(sa.select(C.c.id).where(C.c.user_id == user_id, C.c.name == name)).first()
    if got is not None:
        return got.id
    stmt = (
        insert(conn, C)
        .values(user_id=user_id, name=name, public=False, created_at=_now())
        .on_conflict_do_nothing(index_elements=["user_id", "name"])
        .returning(C.c.id)
    )
    row = conn.execute(stmt).first()
    if row is None:
        return conn.execute(
            sa.select(C.c.id).where(C.c.user_id == user_id, C.c.name == name)
        ).scalar_one()
    return row.id


def collections(conn: sa.Connection, user_id: int) -> list[Collection]:
    q = _collections_query().where(C.c.user_id == user_id).order_by(C.c.name, C.c.id)
    return [_collection(r) for r in conn.execute(q)]


def get_collection(conn: sa.Connection, user_id: int, collection_id: int) -> Collection:
    """One of this reader's collections; NotFound for anyone else's."""
    q = _collections_query().where(C.c.id == collection_id, C.c.user_id == user_id)
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"no collection {collection_id}")
    return _collection(row)


def public_collection(conn: sa.Connection, collection_id: int) -> Collection:
    """A collection its owner made public; NotFound for a private one."""
    q = _collections_query().where(C.c.id == collection_id, C.c.public.is_(True))
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"no public collection {collection_id}")
    return _collection(row)


def set_public(conn: sa.Connection, user_id: int, collection_id: int, public: bool) -> None:
    done = conn.execute(
        sa.update(C).where(C.c.id == collection_id, C.c.user_id == user_id).values(public=public)
    )
    if done.rowcount != 1:
        raise NotFound(f"no collection {collection_id}")


def delete_collection(conn: sa.Connection, user_id: int, collection_id: int) -> bool:
    gone = conn.execute(sa.delete(C).where(C.c.id == collection_id, C.c.user_id == user_id))
    return gone.rowcount == 1


def file_item(conn: sa.Connection, user_id: int, collection_id: int, item_id: int) -> None:
    """Put one of the reader's entries into one of their collections (both must be theirs)."""
    get_collection(conn, user_id, collection_id)
    get(conn, user_id, item_id)
    stmt = (
        insert(conn, CI)
        .values(collection_id=collection_id, item_id=item_id, added_at=_now())
        .on_conflict_do_nothing(index_elements=["collection_id", "item_id"])
    )
    conn.execute(stmt)


def unfile_item(conn: sa.Connection, user_id: int, collection_id: int, item_id: int) -> None:
    get_collection(conn, user_id, collection_id)
    conn.execute(sa.delete(CI).where(CI.c.collection_id == collection_id, CI.c.item_id == item_id))
