"""Subscriptions: who gets a digest. Double opt-in, signed links, preferences, unsubscribing.

Opt-in is never implied by an old link: once a reader unsubscribes, only a new subscription,
confirmed from a new mail, starts the digest again. Subscribing again after unsubscribing
changes the subscription's key, so every link mailed before (confirm, preferences, feed) stops
working; resuming from a link is only for digests we paused ourselves after bounces.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import secrets
import zoneinfo

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from paperfeed import limits, mail
from paperfeed.addresses import limit_key, normalize
from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, NotAllowed, NotFound
from paperfeed.mail_templates import render_text
from paperfeed.models import Preferences, Subscription
from paperfeed.search.query import MAX_QUERY, parse
from paperfeed.store import Database
from paperfeed.store import subscriptions as store

CADENCES = ("daily", "weekly")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CONFIRM_MAX_AGE = 3 * 24 * 3600
MAX_PAPERS = 30
MAX_TOPICS = 10
MAX_CATEGORIES = 20
_CATEGORY = re.compile(r"^[a-z][a-z\-]*(\.[A-Za-z\-]+)?$")
TZ_LIST_HINT = "the list of names: /api/digest/timezones"
SAME_ANSWER = (
    "Check your inbox: if {email} can receive mail, a message with a confirmation link is on "
    "its way. Nothing else is sent until you follow it."
)


# --- preferences ----------------------------------------------------------------------------


def check_timezone(name: str) -> str:
    """An IANA time zone name; InvalidInput with close matches and where the list is."""
    name = (name or "").strip()
    try:
        if not name or len(name) > 64 or name.startswith("/"):
            raise ValueError
        zoneinfo.ZoneInfo(name)
        return name
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        close = difflib.get_close_matches(name, sorted(zoneinfo.available_timezones()), n=3)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise InvalidInput(
            f"unknown time zone {name[:64]!r}: use an IANA name such as Europe/Paris, "
            f"America/New_York or UTC.{hint} ({TZ_LIST_HINT})"
        ) from None


def split_topics(text: str) -> list[str]:
    """A form's topics field as typed: one saved search per line (checked by check_topics)."""
    return text.splitlines()


def split_categories(text: str) -> list[str]:
    """A form's categories field as typed: comma- or space-separated (see check_categories)."""
    return [name for name in re.split(r"[\s,]+", text) if name]


def check_topics(topics: list[str] | str) -> list[str]:
    """Saved searches, one per line or list item; each must parse and fit the search limit."""
    items = split_topics(topics) if isinstance(topics, str) else list(topics)
    cleaned = []
    for raw in items:
        text = " ".join(str(raw).split())
        if not text:
            continue
        if len(text) > MAX_QUERY:
            raise InvalidInput(
                f"a saved search can have at most {MAX_QUERY} characters; one has {len(text):,}"
            )
        if parse(text).empty:
            raise InvalidInput(f"the saved search {text[:60]!r} has no words to search for")
        if text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_TOPICS:
        raise InvalidInput(f"save at most {MAX_TOPICS} searches")
    return cleaned


def check_categories(categories: list[str] | str) -> list[str]:
    """arXiv category names such as cs.LG, comma- or space-separated."""
    items = split_categories(categories) if isinstance(categories, str) else categories
    cleaned = []
    for raw in items:
        name = str(raw).strip()
        if not name:
            continue
        if len(name) > 40 or not _CATEGORY.match(name):
            raise InvalidInput(f"{name[:40]!r} is not an arXiv category like cs.LG or math.AP")
        if name not in cleaned:
            cleaned.append(name)
    if len(cleaned) > MAX_CATEGORIES:
        raise InvalidInput(f"choose at most {MAX_CATEGORIES} categories")
    return cleaned


def check_prefs(prefs: Preferences) -> Preferences:
    """The same preferences, checked and tidied; InvalidInput naming the first problem."""
    if prefs.cadence not in CADENCES:
        raise InvalidInput("cadence must be daily or weekly")
    if not 0 <= int(prefs.weekday) <= 6:
        raise InvalidInput("weekday must be 0 (Monday) to 6 (Sunday)")
    if not 0 <= int(prefs.send_hour) <= 23:
        raise InvalidInput("the send hour must be 0 to 23")
    if not 1 <= int(prefs.max_papers) <= MAX_PAPERS:
        raise InvalidInput(f"papers per section must be 1 to {MAX_PAPERS}")
    return Preferences(
        cadence=prefs.cadence,
        weekday=int(prefs.weekday),
        send_hour=int(prefs.send_hour),
        timezone=check_timezone(prefs.timezone),
        max_papers=int(prefs.max_papers),
        categories=check_categories(prefs.categories),
        topics=check_topics(prefs.topics),
    )


# --- links ----------------------------------------------------------------------------------


def _confirm_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt="paperfeed-digest-confirm")


def _manage_serializer(settings: Settings) -> URLSafeSerializer:
    # No expiry: the unsubscribe link of a year-old digest must still work (RFC 8058).
    return URLSafeSerializer(settings.signing_key, salt="paperfeed-digest-manage")


def manage_token(settings: Settings, sub: Subscription) -> str:
    """The token of a subscription's preferences, unsubscribe and feed links."""
    return _manage_serializer(settings).dumps([sub.id, sub.key])


def link(settings: Settings, path: str) -> str:
    """An absolute link to a page of the site."""
    return settings.base_url.rstrip("/") + path


def links(settings: Settings, sub: Subscription) -> dict[str, str]:
    """The absolute links a subscriber's mails and pages carry."""
    token = manage_token(settings, sub)
    return {
        "preferences": link(settings, f"/digest/preferences?token={token}"),
        "unsubscribe": link(settings, f"/digest/unsubscribe?token={token}"),
        "feed": link(settings, f"/digest/topics.atom?token={token}"),
        "preview": link(settings, f"/digest/preview?token={token}"),
    }


def _subscription(db: Database, sub_id, key) -> Subscription:
    try:
        with db.connect() as conn:
            sub = store.get(conn, int(sub_id))
    except (NotFound, TypeError, ValueError):
        raise NotAllowed("this link is not valid: the subscription no longer exists") from None
    if not secrets.compare_digest(sub.key, str(key)):
        raise NotAllowed("this link is not valid any more")
    return sub


def from_token(db: Database, settings: Settings, token: str) -> Subscription:
    """The subscription a preferences or unsubscribe link names; NotAllowed for a bad link."""
    try:
        sub_id, key = _manage_serializer(settings).loads(token or "")
    except (BadSignature, ValueError, TypeError):
        raise NotAllowed("this link is not valid: copy the whole link from your mail") from None
    return _subscription(db, sub_id, key)


# --- subscribing ----------------------------------------------------------------------------


def subscribe(
    db: Database,
    settings: Settings,
    *,
    email: str,
    prefs: Preferences | None = None,
    user_id: int | None = None,
    now: dt.datetime | None = None,
    defer: mail.Defer = mail.at_once,
) -> str:
    """Ask for a digest: mail a confirmation link (or, to a subscribed address, its links).

    Returns the answer to show, the same whether the address is known or not; the mail goes
    out through `defer`, after the answer.
    """
    address = normalize(email)
    prefs = check_prefs(prefs or Preferences())
    limits.hit(db, settings, "subscribe", limit_key(address))
    now = now or dt.datetime.now(dt.UTC)
    with db.transaction() as conn:
        sub = store.find_by_email(conn, address)
        if sub is None:
            sub = store.create(
                conn,
                email=address,
                key=secrets.token_hex(16),
                prefs=prefs,
                user_id=user_id,
                now=now,
            )
        elif sub.status in ("pending", "unsubscribed"):
            # Not confirmed: whoever asks last sets the wishes the confirmation will switch on.
            store.set_prefs(conn, sub.id, prefs, now=now)
            if sub.status == "unsubscribed":
                # A new opt-in: links from before the unsubscription must not confirm it.
                store.update(conn, sub.id, status="pending", key=secrets.token_hex(16))
            sub = store.get(conn, sub.id)
    if sub.status == "pending":
        token = _confirm_serializer(settings).dumps([sub.id, sub.key])
        text = render_text(
            "confirm.txt",
            settings=settings,
            sub=sub,
            confirm=link(settings, f"/digest/confirm?token={token}"),
        )
        subject = f"Confirm your {settings.site_name} digest"
    else:
        text = render_text("already.txt", settings=settings, sub=sub, links=links(settings, sub))
        subject = f"Your {settings.site_name} digest"
    defer(mail.deliver, settings, mail.Message(to=address, subject=subject, text=text))
    return SAME_ANSWER.format(email=address)


def confirm(db: Database, settings: Settings, token: str, *, now=None) -> Subscription:
    """Switch on the subscription a confirmation link names; NotAllowed for a bad link."""
    try:
        sub_id, key = _confirm_serializer(settings).loads(token or "", max_age=CONFIRM_MAX_AGE)
    except SignatureExpired:
        raise NotAllowed("this confirmation link has expired: subscribe again") from None
    except (BadSignature, ValueError, TypeError):
        raise NotAllowed("this confirmation link is not valid") from None
    sub = _subscription(db, sub_id, key)
    if sub.status == "unsubscribed":
        raise NotAllowed("this subscription was cancelled since: subscribe again")
    if sub.status == "pending":
        with db.transaction() as conn:
            store.update(conn, sub.id, status="active", confirmed_at=now or dt.datetime.now(dt.UTC))
            sub = store.get(conn, sub.id)
    return sub


def update_preferences(
    db: Database, settings: Settings, token: str, prefs: Preferences, *, now=None
) -> Subscription:
    """Save new preferences for the subscription a link names."""
    sub = from_token(db, settings, token)
    prefs = check_prefs(prefs)
    with db.transaction() as conn:
        store.set_prefs(conn, sub.id, prefs, now=now or dt.datetime.now(dt.UTC))
        return store.get(conn, sub.id)


def unsubscribe(db: Database, settings: Settings, token: str) -> Subscription:
    """Stop every digest to the subscription a link names (idempotent)."""
    sub = from_token(db, settings, token)
    with db.transaction() as conn:
        store.update(conn, sub.id, status="unsubscribed", changed_at=dt.datetime.now(dt.UTC))
        return store.get(conn, sub.id)


def resume(db: Database, settings: Settings, token: str) -> Subscription:
    """Restart a subscription paused after bounces from its link. An unsubscribed one needs a
    new opt-in: an old link must not switch mail back on."""
    sub = from_token(db, settings, token)
    if sub.status == "unsubscribed":
        raise NotAllowed(
            "you unsubscribed from this digest: to get it again, subscribe again and follow "
            "the confirmation link we mail you"
        )
    if sub.confirmed_at is None or sub.status == "pending":
        raise NotAllowed("confirm the subscription first: follow the link we mailed you")
    with db.transaction() as conn:
        store.update(
            conn,
            sub.id,
            status="active",
            failures=0,
            paused_reason=None,
            changed_at=dt.datetime.now(dt.UTC),
        )
        return store.get(conn, sub.id)


def sends(db: Database, sub: Subscription) -> list[dict]:
    """The latest digests of a subscription as the send log has them."""
    with db.connect() as conn:
        return store.sends(conn, sub.id)


def listing(db: Database, *, status: str | None = None) -> list[Subscription]:
    """Every subscription, oldest first; only those with `status` when given."""
    with db.connect() as conn:
        return store.listing(conn, status=status)
