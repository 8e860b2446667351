"""Accounts: sign-up with a confirmed email, passwords (argon2id), sessions, resets and tokens."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperfeed import mail
from paperfeed.config import Settings
from paperfeed.errors import Conflict, InvalidInput, NotAllowed
from paperfeed.models import Session, User
from paperfeed.store import Database
from paperfeed.store import users as store

CONFIRM_MAX_AGE = 3 * 24 * 3600
RESET_MAX_AGE = 3600
MAX_PASSWORD = 1024  # argon2 hashes anything, but nobody needs a megabyte of password
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
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


def normalize_email(raw: str) -> str:
    """A lower-cased address with an IDNA-encoded domain; InvalidInput otherwise."""
    email = (raw or "").strip()
    if "\r" in email or "\n" in email or not _EMAIL.match(email):
        raise InvalidInput("enter an email address like name@example.org")
    local, _, domain = email.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidInput("that email domain is not valid") from None
    if "." not in domain.strip("."):
        raise InvalidInput("enter an email address like name@example.org")
    return f"{local}@{domain}".lower()


def check_password(settings: Settings, password: str) -> None:
    """Refuse passwords that are too short or absurdly long."""
    if len(password) < settings.password_min_length:
        raise InvalidInput(f"use at least {settings.password_min_length} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"use at most {MAX_PASSWORD} characters")


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt=f"paperfeed-{purpose}")


def _link(settings: Settings, path: str) -> str:
    return settings.base_url.rstrip("/") + path


def signup(db: Database, settings: Settings, *, email: str, password: str, name: str) -> None:
    """Register an address and mail a confirmation link; a known address gets a notice instead.

    The caller's answer is the same either way, so sign-up does not reveal who has an account.
    """
    address = normalize_email(email)
    check_password(settings, password)
    display = " ".join(name.split())[:80] or address.split("@")[0]
    hashed = _hasher().hash(password)
    try:
        with db.transaction() as conn:
            user = store.create(conn, email=address, display_name=display, password_hash=hashed)
    except Conflict:
        user = None
    if user is None:
        mail.send(
            settings,
            mail.Message(
                to=address,
                subject=f"Sign-up attempt at {settings.site_name}",
                text="Someone tried to create an account with this address at "
                f"{settings.site_name}."
                f"\n\nYou already have one. Log in at {_link(settings, '/login')}, or reset your "
                f"password at {_link(settings, '/reset')}.\n\nIf it was not you, ignore this.",
            ),
        )
        return
    token = _serializer(settings, "confirm").dumps(user.id)
    mail.send(
        settings,
        mail.Message(
            to=address,
            subject=f"Confirm your {settings.site_name} account",
            text=f"Welcome to {settings.site_name}!\n\nConfirm your address to finish signing up:\n"
            f"{_link(settings, '/confirm?token=' + token)}\n\nThe link works for 3 days.",
        ),
    )


def confirm(db: Database, settings: Settings, token: str) -> User:
    """Mark the account in a confirmation link as confirmed; NotAllowed for a bad link."""
    try:
        user_id = _serializer(settings, "confirm").loads(token, max_age=CONFIRM_MAX_AGE)
    except SignatureExpired:
        raise NotAllowed("this confirmation link has expired: sign up again") from None
    except BadSignature:
        raise NotAllowed("this confirmation link is not valid") from None
    with db.transaction() as conn:
        user = store.get(conn, int(user_id))
        if not user.confirmed:
            store.update(conn, user.id, confirmed_at=dt.datetime.now(dt.UTC))
        return store.get(conn, user.id)


def authenticate(db: Database, *, email: str, password: str) -> User:
    """The user these credentials belong to; NotAllowed (one message for every failure)."""
    try:
        address = normalize_email(email)
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
    if not ok:
        raise NotAllowed(WRONG_LOGIN)
    user = found[0]
    if not user.confirmed:
        raise NotAllowed("confirm your email address first: follow the link we sent you")
    if _hasher().check_needs_rehash(hashed):
        with db.transaction() as conn:
            store.update(conn, user.id, password_hash=_hasher().hash(password))
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


def _reset_fingerprint(password_hash: str) -> str:
    # Part of the reset token: once the password changes, older links stop working.
    return _sha256(password_hash)[:16]


def request_password_reset(db: Database, settings: Settings, *, email: str) -> None:
    """Mail a signed reset link if the address has an account; the answer is the same if not."""
    try:
        address = normalize_email(email)
    except InvalidInput:
        return
    with db.connect() as conn:
        found = store.find_by_email(conn, address)
    if found is None:
        return
    user, hashed = found
    token = _serializer(settings, "reset").dumps([user.id, _reset_fingerprint(hashed)])
    mail.send(
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
    """Set a new password from a reset link; every session of the account ends."""
    try:
        user_id, fingerprint = _serializer(settings, "reset").loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired:
        raise NotAllowed("this reset link has expired: ask for a new one") from None
    except (BadSignature, ValueError, TypeError):
        raise NotAllowed("this reset link is not valid") from None
    check_password(settings, password)
    with db.transaction() as conn:
        current = store.password_hash(conn, int(user_id))
        if not secrets.compare_digest(_reset_fingerprint(current), str(fingerprint)):
            raise NotAllowed("this reset link was already used: ask for a new one")
        store.update(
            conn,
            int(user_id),
            password_hash=_hasher().hash(password),
            confirmed_at=dt.datetime.now(dt.UTC),
        )
        store.delete_sessions(conn, int(user_id))
        return store.get(conn, int(user_id))


def change_password(
    db: Database, settings: Settings, *, user: User, current: str, new: str, keep: str | None
) -> None:
    """Change a password after checking the current one; other sessions end."""
    authenticate(db, email=user.email, password=current)
    check_password(settings, new)
    with db.transaction() as conn:
        store.update(conn, user.id, password_hash=_hasher().hash(new))
        store.delete_sessions(conn, user.id, keep=_sha256(keep) if keep else None)


def delete_account(db: Database, *, user: User, password: str) -> None:
    """Delete an account after checking its password; its votes stay, anonymous."""
    authenticate(db, email=user.email, password=password)
    with db.transaction() as conn:
        store.delete(conn, user.id)


def create_user(
    db: Database, settings: Settings, *, email: str, password: str, admin: bool = False
) -> User:
    """An account that needs no confirmation (the `users create` command)."""
    address = normalize_email(email)
    check_password(settings, password)
    with db.transaction() as conn:
        return store.create(
            conn,
            email=address,
            display_name=address.split("@")[0],
            password_hash=_hasher().hash(password),
            is_admin=admin,
            confirmed=True,
        )


def create_api_token(db: Database, *, user: User, name: str) -> str:
    """A new personal API token; only its hash is kept, so show the returned value once."""
    token = "pf_" + secrets.token_urlsafe(32)
    with db.transaction() as conn:
        store.create_token(
            conn, user_id=user.id, name=name.strip()[:80] or "token", token_hash=_sha256(token)
        )
    return token


def user_for_api_token(db: Database, token: str) -> User | None:
    """The owner of an API token, or None."""
    if not token.startswith("pf_") or len(token) > 100:
        return None
    with db.transaction() as conn:
        return store.user_for_token(conn, _sha256(token))


def display_names(db: Database, user_ids: set[int | None]) -> dict[int, str]:
    """Display names by user id, for "submitted by" lines; deleted accounts are absent."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    with db.connect() as conn:
        return store.display_names(conn, ids)
