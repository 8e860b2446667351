"""Digest subscriptions and their send log in the store."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from paperfeed.errors import NotFound
from paperfeed.models import Preferences, Subscription
from paperfeed.store.dialect import insert
from paperfeed.store.tables import digest_sends as D
from paperfeed.store.tables import subscriptions as T

_PREFS = ("cadence", "weekday", "send_hour", "timezone", "max_papers", "categories", "topics")


def _to_subscription(row) -> Subscription:
    return Subscription(
        id=row.id,
        email=row.email,
        key=row.key,
        status=row.status,
        prefs=Preferences(**{name: getattr(row, name) for name in _PREFS}),
        created_at=row.created_at,
        changed_at=row.changed_at,
        user_id=row.user_id,
        confirmed_at=row.confirmed_at,
        covered_until=row.covered_until,
        failures=row.failures,
        paused_reason=row.paused_reason,
    )


def _prefs_values(prefs: Preferences) -> dict:
    return {name: getattr(prefs, name) for name in _PREFS}


def get(conn: sa.Connection, subscription_id: int) -> Subscription:
    """The subscription with this id; raises NotFound."""
    row = conn.execute(sa.select(T).where(T.c.id == subscription_id)).first()
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    return _to_subscription(row)


def find_by_email(conn: sa.Connection, email: str) -> Subscription | None:
    """The subscription of a normalised address, or None."""
    row = conn.execute(sa.select(T).where(T.c.email == email)).first()
    return _to_subscription(row) if row else None


def create(
    conn: sa.Connection,
    *,
    email: str,
    key: str,
    prefs: Preferences,
    user_id: int | None,
    now: dt.datetime,
) -> Subscription:
    """Insert a pending subscription; the caller has checked the address is not taken."""
    stmt = sa.insert(T).values(
        email=email,
        key=key,
        user_id=user_id,
        status="pending",
        created_at=now,
        changed_at=now,
        **_prefs_values(prefs),
    )
    return get(conn, conn.execute(stmt.returning(T.c.id)).scalar_one())


def update(conn: sa.Connection, subscription_id: int, **values) -> None:
    """Change columns of one subscription (status, key, confirmed_at, failures, ...)."""
    conn.execute(sa.update(T).where(T.c.id == subscription_id).values(**values))


def set_prefs(
    conn: sa.Connection, subscription_id: int, prefs: Preferences, *, now: dt.datetime
) -> None:
    """Store new preferences."""
    update(conn, subscription_id, changed_at=now, **_prefs_values(prefs))


def active(conn: sa.Connection) -> list[Subscription]:
    """Every confirmed, unpaused subscription."""
    rows = conn.execute(sa.select(T).where(T.c.status == "active").order_by(T.c.id))
    return [_to_subscription(r) for r in rows]


def listing(conn: sa.Connection, *, status: str | None = None) -> list[Subscription]:
    """Subscriptions, oldest first, optionally only those with one status."""
    q = sa.select(T).order_by(T.c.id)
    if status:
        q = q.where(T.c.status == status)
    return [_to_subscription(r) for r in conn.execute(q)]


# --- the send log ------------------------------------------------------------------------------


def log_entries(conn: sa.Connection, periods: dict[int, str]) -> dict[int, sa.Row]:
    """The send-log rows of the given (subscription id -> period) pairs, by subscription id."""
    if not periods:
        return {}
    rows = conn.execute(sa.select(D).where(D.c.period.in_(set(periods.values()))))
    return {r.subscription_id: r for r in rows if periods.get(r.subscription_id) == r.period}


def claim(
    conn: sa.Connection,
    subscription_id: int,
    period: str,
    *,
    now: dt.datetime,
    stale_before: dt.datetime,
) -> bool:
    """Take the (subscription, period) digest for sending; False when it is not ours to send.

    A new row is inserted as `sending`. An existing row is taken over only when it waits for a
    retry that is due, or when it was claimed before `stale_before` and never marked: its sender
    died. The conditional UPDATE and the unique key make two concurrent senders agree on one.
    """
    inserted = conn.execute(
        insert(conn, D)
        .values(
            subscription_id=subscription_id,
            period=period,
            status="sending",
            attempts=1,
            claimed_at=now,
        )
        .on_conflict_do_nothing(index_elements=["subscription_id", "period"])
        .returning(D.c.id)
    ).first()
    if inserted is not None:
        return True
    due_retry = sa.and_(D.c.status == "retry", D.c.next_attempt_at <= now)
    stale = sa.and_(D.c.status == "sending", D.c.claimed_at < stale_before)
    res = conn.execute(
        sa.update(D)
        .where(
            D.c.subscription_id == subscription_id, D.c.period == period, sa.or_(due_retry, stale)
        )
        .values(status="sending", claimed_at=now, attempts=D.c.attempts + 1)
    )
    return res.rowcount == 1


def finish(
    conn: sa.Connection,
    subscription_id: int,
    period: str,
    *,
    status: str,
    now: dt.datetime,
    papers: int = 0,
    error: str | None = None,
    next_attempt_at: dt.datetime | None = None,
) -> None:
    """Record how a claimed send ended (sent, empty, retry, failed)."""
    values = {
        "status": status,
        "papers": papers,
        "error": error,
        "next_attempt_at": next_attempt_at,
    }
    if status == "sent":
        values["sent_at"] = now
    conn.execute(
        sa.update(D)
        .where(D.c.subscription_id == subscription_id, D.c.period == period)
        .values(**values)
    )


def attempts(conn: sa.Connection, subscription_id: int, period: str) -> int:
    """How many times a claimed send has been tried, this one included."""
    return conn.execute(
        sa.select(D.c.attempts).where(D.c.subscription_id == subscription_id, D.c.period == period)
    ).scalar_one()


def sends(conn: sa.Connection, subscription_id: int, *, limit: int = 10) -> list[dict]:
    """A subscription's latest send-log rows, newest first."""
    rows = conn.execute(
        sa.select(D)
        .where(D.c.subscription_id == subscription_id)
        .order_by(D.c.claimed_at.desc(), D.c.id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


def count_sends(conn: sa.Connection, *, status: str | None = None) -> int:
    """How many send-log rows exist (with this status)."""
    q = sa.select(sa.func.count()).select_from(D)
    if status:
        q = q.where(D.c.status == status)
    return conn.execute(q).scalar_one()
