"""GitHub stars in the store: repositories papers link to, their ETags, daily snapshots, and
the star growth "Trending code" ranks by."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from paperfeed.models import Paper, RepoStars
from paperfeed.store import papers as paper_store
from paperfeed.store.dialect import insert
from paperfeed.store.tables import github_repos as R
from paperfeed.store.tables import github_star_snapshots as S
from paperfeed.store.tables import papers as T


@dataclass(frozen=True, slots=True)
class Growth:
    """A repository's star growth between two snapshot days."""

    repo: str
    gained: int
    stars: int
    since: dt.date
    until: dt.date


def count_linked(conn: sa.Connection, *, after: str | None = None) -> int:
    """How many distinct GitHub repositories visible papers link to (named after `after`)."""
    q = sa.select(sa.func.count(sa.distinct(T.c.github_repo))).where(
        T.c.github_repo.is_not(None), paper_store.VISIBLE
    )
    if after is not None:
        q = q.where(T.c.github_repo > after)
    return conn.execute(q).scalar_one()


def linked_after(
    conn: sa.Connection, after: str | None, *, limit: int
) -> list[tuple[str, str | None]]:
    """(repo, last ETag) of linked repositories after `after`, in name order."""
    q = (
        sa.select(T.c.github_repo, sa.func.max(R.c.etag))
        .select_from(T.outerjoin(R, R.c.repo == T.c.github_repo))
        .where(T.c.github_repo.is_not(None), paper_store.VISIBLE)
        .group_by(T.c.github_repo)
        .order_by(T.c.github_repo)
        .limit(limit)
    )
    if after is not None:
        q = q.where(T.c.github_repo > after)
    return [(r[0], r[1]) for r in conn.execute(q)]


def record(conn: sa.Connection, answers: Iterable[RepoStars], *, day: dt.date) -> int:
    """Store GitHub's answers: the repository row, today's snapshot, and the papers' star
    count. An unchanged (304) answer snapshots the count we hold. Returns papers changed."""
    now = dt.datetime.now(dt.UTC)
    answers = list(answers)
    if not answers:
        return 0
    held = dict(
        conn.execute(
            sa.select(R.c.repo, R.c.stars).where(R.c.repo.in_([a.repo for a in answers]))
        ).all()
    )
    rows, snaps, counts = [], [], []
    for a in answers:
        stars = a.stars if a.status == "ok" else held.get(a.repo)
        # A 304 for a count we do not hold drops the ETag: the next run asks afresh.
        etag = a.etag if a.status in ("ok", "unchanged") and stars is not None else None
        rows.append(
            {
                "repo": a.repo,
                "stars": stars if a.status != "missing" else None,
                "etag": etag,
                "status": "ok" if a.status == "unchanged" else a.status,
                "checked_at": now,
                "error": a.error,
            }
        )
        if stars is not None and a.status in ("ok", "unchanged"):
            snaps.append({"repo": a.repo, "day": day, "stars": stars})
            counts.append({"b_repo": a.repo, "b_stars": stars})
    stmt = insert(conn, R)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[R.c.repo],
            set_={k: stmt.excluded[k] for k in ("stars", "etag", "status", "checked_at", "error")},
        ),
        rows,
    )
    if snaps:
        stmt = insert(conn, S)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[S.c.repo, S.c.day], set_={"stars": stmt.excluded.stars}
            ),
            snaps,
        )
    if not counts:
        return 0
    wanted = {c["b_repo"]: c["b_stars"] for c in counts}
    stale = conn.execute(
        sa.select(T.c.arxiv_id, T.c.github_repo, T.c.github_stars).where(
            T.c.github_repo.in_(list(wanted))
        )
    ).all()
    changes = [
        {"b_id": r.arxiv_id, "b_stars": wanted[r.github_repo]}
        for r in stale
        if r.github_stars != wanted[r.github_repo]
    ]
    if changes:
        conn.execute(
            sa.update(T)
            .where(T.c.arxiv_id == sa.bindparam("b_id"))
            .values(github_stars=sa.bindparam("b_stars")),
            changes,
        )
        paper_store.touch(conn)
    return len(changes)


def snapshot_days(conn: sa.Connection) -> tuple[dt.date | None, dt.date | None]:
    """The first and the latest day with a snapshot."""
    row = conn.execute(sa.select(sa.func.min(S.c.day), sa.func.max(S.c.day))).one()
    return row[0], row[1]


def growth(conn: sa.Connection, *, since: dt.date, limit: int) -> list[Growth]:
    """Repositories by stars gained from their first snapshot on or after `since` to their
    latest, most first; ties to the larger count, then the name."""
    span = (
        sa.select(
            S.c.repo,
            sa.func.min(S.c.day).label("d0"),
            sa.func.max(S.c.day).label("d1"),
        )
        .where(S.c.day >= since)
        .group_by(S.c.repo)
        .having(sa.func.count() > 1)
        .subquery()
    )
    first, last = S.alias("first"), S.alias("last")
    gained = (last.c.stars - first.c.stars).label("gained")
    q = (
        sa.select(span.c.repo, gained, last.c.stars, span.c.d0, span.c.d1)
        .join(first, sa.and_(first.c.repo == span.c.repo, first.c.day == span.c.d0))
        .join(last, sa.and_(last.c.repo == span.c.repo, last.c.day == span.c.d1))
        .where(last.c.stars - first.c.stars > 0)
        .order_by(gained.desc(), last.c.stars.desc(), span.c.repo)
        .limit(limit)
    )
    return [Growth(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(q)]


def papers_of(conn: sa.Connection, repos: list[str]) -> dict[str, list[Paper]]:
    """The visible papers linking to each repository, newest first."""
    out: dict[str, list[Paper]] = {}
    if not repos:
        return out
    q = (
        sa.select(T)
        .where(T.c.github_repo.in_(repos), paper_store.VISIBLE)
        .order_by(T.c.published.desc(), T.c.arxiv_id.desc())
    )
    for row in conn.execute(q):
        out.setdefault(row.github_repo, []).append(paper_store.row_to_paper(row))
    return out
