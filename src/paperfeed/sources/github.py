"""GitHub's REST API: a repository's star count, asked conditionally and within the rate limit.

No database here: `stars.refresh` decides what to ask and stores the answers. The client
sends the ETag it got last time (a 304 costs nothing against the limit), reads
X-RateLimit-Remaining / -Reset on every answer and waits for the reset before the limit is
spent, and honours Retry-After on secondary limits. A wait longer than `max_wait` raises
RateLimitWait instead, so a caller can stop cleanly and resume later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx

from paperfeed.errors import SourceUnavailable
from paperfeed.models import RepoStars
from paperfeed.sources.http import retry_after_seconds

log = logging.getLogger(__name__)
API = "https://api.github.com"
ACCEPT = "application/vnd.github+json"
API_VERSION = "2022-11-28"


class RateLimitWait(SourceUnavailable):
    """GitHub asks us to wait longer than we are willing to: come back at `until` (epoch s)."""

    def __init__(self, message: str, *, until: float) -> None:
        super().__init__(message)
        self.until = until


def parse_repo(body: object) -> int:
    """The star count in a /repos/{owner}/{repo} answer; SourceUnavailable if there is none."""
    stars = body.get("stargazers_count") if isinstance(body, dict) else None
    if not isinstance(stars, int) or isinstance(stars, bool) or stars < 0:
        raise SourceUnavailable("GitHub's answer has no stargazers_count")
    return stars


class GitHubClient:
    """httpx.Client for api.github.com (or a stand-in): conditional GETs within the limit."""

    def __init__(
        self,
        *,
        base_url: str = API,
        token: str = "",
        user_agent: str = "paperfeed",
        timeout: float = 20.0,
        retries: int = 3,
        max_wait: float = 900.0,
        keep: int = 0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        headers = {"Accept": ACCEPT, "X-GitHub-Api-Version": API_VERSION, "User-Agent": user_agent}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.max_wait = max_wait
        self.keep = keep  # requests left unspent when waiting for the reset
        self._sleep = sleep
        self._clock = clock
        self._remaining: int | None = None
        self._reset: float | None = None
        self.waited = 0.0  # seconds spent waiting for GitHub's limits, for the report
        self.in_flight = 0.0  # seconds spent waiting for answers (GitHub's time, not ours)
        self.requests = 0
        self._client = httpx.Client(
            headers=headers, timeout=timeout, transport=transport, follow_redirects=True
        )

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _wait(self, seconds: float, why: str) -> None:
        seconds = max(0.0, seconds)
        if seconds > self.max_wait:
            raise RateLimitWait(
                f"GitHub's rate limit: {why}; resume after {seconds:.0f} s",
                until=self._clock() + seconds,
            )
        if seconds:
            log.info("GitHub rate limit: %s; waiting %.1f s", why, seconds)
            self.waited += seconds
            self._sleep(seconds)

    def _note_limits(self, response: httpx.Response) -> None:
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = response.headers.get("x-ratelimit-reset")
        if remaining is not None and remaining.strip().isdigit():
            self._remaining = int(remaining)
        if reset is not None and reset.strip().isdigit():
            self._reset = float(reset)

    def _before_request(self) -> None:
        if self._remaining is not None and self._remaining <= self.keep and self._reset:
            self._wait(self._reset - self._clock() + 1, "the hourly allowance is spent")
            self._remaining = None

    def stars(self, repo: str, *, etag: str | None = None) -> RepoStars:
        """The star count of `repo` ("owner/name"); `unchanged` when the ETag still matches."""
        url = f"{self.base_url}/repos/{repo}"
        headers = {"If-None-Match": etag} if etag else {}
        problem = ""
        for attempt in range(self.retries + 1):
            self._before_request()
            self.requests += 1
            started = time.perf_counter()
            response = None
            try:
                response = self._client.get(url, headers=headers)
                response.read()
            except httpx.TransportError as exc:
                problem = f"{exc.__class__.__name__}: {exc}"
            self.in_flight += time.perf_counter() - started
            if response is None:
                self._wait(min(2.0 * 2**attempt, self.max_wait), problem)
                continue
            self._note_limits(response)
            status = response.status_code
            if status == 304:
                return RepoStars(repo, "unchanged", etag=etag)
            if status == 200:
                try:
                    count = parse_repo(response.json())
                except (ValueError, SourceUnavailable) as exc:
                    return RepoStars(repo, "error", error=str(exc)[:200])
                return RepoStars(repo, "ok", stars=count, etag=response.headers.get("etag"))
            if status in (404, 410, 451):
                return RepoStars(repo, "missing", error=f"HTTP {status}")
            limited = status == 429 or (status == 403 and self._is_rate_limit(response))
            if limited:
                asked = retry_after_seconds(response.headers.get("retry-after"))
                if asked is None and self._remaining == 0 and self._reset:
                    asked = self._reset - self._clock() + 1
                self._wait(asked if asked is not None else 60.0, f"HTTP {status}")
                self._remaining = None
                continue
            problem = f"HTTP {status}"
            if status < 500:
                return RepoStars(repo, "error", error=problem)
            self._wait(min(2.0 * 2**attempt, self.max_wait), problem)
        return RepoStars(repo, "error", error=problem or "no answer")

    @staticmethod
    def _is_rate_limit(response: httpx.Response) -> bool:
        if response.headers.get("x-ratelimit-remaining") == "0":
            return True
        if response.headers.get("retry-after"):
            return True
        return "rate limit" in response.text[:500].lower()
