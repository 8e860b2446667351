"""The polite HTTP client every remote source uses: spacing, retries, backoff and timeouts."""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from paperfeed.errors import SourceUnavailable

if TYPE_CHECKING:
    from paperfeed.config import Settings

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0  # longer waits are cut to this; the retry count still bounds the total


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class PoliteClient:
    """httpx.Client with a minimum interval between requests and retries with backoff."""

    def __init__(
        self,
        *,
        user_agent: str,
        min_interval: float,
        timeout: float,
        retries: int,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        backoff: float = 2.0,
        deadline: float | None = None,
    ) -> None:
        self.min_interval = min_interval
        self.retries = retries
        self.timeout = timeout
        # Seconds one get() may take in all, waits and retries included (a web request waits
        # for it); None: only the per-request timeout and the retry count bound it.
        self.deadline = deadline
        self.backoff = backoff
        self._sleep = sleep
        self._clock = clock
        self._last_start: float | None = None
        self._client = httpx.Client(
            headers={"User-Agent": user_agent},
            timeout=timeout,
            transport=transport,
            follow_redirects=True,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        deadline: float | None = None,
    ) -> PoliteClient:
        """A client configured by Settings (user agent, interval, timeout, retries)."""
        return cls(
            user_agent=settings.user_agent,
            min_interval=settings.arxiv_min_interval,
            timeout=settings.http_timeout,
            retries=settings.http_retries,
            transport=transport,
            sleep=sleep,
            clock=clock,
            deadline=deadline,
        )

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying connections."""
        self._client.close()

    def _wait_turn(self) -> None:
        if self._last_start is not None:
            wait = self.min_interval - (self._clock() - self._last_start)
            if wait > 0:
                self._sleep(wait)
        self._last_start = self._clock()

    def get(self, url: str, params: dict | None = None) -> httpx.Response:
        """GET with politeness; returns a 2xx response or raises SourceUnavailable."""
        problem = ""
        ends = None if self.deadline is None else self._clock() + self.deadline
        for attempt in range(self.retries + 1):
            self._wait_turn()
            delay = self.backoff * (2**attempt) * (1 + random.random() / 4)
            timeout = self.timeout if ends is None else min(self.timeout, ends - self._clock())
            if timeout <= 0:
                break
            try:
                response = self._client.get(url, params=params, timeout=timeout)
            except httpx.TooManyRedirects:
                raise SourceUnavailable(f"{url} redirects in a loop") from None
            except httpx.TransportError as exc:  # timeouts, refused or dropped connections
                problem = f"{exc.__class__.__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response
                problem = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUSES:
                    raise SourceUnavailable(f"{url} answered {problem}")
                asked = retry_after_seconds(response.headers.get("Retry-After"))
                if asked is not None:
                    delay = min(asked, MAX_RETRY_AFTER)
                    problem += f", Retry-After {asked:.0f} s"
            if attempt == self.retries or (ends is not None and self._clock() + delay >= ends):
                break
            log.warning("%s: %s; retrying in %.1f s", url, problem, delay)
            self._sleep(delay)
        tries = f"{attempt + 1} attempts" if attempt else "1 attempt"
        raise SourceUnavailable(f"{url} failed after {tries} ({problem or 'out of time'})")
