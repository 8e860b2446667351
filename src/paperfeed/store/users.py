"""Accounts in the store: users, their browser sessions and their API tokens."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from paperfeed.errors import Conflict, NotFound
from paperfeed.models import Session, User
from paperfeed.store.tables import api_tokens as A
from paperfeed.store.tables import sessions as S
from paperfeed.store.tables import users as T


def _to_user(row) -> User:
    return User(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        is_admin=bool(row.is_admin),
        created_at=row.created_at,
        confirmed=row.confirmed_at is not None,
    )


def create(
    conn: sa.Connection,
    *,
    email: str,
    display_name: str,
    password_hash: str,
    is_admin: bool = False,
    confirmed: bool = False,
) -> User:
    """Insert a user; raises Conflict (and the caller's transaction must end) if the email is
    taken."""
    now = dt.datetime.now(dt.UTC)
    stmt = sa.insert(T).values(
        email=email,
        display_name=display_name,
        password_hash=password_hash,
        is_admin=is_admin,
        created_at=now,
        confirmed_at=now if confirmed else None,
    )
    try:
        user_id = conn.execute(stmt.returning(T.c.id)).scalar_one()
    except sa.exc.IntegrityError:
        raise Conflict("that email address already has an account") from None
    return get(conn, user_id)


def get(conn: sa.Connection, user_id: int) -> User:
    """The user with this id; raises NotFound."""
    row = conn.execute(sa.select(T).where(T.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"no user {user_id}")
    return _to_user(row)


def find_by_email(conn: sa.Connection, email: str) -> tuple[User, str] | None:
    """(user, password hash) for a normalised email, or None."""
    row = conn.execute(sa.select(T).where(T.c.email == email)).first()
    return (_to_user(row), row.password_hash) if row else None


def password_hash(conn: sa.Connection, user_id: int) -> str:
    """The stored password hash of a user; raises NotFound."""
    value = conn.execute(sa.select(T.c.password_hash).where(T.c.id == user_id)).scalar()
    if value is None:
        raise NotFound(f"no user {user_id}")
    return value


def update(conn: sa.Connection, user_id: int, **values) -> None:
    """Change columns of one user (password_hash, is_admin, confirmed_at, display_name)."""
    conn.execute(sa.update(T).where(T.c.id == user_id).values(**values))


def confirm(conn: sa.Connection, user_id: int, *, at: dt.datetime) -> bool:
    """Mark an unconfirmed user confirmed; False if they already were (or do not exist)."""
    res = conn.execute(
        sa.update(T).where(T.c.id == user_id, T.c.confirmed_at.is_(None)).values(confirmed_at=at)
    )
    return res.rowcount == 1


def set_password(
    conn: sa.Connection, user_id: int, password_hash: str, *, expected: str | None = None
) -> bool:
    """Store a new password hash, only over `expected` when given; whether it was stored."""
    q = sa.update(T).where(T.c.id == user_id)
    if expected is not None:
        q = q.where(T.c.password_hash == expected)
    return conn.execute(q.values(password_hash=password_hash)).rowcount == 1


def delete(conn: sa.Connection, user_id: int) -> None:
    """Remove a user; sessions and tokens go with it, votes stay (anonymous)."""
    conn.execute(sa.delete(S).where(S.c.user_id == user_id))
    conn.execute(sa.delete(A).where(A.c.user_id == user_id))
    conn.execute(sa.delete(T).where(T.c.id == user_id))


def display_names(conn: sa.Connection, user_ids: set[int]) -> dict[int, str]:
    """Display names by id."""
    rows = conn.execute(sa.select(T.c.id, T.c.display_name).where(T.c.id.in_(user_ids)))
    return {r.id: r.display_name for r in rows}


def count(conn: sa.Connection) -> int:
    """How many accounts exist."""
    return conn.execute(sa.select(sa.func.count()).select_from(T)).scalar_one()


# --- sessions ---------------------------------------------------------------------------------


def create_session(
    conn: sa.Connection, *, id_hash: str, user_id: int, csrf_token: str, expires_at: dt.datetime
) -> None:
    """Store a new session under the hash of its cookie value."""
    now = dt.datetime.now(dt.UTC)
    conn.execute(
        sa.insert(S).values(
            id_hash=id_hash,
            user_id=user_id,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=expires_at,
        )
    )


def get_session(conn: sa.Connection, id_hash: str, *, now: dt.datetime) -> Session | None:
    """The live session with this hash, with its user, or None."""
    row = conn.execute(
        sa.select(S.c.csrf_token, S.c.expires_at, T)
        .join(T, T.c.id == S.c.user_id)
        .where(S.c.id_hash == id_hash, S.c.expires_at > now)
    ).first()
    if row is None:
        return None
    return Session(user=_to_user(row), csrf_token=row.csrf_token, expires_at=row.expires_at)


def delete_session(conn: sa.Connection, id_hash: str) -> None:
    """End one session."""
    conn.execute(sa.delete(S).where(S.c.id_hash == id_hash))


def delete_sessions(conn: sa.Connection, user_id: int, *, keep: str | None = None) -> None:
    """End every session of a user, except `keep`."""
    q = sa.delete(S).where(S.c.user_id == user_id)
    if keep:
        q = q.where(S.c.id_hash != keep)
    conn.execute(q)


# --- API tokens ----------------------------------------------------------------------------------


def create_token(conn: sa.Connection, *, user_id: int, name: str, token_hash: str) -> int:
    """Store a personal API token by its hash; returns its id."""
    stmt = (
        sa.insert(A)
        .values(
            user_id=user_id, name=name, token_hash=token_hash, created_at=dt.datetime.now(dt.UTC)
        )
        .returning(A.c.id)
    )
    return conn.execute(stmt).scalar_one()


LAST_USED_EVERY = dt.timedelta(minutes=1)


def user_for_token(conn: sa.Connection, token_hash: str, *, now: dt.datetime) -> User | None:
    """The owner of the token with this hash, or None; records the use."""
    row = conn.execute(
        sa.select(T, A.c.id.label("token_id"), A.c.last_used_at)
        .join(A, A.c.user_id == T.c.id)
        .where(A.c.token_hash == token_hash)
    ).first()
    if row is None:
        return None
    # Record use at most once a minute: a busy bot should not turn every read into a write.
    # Conditional, so concurrent requests in the same minute write once between them.
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        conn.execute(
            sa.update(A)
            .where(
                A.c.id == row.token_id,
                sa.or_(A.c.last_used_at.is_(None), A.c.last_used_at <= now - LAST_USED_EVERY),
            )
            .values(last_used_at=now)
        )
    return _to_user(row)


def list_tokens(conn: sa.Connection, user_id: int) -> list[dict]:
    """A user's tokens (id, name, created, last used), never the secret."""
    rows = conn.execute(
        sa.select(A.c.id, A.c.name, A.c.created_at, A.c.last_used_at)
        .where(A.c.user_id == user_id)
        .order_by(A.c.id)
    )
    return [dict(r._mapping) for r in rows]


def delete_token(conn: sa.Connection, *, user_id: int, token_id: int) -> bool:
    """Revoke one of a user's tokens; False if it was not theirs."""
    res = conn.execute(sa.delete(A).where(A.c.id == token_id, A.c.user_id == user_id))
    return res.rowcount > 0


def delete_tokens(conn: sa.Connection, user_id: int) -> int:
    """Revoke every token of a user; how many there were."""
    return conn.execute(sa.delete(A).where(A.c.user_id == user_id)).rowcount
