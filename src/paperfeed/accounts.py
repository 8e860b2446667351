"""Accounts: sign-up with a confirmed email, passwords (argon2id), sessions, the login lockout,
resets and personal API tokens.

Every emailed link is single-use: a confirmation link works while the account is unconfirmed, a
reset link while the password is the one it was issued for, and both carry a fingerprint of the
password hash, so any password change voids every link sent before it. A password change also
revokes every API token and every other session (docs/community.md, "Tokens").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperfeed import limits, mail
from paperfeed.addresses import limit_key, normalize
from paperfeed.config import Settings
from paperfeed.errors import Conflict, InvalidInput, NotAllowed, NotFound, RateLimited
from paperfeed.models import Session, User
from paperfeed.store import Database
from paperfeed.store import users as store

CONFIRM_MAX_AGE = 3 * 24 * 3600
RESET_MAX_AGE = 3600
MAX_PASSWORD = 1024  # argon2 hashes anything, but nobody needs a megabyte of password
MAX_NAME = 80
WRONG_LOGIN = "wrong email or password"


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id with the library's current recommended parameters


@functools.cache
def _dummy_hash() -> str:
    # Verifying against this for unknown emails makes both answers take as long.
    return _hasher().hash(secrets.token_hex(16))


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def check_password(settings: Settings, password: str) -> None:
    """Refuse passwords that are too short or absurdly long."""
    if len(password) < settings.password_min_length:
        raise InvalidInput(f"use at least {settings.password_min_length} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"use at most {MAX_PASSWORD} characters")


def clean_name(name: str, *, fallback: str, what: str = "a name") -> str:
    """A display or token name on one line, at most 80 characters; control characters (a NUL,
    which PostgreSQL cannot store, an escape, a lone surrogate) are refused."""
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in name if c not in "\t\r\n"):
        raise InvalidInput(f"{what} cannot contain control characters")
    return " ".join(name.split())[:MAX_NAME] or fallback


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt=f"paperfeed-{purpose}")


def _link(settings: Settings, path: str) -> str:
    return settings.base_url.rstrip("/") + path


def _fingerprint(password_hash: str) -> str:
    # Part of every emailed token: once the password changes, links sent before stop working.
    return _sha256(password_hash)[:16]


# --- sign-up and confirmation ------------------------------------------------------------------


def signup(
    db: Database,
    settings: Settings,
    *,
    email: str,
    password: str,
    name: str,
    defer: mail.Defer = mail.at_once,
) -> None:
    """Register an address and mail a confirmation link; a known address gets a notice instead.

    The caller's answer is the same either way, so sign-up does not reveal who has an account;
    both mails go out through `defer`, after the answer.
    """
    address = normalize(email)
    check_password(settings, password)
    display = clean_name(name, fallback=address.split("@")[0])
    limits.hit(db, settings, "signup", limit_key(address))
    hashed = _hasher().hash(password)
    try:
        with db.transaction() as conn:
            user = store.create(conn, email=address, display_name=display, password_hash=hashed)
    except Conflict:
        defer(mail.deliver, settings, _known_address_notice(settings, address))
        return
    token = _serializer(settings, "confirm").dumps([user.id, _fingerprint(hashed)])
    defer(
        mail.deliver,
        settings,
        mail.Message(
            to=address,
            subject=f"Confirm your {settings.site_name} account",
            text=f"Welcome to {settings.site_name}!\n\nConfirm your address to finish signing up:\n"
            f"{_link(settings, '/confirm?token=' + token)}\n\n"
            "The link works once, for 3 days.",
        ),
    )


def _known_address_notice(settings: Settings, address: str) -> mail.Message:
    return mail.Message(
        to=address,
        subject=f"Sign-up attempt at {settings.site_name}",
        text="Someone tried to create an account with this address at "
        f"{settings.site_name}."
        f"\n\nYou already have one. Log in at {_link(settings, '/login')}, or reset your "
        f"password at {_link(settings, '/reset')}.\n\nIf it was not you, ignore this.",
    )


def confirmation_for(db: Database, settings: Settings, token: str) -> User:
    """The unconfirmed account a confirmation link names, without using the link up;
    NotAllowed for a bad, expired or already used link."""
    try:
        user_id, fingerprint = _serializer(settings, "confirm").loads(
            token or "", max_age=CONFIRM_MAX_AGE
        )
        user_id = int(user_id)
    except SignatureExpired:
        raise NotAllowed("this confirmation link has expired: sign up again") from None
    except (BadSignature, ValueError, TypeError):
        raise NotAllowed("this confirmation link is not valid") from None
    with db.connect() as conn:
        try:
            user = store.get(conn, user_id)
            current = store.password_hash(conn, user_id)
        except NotFound:
            raise NotAllowed("this confirmation link is not valid any more") from None
    if user.confirmed:
        raise NotAllowed("this confirmation link was already used: log in instead")
    if not secrets.compare_digest(_fingerprint(current), str(fingerprint)):
        raise NotAllowed("this confirmation link is not valid any more: log in or sign up again")
    return user


def confirm(db: Database, settings: Settings, token: str) -> User:
    """Confirm the account a link names; the link is used up. NotAllowed for a bad link."""
    user = confirmation_for(db, settings, token)
    with db.transaction() as conn:
        # Conditional: of two requests racing with one link, one confirms and one is refused.
        if not store.confirm(conn, user.id, at=dt.datetime.now(dt.UTC)):
            raise NotAllowed("this confirmation link was already used: log in instead")
        return store.get(conn, user.id)


# --- logging in --------------------------------------------------------------------------------


def authenticate(db: Database, *, email: str, password: str) -> User:
    """The user these credentials belong to; NotAllowed (one message for every failure)."""
    try:
        address = normalize(email)
    except InvalidInput:
        address = None
    with db.connect() as conn:
        found = store.find_by_email(conn, address) if address else None
    hashed = found[1] if found else _dummy_hash()
    try:
        _hasher().verify(hashed, password[:MAX_PASSWORD])
        ok = found is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or found is None:
        raise NotAllowed(WRONG_LOGIN)
    user = found[0]
    if not user.confirmed:
        raise NotAllowed("confirm your email address first: follow the link we sent you")
    if _hasher().check_needs_rehash(hashed):
        with db.transaction() as conn:
            store.update(conn, user.id, password_hash=_hasher().hash(password))
    return user


def log_in(db: Database, settings: Settings, *, email: str, password: str, client: str) -> User:
    """`authenticate` behind the lockout: after `limit_login_failure` failures for one address
    (counted on its normalised form, so no spelling of it gets more guesses) or from one client,
    every attempt is refused until the window ends, the right password too. InvalidInput for
    something that is not an address, NotAllowed for wrong credentials, RateLimited when locked.
    """
    address = normalize(email)  # an address spelled any other way could never log in
    keys = (limit_key(address), client)
    limits.check(db, settings, "login_failure", *keys)
    try:
        user = authenticate(db, email=address, password=password)
    except NotAllowed:
        # This failure is counted; the next attempt is the one refused.
        with contextlib.suppress(RateLimited):
            limits.hit(db, settings, "login_failure", *keys)
        raise
    limits.clear(db, "login_failure", keys[0])
    return user


def start_session(
    db: Database, settings: Settings, user: User, *, replacing: str | None = None
) -> tuple[str, Session]:
    """A fresh session for `user` (cookie value, session); any previous one is ended, so a
    session id planted before login is never promoted."""
    cookie = secrets.token_urlsafe(32)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=settings.session_days)
    csrf = secrets.token_urlsafe(32)
    with db.transaction() as conn:
        if replacing:
            store.delete_session(conn, _sha256(replacing))
        store.create_session(
            conn, id_hash=_sha256(cookie), user_id=user.id, csrf_token=csrf, expires_at=expires
        )
    return cookie, Session(user=user, csrf_token=csrf, expires_at=expires)


def session_for(db: Database, cookie: str | None) -> Session | None:
    """The live session a cookie value names, or None."""
    if not cookie or len(cookie) > 200:
        return None
    with db.connect() as conn:
        return store.get_session(conn, _sha256(cookie), now=dt.datetime.now(dt.UTC))


def end_session(db: Database, cookie: str | None) -> None:
    """Log out: forget the session."""
    if cookie:
        with db.transaction() as conn:
            store.delete_session(conn, _sha256(cookie))


# --- passwords ---------------------------------------------------------------------------------


def request_password_reset(
    db: Database, settings: Settings, *, email: str, defer: mail.Defer = mail.at_once
) -> None:
    """Mail a signed reset link if the address has an account, nothing if not.

    The request itself does the same work for both: it checks the address, counts it against
    the limit and hands one job to `defer`; only that job, after the answer, looks the account up.
    """
    address = normalize(email)
    limits.hit(db, settings, "reset", limit_key(address))
    defer(_send_reset, db, settings, address)


def _send_reset(db: Database, settings: Settings, address: str) -> None:
    with db.connect() as conn:
        found = store.find_by_email(conn, address)
    if found is None:
        return
    user, hashed = found
    token = _serializer(settings, "reset").dumps([user.id, _fingerprint(hashed)])
    mail.deliver(
        settings,
        mail.Message(
            to=address,
            subject=f"Reset your {settings.site_name} password",
            text="Choose a new password here:\n"
            f"{_link(settings, '/reset/confirm?token=' + token)}\n\n"
            "The link works for one hour and only once. If you did not ask, ignore this mail.",
        ),
    )


def reset_password(db: Database, settings: Settings, *, token: str, password: str) -> User:
    """Set a new password from a reset link: every session and API token of the account ends."""
    try:
        user_id, fingerprint = _serializer(settings, "reset").loads(token, max_age=RESET_MAX_AGE)
        user_id = int(user_id)
    except SignatureExpired:
        raise NotAllowed("this reset link has expired: ask for a new one") from None
    except (BadSignature, ValueError, TypeError):
        raise NotAllowed("this reset link is not valid") from None
    check_password(settings, password)
    used = NotAllowed("this reset link was already used: ask for a new one")
    with db.transaction() as conn:
        try:
            current = store.password_hash(conn, user_id)
        except NotFound:
            raise used from None
        if not secrets.compare_digest(_fingerprint(current), str(fingerprint)):
            raise used
        # Conditional on the hash the link was made for: two racing uses, one wins.
        if not store.set_password(conn, user_id, _hasher().hash(password), expected=current):
            raise used
        store.confirm(conn, user_id, at=dt.datetime.now(dt.UTC))  # the link proved the address
        store.delete_sessions(conn, user_id)
        store.delete_tokens(conn, user_id)
        return store.get(conn, user_id)


def change_password(
    db: Database, settings: Settings, *, user: User, current: str, new: str, keep: str | None
) -> None:
    """Change a password after checking the current one: every other session and every API
    token ends, and links mailed before (confirm, reset) stop working."""
    authenticate(db, email=user.email, password=current)
    check_password(settings, new)
    with db.transaction() as conn:
        store.set_password(conn, user.id, _hasher().hash(new))
        store.delete_sessions(conn, user.id, keep=_sha256(keep) if keep else None)
        store.delete_tokens(conn, user.id)


def delete_account(db: Database, *, user: User, password: str) -> None:
    """Delete an account after checking its password; its votes stay, anonymous."""
    authenticate(db, email=user.email, password=password)
    with db.transaction() as conn:
        store.delete(conn, user.id)


def create_user(
    db: Database, settings: Settings, *, email: str, password: str, admin: bool = False
) -> User:
    """An account that needs no confirmation (the `users create` command)."""
    address = normalize(email)
    check_password(settings, password)
    with db.transaction() as conn:
        return store.create(
            conn,
            email=address,
            display_name=address.split("@")[0][:MAX_NAME],
            password_hash=_hasher().hash(password),
            is_admin=admin,
            confirmed=True,
        )


def user_by_email(db: Database, email: str) -> User:
    """The account of an address (any spelling of it); NotFound."""
    address = normalize(email)
    with db.connect() as conn:
        found = store.find_by_email(conn, address)
    if found is None:
        raise NotFound(f"no account for {address}")
    return found[0]


# --- API tokens --------------------------------------------------------------------------------


def create_api_token(db: Database, *, user: User, name: str) -> str:
    """A new personal API token; only its hash is kept, so show the returned value once."""
    label = clean_name(name, fallback="token", what="a token name")
    token = "pf_" + secrets.token_urlsafe(32)
    with db.transaction() as conn:
        store.create_token(conn, user_id=user.id, name=label, token_hash=_sha256(token))
    return token


def api_tokens(db: Database, *, user: User) -> list[dict]:
    """A reader's tokens: id, name, created_at, last_used_at (never the secret)."""
    with db.connect() as conn:
        return store.list_tokens(conn, user.id)


def revoke_api_token(db: Database, *, user: User, token_id: int) -> None:
    """Revoke one of a reader's tokens; NotFound when they have none with that id."""
    with db.transaction() as conn:
        if not store.delete_token(conn, user_id=user.id, token_id=token_id):
            raise NotFound(f"no token {token_id} for this account")


def revoke_api_tokens(db: Database, *, user: User) -> int:
    """Revoke every token of a reader; how many there were."""
    with db.transaction() as conn:
        return store.delete_tokens(conn, user.id)


def user_for_api_token(db: Database, token: str) -> User | None:
    """The owner of an API token, or None; its last use is recorded at most once a minute."""
    if not token.startswith("pf_") or len(token) > 100:
        return None
    with db.transaction() as conn:
        return store.user_for_token(conn, _sha256(token), now=dt.datetime.now(dt.UTC))


def display_names(db: Database, user_ids: set[int | None]) -> dict[int, str]:
    """Display names by user id, for "submitted by" lines; deleted accounts are absent."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    with db.connect() as conn:
        return store.display_names(conn, ids)
