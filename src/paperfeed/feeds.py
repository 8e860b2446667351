"""Feeds: the papers of a day, a week or a month, in the daily page's order."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from paperfeed.errors import InvalidInput
from paperfeed.models import Paper
from paperfeed.store import Database
from paperfeed.store import papers as store

PeriodKind = Literal["day", "week", "month"]
_LAST_MONDAY = dt.date.max - dt.timedelta(days=6)
FORMATS = {"day": "YYYY-MM-DD", "week": "YYYY-Www (ISO week, e.g. 2025-W47)", "month": "YYYY-MM"}


@dataclass(frozen=True, slots=True)
class Period:
    """A span of listing days: one day, one ISO week or one calendar month."""

    kind: PeriodKind
    start: dt.date
    end: dt.date  # inclusive

    @classmethod
    def day(cls, day: dt.date) -> Period:
        return cls("day", day, day)

    @classmethod
    def week_of(cls, day: dt.date) -> Period:
        start = day - dt.timedelta(days=day.weekday())
        # The last ISO week of year 9999 ends after date.max: the period stops there.
        end = start + dt.timedelta(days=6) if start <= _LAST_MONDAY else dt.date.max
        return cls("week", start, end)

    @classmethod
    def month_of(cls, day: dt.date) -> Period:
        last = calendar.monthrange(day.year, day.month)[1]
        return cls("month", day.replace(day=1), day.replace(day=last))

    @property
    def param(self) -> str:
        """The period's name in a URL: the date, week or month value."""
        return {"day": "date", "week": "week", "month": "month"}[self.kind]

    @property
    def value(self) -> str:
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return self.start.strftime("%Y-%m")

    @property
    def label(self) -> str:
        if self.kind == "day":
            return self.start.strftime("%A, %B %-d, %Y")
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"Week {week}, {year} ({self.start:%b %-d} – {self.end:%b %-d})"
        return self.start.strftime("%B %Y")

    def shifted(self, steps: int) -> Period | None:
        """The period `steps` periods later (negative: earlier); None past the calendar's ends."""
        try:
            return self._shifted(steps)
        except (OverflowError, ValueError):
            return None

    def _shifted(self, steps: int) -> Period:
        if self.kind == "day":
            return Period.day(self.start + dt.timedelta(days=steps))
        if self.kind == "week":
            return Period.week_of(self.start + dt.timedelta(weeks=steps))
        month = self.start.month - 1 + steps
        return Period.month_of(dt.date(self.start.year + month // 12, month % 12 + 1, 1))

    def around(self, day: dt.date) -> Period:
        """The period of the same kind that holds `day`."""
        if self.kind == "day":
            return Period.day(day)
        return Period.week_of(day) if self.kind == "week" else Period.month_of(day)

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_day(text: str) -> dt.date:
    """A YYYY-MM-DD date; raises InvalidInput naming the expected format."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            raise ValueError
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"invalid date {text[:40]!r}: expected {FORMATS['day']}") from None


def parse_period(
    *, date: str | None = None, week: str | None = None, month: str | None = None
) -> Period | None:
    """The period named by exactly one of date/week/month, or None when none is given."""
    given = [(k, v) for k, v in (("day", date), ("week", week), ("month", month)) if v]
    if len(given) > 1:
        raise InvalidInput("give only one of date, week or month")
    if not given:
        return None
    kind, text = given[0]
    text = text.strip()
    if kind == "day":
        return Period.day(parse_day(text))
    if kind == "week":
        m = _WEEK.match(text)
        try:
            if not m:
                raise ValueError
            return Period.week_of(dt.date.fromisocalendar(int(m[1]), int(m[2]), 1))
        except ValueError:
            raise InvalidInput(f"invalid week {text[:40]!r}: expected {FORMATS['week']}") from None
    m = _MONTH.match(text)
    try:
        if not m:
            raise ValueError
        return Period.month_of(dt.date(int(m[1]), int(m[2]), 1))
    except ValueError:
        raise InvalidInput(f"invalid month {text[:40]!r}: expected {FORMATS['month']}") from None


@dataclass(slots=True)
class Listing:
    """One page of a period's papers with what the page needs to navigate."""

    period: Period
    papers: list[Paper]
    total: int
    next_cursor: str | None
    previous: Period | None  # the period to offer as "previous"
    next: Period | None  # the period to offer as "next"; None when it would be in the future
    catalogue_empty: bool = False  # nothing stored at all: the page explains how to ingest


def today() -> dt.date:
    """Today's date in UTC, the clock listing days are kept in."""
    return dt.datetime.now(dt.UTC).date()


def catalog_version(db: Database) -> int:
    """A number that changes whenever any listing could have changed."""
    with db.connect() as conn:
        return store.catalog_version(conn)


def catalog_state(db: Database) -> tuple[int, dt.datetime]:
    """(catalogue version, when the catalogue last changed)."""
    with db.connect() as conn:
        return store.catalog_state(conn)


@dataclass(frozen=True, slots=True)
class Stamp:
    """The catalogue's versions: `version` moves with every change, votes included;
    `content` only with changes a card shows other than its upvote count."""

    version: int
    content: int
    changed: dt.datetime


def catalog_stamp(db: Database) -> Stamp:
    """The catalogue's versions, in one read."""
    with db.connect() as conn:
        return Stamp(*store.catalog_stamp(conn))


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a lineup: what orders a card and what it shows that votes change."""

    arxiv_id: str
    upvotes: int
    submitted_by: int | None


@dataclass(slots=True)
class Lineup:
    """A listing without the papers: their ids in order, for pages built from cached cards."""

    period: Period
    entries: list[Entry]
    total: int
    next_cursor: str | None
    previous: Period | None
    next: Period | None
    catalogue_empty: bool = False


Frame = tuple[int, Period | None, Period | None, bool]  # (total, previous, next, empty)


def frame(db: Database, period: Period, *, on: dt.date | None = None) -> Frame:
    """A period page's count and arrows, and whether the catalogue is empty: they change only
    with the catalogue's content (papers added, moved or hidden), never with a vote."""
    with db.connect() as conn:
        return _frame(conn, period, on or today())


def lineup(
    db: Database,
    period: Period,
    *,
    limit: int,
    cursor: str | None = None,
    on: dt.date | None = None,
    known: Frame | None = None,
) -> Lineup:
    """What `listing` returns, with narrow entries instead of whole papers; `known`: the
    period's frame, when the caller kept it."""
    with db.connect() as conn:
        rows, next_cursor = store.lineup_between(
            conn, period.start, period.end, limit=limit, cursor=cursor
        )
        if known is None:
            known = _frame(conn, period, on or today())
    total, previous, nxt, empty = known
    return Lineup(
        period=period,
        entries=[Entry(*r) for r in rows],
        total=total,
        next_cursor=next_cursor,
        previous=previous,
        next=nxt,
        catalogue_empty=empty,
    )


def papers_by_id(db: Database, arxiv_ids: list[str]) -> dict[str, Paper]:
    """The stored papers among these ids."""
    with db.connect() as conn:
        return store.get_many(conn, arxiv_ids)


def _frame(conn: Any, period: Period, on: dt.date) -> Frame:
    """(total, previous, next, catalogue empty) of a period's page."""
    total = store.count_between(conn, period.start, period.end)
    # Days, weeks and months without papers (weekends, holidays, gaps in an import) are
    # skipped by the arrows; with nothing earlier there is no "previous" to offer.
    before = store.day_before(conn, period.start)
    after = store.day_after(conn, period.end)
    previous = period.around(before) if before else None
    nxt = period.around(after) if after else period.shifted(1)
    empty = not total and not store.any_stored(conn)
    if nxt is not None and nxt.start > on:
        nxt = None
    return total, previous, nxt, empty


def default_period(db: Database, *, on: dt.date | None = None) -> Period:
    """The day the front page shows: the latest day with papers, not after `on` (today)."""
    on = on or today()
    with db.connect() as conn:
        latest = store.latest_day(conn, on_or_before=on)
    return Period.day(latest or on)


def listing(
    db: Database,
    period: Period,
    *,
    limit: int,
    cursor: str | None = None,
    offset: int = 0,
    on: dt.date | None = None,
    newest_first: bool = False,
    submitter: str | None = None,
) -> Listing:
    """The papers of `period`, most upvoted first, then most recent; keyset-paginated.
    `newest_first` orders by publication time instead (offset paging only); `submitter` keeps
    the papers that reader or Hugging Face user put on the list."""
    on = on or today()
    with db.connect() as conn:
        rows = store.list_between(
            conn,
            period.start,
            period.end,
            limit=limit + 1,
            cursor=cursor,
            offset=offset,
            newest_first=newest_first,
            submitter=submitter,
        )
        total, previous, nxt, empty = _frame(conn, period, on)
    more = len(rows) > limit
    page = rows[:limit]
    return Listing(
        period=period,
        papers=page,
        total=total,
        next_cursor=store.encode_cursor(page[-1]) if more and page else None,
        previous=previous,
        next=nxt,
        catalogue_empty=empty,
    )


# --- trending ----------------------------------------------------------------------------------

WINDOWS = {"day": 1, "week": 7, "month": 30, "all": None}
CANDIDATES = 500  # for "all": the most upvoted papers overall
RECENT_DAYS = 14  # for "all": days ranked one by one, where young papers can still lead


@dataclass(frozen=True, slots=True)
class Trend:
    """A paper with its trending score."""

    paper: Paper
    score: float


def trending_score(
    upvotes: int, published: dt.datetime, *, now: dt.datetime, gravity: float, offset: float
) -> float:
    """upvotes / (age in hours + offset) ** gravity: votes count less as a paper ages."""
    age_hours = max(0.0, (now - published).total_seconds() / 3600)
    return upvotes / (age_hours + offset) ** gravity


def trending(
    db: Database,
    window: str,
    *,
    limit: int,
    gravity: float = 1.8,
    offset: float = 2.0,
    now: dt.datetime | None = None,
) -> list[Trend]:
    """The papers of a window (day, week, month, all) ranked by trending score.

    Windows count back from the latest listing day that has papers. Ranked are the most
    upvoted papers of each day of the window (twice `limit` of them, at least 50), and for
    "all" the most upvoted papers overall too: a paper below those on its own day would need
    to be hours younger than all of them to rank. Ties go to more upvotes, then the more
    recent, then the larger id, so equal scores always come out in one order.
    """
    if window not in WINDOWS:
        raise InvalidInput(f"unknown window {window[:20]!r}: use day, week, month or all")
    now = now or dt.datetime.now(dt.UTC)
    per_day = max(2 * limit, 50)
    with db.connect() as conn:
        latest = store.latest_day(conn, on_or_before=now.date() + dt.timedelta(days=1))
        if latest is None:
            return []
        days = WINDOWS[window]
        candidates: dict[str, tuple[str, int, dt.datetime]] = {}
        for back in range(days or RECENT_DAYS):
            day = latest - dt.timedelta(days=back)
            candidates.update((c[0], c) for c in store.ranked_ids(conn, day=day, limit=per_day))
        if days is None:
            candidates.update((c[0], c) for c in store.ranked_ids(conn, limit=CANDIDATES))
        scored = sorted(
            (
                (
                    trending_score(votes, published, now=now, gravity=gravity, offset=offset),
                    votes,
                    published,
                    arxiv_id,
                )
                for arxiv_id, votes, published in candidates.values()
            ),
            reverse=True,
        )[:limit]
        found = store.get_many(conn, [s[3] for s in scored])
    return [Trend(found[s[3]], s[0]) for s in scored if s[3] in found]
