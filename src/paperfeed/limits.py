"""Rate limits: how often one address or one account may sign up, log in, vote, submit or
comment. Counters live in the database, so every worker enforces the same limits."""

from __future__ import annotations

import time

from paperfeed.config import Settings
from paperfeed.errors import ConfigError, RateLimited
from paperfeed.store import Database
from paperfeed.store import limits as store

ACTIONS = (
    "signup",
    "login",
    "login_failure",
    "reset",
    "subscribe",
    "vote",
    "submit",
    "comment",
    "write",
    "preview",
    "library",
    "import",
)


def rule(settings: Settings, action: str) -> tuple[int, int]:
    """(allowed hits, window seconds) for an action, from its `limit_<action>` setting."""
    text = getattr(settings, f"limit_{action}")
    try:
        hits, seconds = (int(x) for x in text.split("/"))
        if hits < 1 or seconds < 1:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"limit_{action} must look like 10/60 (hits/seconds), not {text!r}"
        ) from None
    return hits, seconds


def hit(db: Database, settings: Settings, action: str, *who: str) -> None:
    """Count one attempt for each of `who` (an IP, an account); RateLimited past the limit."""
    allowed, window = rule(settings, action)
    now = int(time.time())
    with db.transaction() as conn:
        counts = [store.hit(conn, f"{action}:{w}", window=window, now=now) for w in who]
    _refuse_if_over(action, counts, allowed, window, now)


def check(db: Database, settings: Settings, action: str, *who: str) -> None:
    """Refuse if any of `who` is already over the limit, without counting an attempt."""
    allowed, window = rule(settings, action)
    now = int(time.time())
    with db.connect() as conn:
        counts = [store.peek(conn, f"{action}:{w}", window=window, now=now) for w in who]
    _refuse_if_over(action, counts, allowed - 1, window, now)


def clear(db: Database, action: str, *who: str) -> None:
    """Forget the counters (a successful login clears the failures)."""
    with db.transaction() as conn:
        for w in who:
            store.clear(conn, f"{action}:{w}")


def _refuse_if_over(action, counts, allowed, window, now) -> None:
    over = [start for hits, start in counts if hits > allowed]
    if over:
        retry = max(1, max(over) + window - now)
        raise RateLimited(
            f"too many {action.replace('_', ' ')} attempts: try again in {retry} s",
            retry_after=retry,
        )
