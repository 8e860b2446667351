"""Code stars: refreshing the GitHub star counts of papers' repositories, one snapshot a day,
and "Trending code", papers ranked by the stars their code gained over a window."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from paperfeed.config import Settings
from paperfeed.errors import InvalidInput
from paperfeed.models import IngestCounts, IngestRun, Paper, Rejected
from paperfeed.store import Database, runs
from paperfeed.store import stars as store

if TYPE_CHECKING:  # the web app imports this module; httpx only when a refresh runs
    from paperfeed.sources.github import GitHubClient

log = logging.getLogger(__name__)
SOURCE = "github-stars"
BATCH = 100  # repositories per transaction: a crash or a stop loses at most these answers
WINDOWS = {"day": 1, "week": 7, "month": 30}


@dataclass(slots=True)
class Progress:
    """Where a refresh is, for a progress bar."""

    total: int  # repositories to ask about in this run (after any resumed part)
    done: int = 0
    ok: int = 0
    unchanged: int = 0
    missing: int = 0
    errors: int = 0
    waited: float = 0.0  # seconds spent waiting for GitHub's rate limit


@dataclass(slots=True)
class RefreshResult:
    """What one run did, and its log entry."""

    run: IngestRun
    progress: Progress
    resumed_from: str | None = None
    stopped: str | None = None  # why it stopped early (a long rate-limit wait), if it did
    papers_changed: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def client_for(settings: Settings, **kwargs) -> GitHubClient:
    """A GitHub client configured by Settings (API address, token, timeouts, longest wait)."""
    from paperfeed.sources.github import GitHubClient

    options: dict[str, Any] = dict(
        base_url=settings.github_api_url,
        token=settings.github_token,
        user_agent=settings.user_agent,
        timeout=settings.http_timeout,
        retries=settings.http_retries,
        max_wait=settings.github_max_wait,
    )
    options.update(kwargs)
    return GitHubClient(**options)


def refresh(
    db: Database,
    client: GitHubClient,
    *,
    day: dt.date | None = None,
    restart: bool = False,
    batch_size: int = BATCH,
    on_progress: Callable[[Progress], None] | None = None,
) -> RefreshResult:
    """Ask GitHub for the stars of every repository a paper links to and keep today's snapshot.

    Repositories go in name order, `batch_size` per transaction with the run's cursor, so a
    run that stops (a rate-limit wait beyond `github_max_wait`, Ctrl+C, a crash) resumes after
    the last stored batch the next time, the same day. Answers are conditional on the last
    ETag, so unchanged repositories cost nothing against GitHub's limit.
    """
    from paperfeed.sources.github import RateLimitWait

    day = day or dt.datetime.now(dt.UTC).date()
    key = f"{SOURCE}:{day.isoformat()}"
    with db.transaction() as conn:
        previous = None if restart else runs.resumable(conn, key)
        if previous is not None and previous.status == "running":
            runs.finish(conn, previous.id, status="failed", error="interrupted before finishing")
        cursor = previous.cursor if previous is not None else None
        run_id = runs.start(conn, source=SOURCE, key=key, cursor=cursor)
        total = store.count_linked(conn, after=cursor)
    progress = Progress(total=total)
    result = RefreshResult(run=None, progress=progress, resumed_from=cursor)  # type: ignore[arg-type]
    counts = IngestCounts()
    waited_before = client.waited
    try:
        while True:
            with db.connect() as conn:
                todo = store.linked_after(conn, cursor, limit=batch_size)
            if not todo:
                break
            answers = []
            try:
                for repo, etag in todo:
                    answers.append(client.stars(repo, etag=etag))
            except RateLimitWait as exc:
                result.stopped = str(exc)
            with db.transaction() as conn:
                result.papers_changed += store.record(conn, answers, day=day)
                rejected = [Rejected(a.repo, a.error or a.status) for a in answers if a.error]
                for a in answers:
                    _count(progress, counts, a.status)
                if answers:
                    cursor = answers[-1].repo
                runs.checkpoint(conn, run_id, cursor=cursor, counts=counts, rejections=rejected)
            result.rejected += rejected
            progress.waited = client.waited - waited_before
            if on_progress is not None:
                on_progress(progress)
            if result.stopped:
                break
    except BaseException as exc:
        with db.transaction() as conn:
            runs.finish(conn, run_id, status="failed", error=_describe(exc))
        raise
    with db.transaction() as conn:
        if result.stopped:
            runs.finish(conn, run_id, status="failed", error=result.stopped)
        else:
            runs.finish(conn, run_id, status="ok")
        result.run = runs.get(conn, run_id)
    return result


def _count(progress: Progress, counts: IngestCounts, status: str) -> None:
    progress.done += 1
    if status == "ok":
        progress.ok += 1
        counts.updated += 1
    elif status == "unchanged":
        progress.unchanged += 1
        counts.unchanged += 1
    elif status == "missing":
        progress.missing += 1
        counts.rejected += 1
    else:
        progress.errors += 1
        counts.rejected += 1


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"{exc.__class__.__name__}: {exc}"


# --- trending code -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeTrend:
    """A paper with the stars its code gained over the window."""

    paper: Paper
    repo: str
    gained: int
    stars: int


@dataclass(frozen=True, slots=True)
class CodeTrending:
    window: str
    since: dt.date | None
    until: dt.date | None
    trends: list[CodeTrend]


def trending_code(db: Database, window: str = "week", *, limit: int = 50) -> CodeTrending:
    """Papers whose repositories gained the most stars over the window (day, week, month),
    counted back from the latest snapshot; a repository two papers share lists both."""
    if window not in WINDOWS:
        raise InvalidInput(f"unknown window {window[:20]!r}: use {', '.join(WINDOWS)}")
    with db.connect() as conn:
        _first, latest = store.snapshot_days(conn)
        if latest is None:
            return CodeTrending(window, None, None, [])
        since = latest - dt.timedelta(days=WINDOWS[window])
        grown = store.growth(conn, since=since, limit=limit)
        papers = store.papers_of(conn, [g.repo for g in grown])
    trends = [
        CodeTrend(paper, g.repo, g.gained, g.stars)
        for g in grown
        for paper in papers.get(g.repo, [])
    ][:limit]
    return CodeTrending(window, since, latest, trends)
