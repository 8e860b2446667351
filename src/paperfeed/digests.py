"""Digests: what is due, composing, rendering and sending, each digest exactly once.

Exactly once: every (subscription, period) digest has one row in the send log. A sender claims
the row in its own transaction before handing the mail to the SMTP server and marks it sent in
another as soon as the server accepted it, so a crash or a failure at any point leaves each
digest either sent and marked, or not sent and claimable again. The one window left is the
instant between the server's "250 accepted" and the commit of "sent" (one small UPDATE): a
crash exactly there sends that one digest again after the claim goes stale.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from queue import Empty
from urllib.parse import quote_plus

from paperfeed import feeds, logs, mail, metrics, recommend, search
from paperfeed.addresses import normalize
from paperfeed.config import Settings
from paperfeed.mail_templates import environment
from paperfeed.models import Paper, Preferences, Subscription
from paperfeed.store import Database
from paperfeed.store import papers as paper_store
from paperfeed.store import subscriptions as store
from paperfeed.subscriptions import WEEKDAYS, check_prefs, links

log = logging.getLogger(__name__)

CLAIM_STALE = dt.timedelta(minutes=10)  # a claim this old was left by a sender that died
PREPARE_BATCH = 256  # subscribers whose topics are embedded together
SHARD_MIN = 2 * PREPARE_BATCH  # fewer due digests than this are sent by one process
TRENDING_POOL = 200  # trending papers ranked once per run, then filtered per subscriber


# --- schedule -------------------------------------------------------------------------------


def slot(prefs: Preferences, now: dt.datetime) -> tuple[str, dt.datetime]:
    """(period key, UTC time) of the latest scheduled digest at or before `now`."""
    tz = zoneinfo.ZoneInfo(prefs.timezone)
    local = now.astimezone(tz)
    day = local.date()
    if prefs.cadence == "daily":
        if local.hour < prefs.send_hour:
            day -= dt.timedelta(days=1)
        key = f"d:{day.isoformat()}"
    else:
        day -= dt.timedelta(days=(day.weekday() - prefs.weekday) % 7)
        if day == local.date() and local.hour < prefs.send_hour:
            day -= dt.timedelta(days=7)
        year, week, _ = day.isocalendar()
        key = f"w:{year}-W{week:02d}"
    # In a DST gap the hour does not exist locally; zoneinfo maps it past the gap, as clocks do.
    at = dt.datetime.combine(day, dt.time(prefs.send_hour), tzinfo=tz)
    return key, at.astimezone(dt.UTC)


def next_slot(prefs: Preferences, now: dt.datetime) -> dt.datetime:
    """When the next digest is scheduled, in the subscriber's time zone."""
    step = dt.timedelta(days=1 if prefs.cadence == "daily" else 7)
    _key, at = slot(prefs, now + step)
    if at <= now:  # a DST change can leave the shifted slot behind
        _key, at = slot(prefs, at + step + dt.timedelta(hours=2))
    return at.astimezone(zoneinfo.ZoneInfo(prefs.timezone))


def due(db: Database, *, now: dt.datetime | None = None) -> list[tuple[Subscription, str]]:
    """(subscription, period) of every digest that should go out now and has not."""
    now = now or dt.datetime.now(dt.UTC)
    with db.connect() as conn:
        subs = store.active(conn)
        wanted: dict[int, tuple[Subscription, str]] = {}
        for sub in subs:
            key, at = slot(sub.prefs, now)
            # Only slots after confirmation: nobody gets a digest for a time they had not asked.
            if sub.confirmed_at is not None and at > sub.confirmed_at:
                wanted[sub.id] = (sub, key)
        logged = store.log_entries(conn, {i: key for i, (_s, key) in wanted.items()})
    result = []
    for sub_id, (sub, key) in wanted.items():
        row = logged.get(sub_id)
        if (
            row is None
            or (row.status == "retry" and row.next_attempt_at <= now)
            or (row.status == "sending" and row.claimed_at < now - CLAIM_STALE)
        ):
            result.append((sub, key))
    return result


# --- composing ------------------------------------------------------------------------------


@dataclass(slots=True)
class Section:
    """One part of a digest: "Trending", or one saved search's new matches."""

    title: str
    papers: list[Paper]
    topic: str | None = None
    link: str | None = None  # the page with more


@dataclass(slots=True)
class Digest:
    """What one digest contains."""

    prefs: Preferences
    since: dt.date | None  # topics cover papers listed from this day...
    until: dt.date | None  # ...to this one
    sections: list[Section] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(s.papers) for s in self.sections)


class Composer:
    """Builds digests, ranking trending once per run and per window for every subscriber."""

    def __init__(self, db: Database, settings: Settings, *, now: dt.datetime | None = None):
        self.db, self.settings = db, settings
        self.now = now or dt.datetime.now(dt.UTC)
        self._trending: dict[str, list[Paper]] = {}
        self._vectors: dict[str, object] = {}  # topic -> its embedding, for this run
        self._windows: dict = {}  # the vectors of the windows searched, for this run
        self._picks: dict = {}  # the papers the personal sections rank, per window, for this run
        self._words: tuple | None = None  # the personal model's word weights, for this run
        with db.connect() as conn:
            self.latest = paper_store.latest_day(conn, on_or_before=self.now.date())

    def trending(self, window: str) -> list[Paper]:
        if window not in self._trending:
            s = self.settings
            trends = feeds.trending(
                self.db,
                window,
                limit=TRENDING_POOL,
                now=self.now,
                gravity=s.trending_gravity,
                offset=s.trending_offset_hours,
            )
            self._trending[window] = [t.paper for t in trends if t.paper.upvotes]
        return self._trending[window]

    def prepare(self, prefs: list[Preferences]) -> None:
        """Embed these subscribers' topics in one batch (a third of the cost of one by one)."""
        if self.settings.digest_search_mode == "keyword":
            return
        topics = [t for p in prefs for t in p.topics if t not in self._vectors]
        if topics:
            if len(self._vectors) > 100_000:  # bound a long run's memory
                self._vectors.clear()
            self._vectors.update(search.embed_queries(self.db, self.settings, topics))

    def compose(
        self,
        prefs: Preferences,
        *,
        covered_until: dt.date | None = None,
        user_id: int | None = None,
    ) -> Digest:
        """The digest these preferences get now: the reader's own picks (subscribers with an
        account and a library), trending, then each topic's new papers."""
        n, cats = prefs.max_papers, set(prefs.categories)
        window = "day" if prefs.cadence == "daily" else "week"
        if self.latest is None:
            return Digest(prefs, None, None)
        span = 1 if prefs.cadence == "daily" else 7
        since = (
            covered_until + dt.timedelta(days=1)
            if covered_until
            else (self.latest - dt.timedelta(days=span - 1))
        )
        digest = Digest(prefs, since, self.latest)
        base = self.settings.base_url.rstrip("/")
        mine: list[Paper] = []
        if user_id is not None and since <= self.latest:
            self._words = self._words or recommend.words(self.db)
            picks = recommend.picks_for(
                self.db,
                self.settings,
                user_id,
                since,
                self.latest,
                limit=n,
                cache=self._picks,
                day_words=self._words,
            )
            mine = [p.paper for p in picks]
            if mine:
                digest.sections.append(Section("For you", mine, link=f"{base}/for-you"))
        top = [p for p in self.trending(window) if not cats or cats & set(p.categories)][:n]
        digest.sections.append(Section("Trending", top, link=f"{base}/trending?window={window}"))
        seen = {p.arxiv_id for p in top} | {p.arxiv_id for p in mine}
        if since > self.latest:
            return digest  # nothing listed since the last digest
        for topic in prefs.topics:
            # The topic's relevant papers of the window, newest first; not every paper that
            # shares one of its words.
            results = search.relevant(
                self.db,
                topic,
                mode=self.settings.digest_search_mode,
                since=since,
                until=self.latest,
                categories=prefs.categories,
                limit=n + len(seen),
                settings=self.settings,
                vector=self._vectors.get(topic),
                cache=self._windows,
            )
            fresh = [h.paper for h in results.hits if h.paper.arxiv_id not in seen][:n]
            seen.update(p.arxiv_id for p in fresh)
            q = "&".join(f"{k}={v}" for k, v in (("q", quote_plus(topic)), ("since", since)))
            digest.sections.append(Section(topic, fresh, topic=topic, link=f"{base}/search?{q}"))
        return digest


def topic_papers(
    db: Database, settings: Settings, prefs: Preferences, *, limit: int
) -> list[Paper]:
    """The newest relevant matches of any of the saved searches, newest first (the topics
    feed)."""
    found: dict[str, Paper] = {}
    for topic in prefs.topics:
        results = search.relevant(
            db,
            topic,
            mode=settings.digest_search_mode,
            categories=prefs.categories,
            limit=limit,
            settings=settings,
        )
        found.update((h.paper.arxiv_id, h.paper) for h in results.hits)
    newest = sorted(found.values(), key=lambda p: (p.listing_day, p.published, p.arxiv_id))
    return newest[::-1][:limit]


def preview(db: Database, settings: Settings, prefs: Preferences, *, now=None) -> Digest:
    """What a digest with these preferences would contain if it went out now."""
    return Composer(db, settings, now=now).compose(check_prefs(prefs))


# --- rendering ------------------------------------------------------------------------------


def message(
    settings: Settings, sub: Subscription, digest: Digest, *, preview: bool = False
) -> mail.Message:
    """The digest as a multipart mail with RFC 8058 one-click unsubscribe headers."""
    urls = links(settings, sub)
    when = digest.until.strftime("%b %-d, %Y") if digest.until else ""
    kind = "Daily" if digest.prefs.cadence == "daily" else "Weekly"
    context = {
        "settings": settings,
        "digest": digest,
        "links": urls,
        "base": settings.base_url.rstrip("/"),
        "kind": kind,
        "when": when,
        "weekdays": WEEKDAYS,
        "preview": preview,
    }
    return mail.Message(
        to=sub.email,
        subject=f"{'[preview] ' if preview else ''}{kind} papers, {when} · {settings.site_name}",
        text=environment().get_template("digest.txt").render(**context),
        html=environment().get_template("digest.html").render(**context),
        headers={
            "List-Unsubscribe": f"<{urls['unsubscribe']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )


# --- sending --------------------------------------------------------------------------------


@dataclass(slots=True)
class SendReport:
    """What one run of the sender did."""

    due: int = 0
    sent: int = 0
    empty: int = 0  # nothing to say: no mail, the period counts as done
    retry: int = 0  # temporary failure: tried again later, with back-off
    failed: int = 0  # given up (permanent refusals, or too many temporary ones)
    paused: int = 0  # subscriptions paused after repeated permanent refusals
    skipped: int = 0  # claimed meanwhile by another sender
    aborted: str | None = None  # why the run stopped early (the mail server is unreachable)
    planned: list[tuple[str, str, int]] = field(default_factory=list)  # dry run: to, period, n


def backoff(attempts: int) -> dt.timedelta:
    """Wait before try number `attempts + 1`: 1, 2, 4 ... minutes, at most an hour."""
    return dt.timedelta(seconds=min(3600, 60 * 2 ** max(0, attempts - 1)))


def send_due(
    db: Database,
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> SendReport:
    """Send every digest that is due now, each exactly once (see the module docstring), with
    `workers` processes (default `digest_workers`; big runs only)."""
    now = now or dt.datetime.now(dt.UTC)
    items = due(db, now=now)
    if workers is None:
        workers = settings.digest_workers or os.cpu_count() or 1
        if len(items) < SHARD_MIN or multiprocessing.current_process().daemon:
            workers = 1  # starting a process costs more than a small run; a daemon has none
    workers = max(1, min(workers, len(items)))
    if dry_run or workers == 1:
        return _send(db, settings, items, now=now, dry_run=dry_run, progress=progress)
    return _send_sharded(db, settings, items, now=now, workers=workers, progress=progress)


def _send(db, settings, items, *, now, dry_run=False, progress=None, count=True) -> SendReport:
    report = SendReport(due=len(items))
    composer = Composer(db, settings, now=now)
    connect_failures = 0
    with mail.Mailer(settings) as mailer:
        for done, (sub, period) in enumerate(items, start=1):
            if done % PREPARE_BATCH == 1:
                composer.prepare([s.prefs for s, _p in items[done - 1 : done - 1 + PREPARE_BATCH]])
            if progress:
                progress(done, len(items))
            if dry_run:
                digest = composer.compose(
                    sub.prefs, covered_until=sub.covered_until, user_id=sub.user_id
                )
                report.planned.append((sub.email, period, digest.count))
                continue
            with db.transaction() as conn:
                mine = store.claim(conn, sub.id, period, now=now, stale_before=now - CLAIM_STALE)
            if not mine:
                report.skipped += 1
                continue
            digest = composer.compose(
                sub.prefs, covered_until=sub.covered_until, user_id=sub.user_id
            )
            if digest.count == 0:
                _finish(db, sub, period, "empty", now=now)
                report.empty += 1
                continue
            try:
                mailer.send(message(settings, sub, digest))
            except (OSError, mail.smtplib.SMTPException) as exc:
                connected = not isinstance(exc, ConnectionError | mail.smtplib.SMTPConnectError)
                connect_failures = 0 if connected else connect_failures + 1
                _failed(db, settings, sub, period, exc, now=now, report=report)
                if connect_failures >= 3:
                    report.aborted = f"the mail server is unreachable: {exc}"
                    break
                continue
            connect_failures = 0
            # Marked at once, in its own small transaction: the window where a crash would
            # send this digest twice is this one UPDATE.
            _finish(
                db, sub, period, "sent", now=now, papers=digest.count, covered_until=digest.until
            )
            report.sent += 1
            if count:
                metrics.digests_sent.inc()
    return report


def _send_sharded(db, settings, items, *, now, workers, progress) -> SendReport:
    """Split the due digests over `workers` processes, each with its own database connection
    and SMTP connection. The claims keep it exactly once: a digest is sent by the one process
    that claimed it, and what a process that died had claimed is due again once stale."""
    # Plain processes, not a ProcessPoolExecutor: when one worker dies, the executor terminates
    # the others, and a sender killed between the mail server's "250 OK" and marking the send log
    # would send that digest twice. Here the others finish their share.
    ctx = multiprocessing.get_context("spawn")  # no inherited locks, threads or connections
    queue = ctx.Queue()
    procs = [
        ctx.Process(
            target=_shard,
            args=(i, db.url, settings, items[i::workers], now, queue),
            name=f"digest-sender-{i}",
            daemon=True,
        )
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    report, done = SendReport(due=len(items)), 0
    finished: set[int] = set()
    while len(finished) < workers:
        try:
            kind, worker, value = queue.get(timeout=1.0)
        except Empty:
            # A process that died before reporting (killed, out of memory) reports nothing.
            finished |= {i for i, p in enumerate(procs) if p.exitcode not in (None, 0)}
            continue
        if kind == "progress":
            done += value
            if progress:
                progress(done, len(items))
            continue
        finished.add(worker)
        metrics.digests_sent.inc(value.sent)  # counted here: a child's counter dies with it
        for name in ("sent", "empty", "retry", "failed", "paused", "skipped"):
            setattr(report, name, getattr(report, name) + getattr(value, name))
        report.aborted = report.aborted or value.aborted
    for p in procs:
        p.join()
    lost = [p.name for p in procs if p.exitcode != 0]
    if lost:
        report.aborted = report.aborted or (
            f"{', '.join(lost)} stopped early; the digests it had claimed are due again after "
            f"{int(CLAIM_STALE.total_seconds() // 60)} minutes, the rest at the next run"
        )
    return report


def _shard(worker: int, url: str, settings: Settings, items, now: dt.datetime, queue) -> None:
    """One sender process: its share of the due digests, progress reported in steps."""
    logs.configure(settings.log_level, settings.log_format)
    db = Database(url)
    pending = [0]

    def tick(done: int, total: int) -> None:
        pending[0] += 1
        if pending[0] == 20 or done == total:
            queue.put(("progress", worker, pending[0]))
            pending[0] = 0

    try:
        report = _send(db, settings, items, now=now, progress=tick, count=False)
    finally:
        db.dispose()
    queue.put(("report", worker, report))


def _finish(db, sub, period, status, *, now, papers=0, covered_until=None) -> None:
    with db.transaction() as conn:
        store.finish(conn, sub.id, period, status=status, now=now, papers=papers)
        values = {"failures": 0} if status == "sent" else {}
        if covered_until is not None:
            values["covered_until"] = covered_until
        if values:
            store.update(conn, sub.id, **values)


def _failed(db, settings, sub, period, exc, *, now, report: SendReport) -> None:
    reason = " ".join(str(exc).split())[:300] or type(exc).__name__
    with db.transaction() as conn:
        if mail.permanent(exc):
            failures = sub.failures + 1
            if failures >= settings.digest_pause_after:
                store.finish(conn, sub.id, period, status="failed", now=now, error=reason)
                store.update(
                    conn,
                    sub.id,
                    status="paused",
                    failures=failures,
                    paused_reason=(
                        f"paused on {now:%Y-%m-%d}: the mail server refused {failures} digests "
                        "in a "
                        f"row for this address ({reason})"
                    ),
                )
                report.failed += 1
                report.paused += 1
                log.warning("digest to %s refused for good; subscription paused", sub.email)
                return
            store.update(conn, sub.id, failures=failures)
            store.finish(
                conn,
                sub.id,
                period,
                status="retry",
                now=now,
                error=reason,
                next_attempt_at=now + backoff(failures),
            )
            report.retry += 1
            return
        row_attempts = store.attempts(conn, sub.id, period)
        if row_attempts >= settings.digest_max_attempts:
            store.finish(
                conn,
                sub.id,
                period,
                status="failed",
                now=now,
                error=f"gave up after {row_attempts} tries: {reason}",
            )
            report.failed += 1
            return
        store.finish(
            conn,
            sub.id,
            period,
            status="retry",
            now=now,
            error=reason,
            next_attempt_at=now + backoff(row_attempts),
        )
        report.retry += 1


def send_preview(db: Database, settings: Settings, *, to: str, now=None) -> Digest:
    """Mail one digest to `to` now, with its subscription's preferences if it has one; the
    send log is not touched, so the real digest still goes out."""
    address = normalize(to)
    with db.connect() as conn:
        sub = store.find_by_email(conn, address)
    now = now or dt.datetime.now(dt.UTC)
    if sub is None:
        sub = Subscription(
            id=0,
            email=address,
            key="preview",
            status="preview",
            prefs=Preferences(),
            created_at=now,
            changed_at=now,
        )
    digest = Composer(db, settings, now=now).compose(sub.prefs, covered_until=sub.covered_until)
    mail.send(settings, message(settings, sub, digest, preview=True))
    return digest


def run_forever(db: Database, settings: Settings, *, stop=None) -> None:
    """The scheduler loop: send what is due every `digest_interval_minutes`, until `stop`."""
    interval = max(1, settings.digest_interval_minutes) * 60
    while stop is None or not stop.is_set():
        started = time.monotonic()
        try:
            report = send_due(db, settings)
            if report.due:
                log.info(
                    "digests: %d due, %d sent, %d empty, %d to retry, %d failed",
                    report.due,
                    report.sent,
                    report.empty,
                    report.retry,
                    report.failed,
                )
        except Exception:  # noqa: BLE001 - one bad run must not stop the schedule
            log.exception("digest run failed; trying again at the next interval")
        wait = max(1.0, interval - (time.monotonic() - started))
        if stop is not None:
            stop.wait(wait)
        else:
            time.sleep(wait)
