"""Plain data carried between layers: papers and the records that describe an ingest. No I/O."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

ARXIV_ABS = "https://arxiv.org/abs/"
ARXIV_PDF = "https://arxiv.org/pdf/"
# owner/name of a github.com repository URL; GitHub's names are case-insensitive.
_GITHUB_REPO = re.compile(
    r"^https?://(?:www\.)?github\.com/([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/([A-Za-z0-9._-]{1,100}?)"
    r"(?:\.git)?(?:[/?#].*)?$",
    re.IGNORECASE,
)


def github_repo(url: str | None) -> str | None:
    """ "owner/name" (lower-case) of a github.com repository URL, else None."""
    m = _GITHUB_REPO.match(url or "")
    if not m or m[2] in (".", ".."):
        return None
    return f"{m[1]}/{m[2]}".lower()


@dataclass(slots=True)
class Paper:
    """One arXiv paper, latest version. `None` or an empty list means "this source does not say"."""

    arxiv_id: str  # without version suffix: 2511.01234 or hep-th/9901001
    title: str
    abstract: str
    authors: list[str] = field(default_factory=list)  # in listing order
    version: int | None = None
    primary_category: str | None = None
    categories: list[str] = field(default_factory=list)  # primary first
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    published: dt.datetime | None = None  # v1 submission time, UTC
    updated: dt.datetime | None = None  # latest version time, UTC
    listing_day: dt.date | None = None  # the day the paper belongs to on the daily page
    code_url: str | None = None
    project_url: str | None = None
    upvotes: int | None = None
    num_comments: int | None = None
    submitted_by: int | None = None  # the account that submitted it, if a reader did
    hidden: bool = False  # hidden by an administrator
    # What Hugging Face's daily list adds, as imported; `github_stars` is refreshed from GitHub.
    github_stars: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    organization: str | None = None  # the organisation's display name ("Google")
    organization_id: str | None = None  # its Hugging Face name ("google")
    hf_submitter: str | None = None  # the Hugging Face user who put it on the daily list
    hf_comments: int | None = None  # comments on Hugging Face, apart from our own discussion

    @property
    def abs_url(self) -> str:
        return ARXIV_ABS + self.arxiv_id

    @property
    def pdf_url(self) -> str:
        return ARXIV_PDF + self.arxiv_id

    @property
    def github_repo(self) -> str | None:
        """The GitHub repository of the code link, as "owner/name", if it is one."""
        return github_repo(self.code_url)


@dataclass(frozen=True, slots=True)
class RepoStars:
    """What GitHub said about one repository."""

    repo: str  # owner/name, as asked
    status: str  # ok, unchanged (304), missing (404/410/451), error
    stars: int | None = None
    etag: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record a source could not turn into a Paper, and why."""

    ref: str  # where it came from: an arXiv id, "line 17", an OAI identifier
    reason: str


@dataclass(slots=True)
class Batch:
    """One page of a source: what parsed, what did not, and where to resume after it."""

    papers: list[Paper]
    rejected: list[Rejected] = field(default_factory=list)
    cursor: str | None = None  # resume point *after* this batch; None when the source is done
    total: int | None = None  # records the whole harvest is expected to have, if the source says


@dataclass(slots=True)
class IngestCounts:
    """What one ingest run did to the store."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def add(self, other: IngestCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected


@dataclass(slots=True)
class IngestRun:
    """One row of the ingest log."""

    id: int
    source: str
    key: str  # identifies the harvest so an interrupted one can resume
    status: str  # running | ok | failed
    cursor: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    counts: IngestCounts
    error: str | None = None
    rejections: list[Rejected] = field(default_factory=list)


@dataclass(slots=True)
class User:
    """A reader's account. The password hash never leaves the store."""

    id: int
    email: str
    display_name: str
    is_admin: bool
    created_at: dt.datetime
    confirmed: bool = True


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: who, and the token its forms must echo."""

    user: User
    csrf_token: str
    expires_at: dt.datetime


@dataclass(slots=True)
class Comment:
    """A reader's comment on a paper; `author` is None once the account is deleted."""

    id: int
    arxiv_id: str
    user_id: int | None
    author: str | None
    parent_id: int | None
    body: str
    html: str  # sanitised rendering of body
    created_at: dt.datetime
    edited_at: dt.datetime | None = None
    deleted: bool = False
    hidden: bool = False
    replies: list[Comment] = field(default_factory=list)


@dataclass(slots=True)
class Hit:
    """One search result: the paper, its score, and a snippet with the query terms marked."""

    paper: Paper
    score: float
    snippet: str | None = None  # HTML: escaped text with <mark> around matched terms


@dataclass(slots=True)
class Preferences:
    """What a digest subscriber asked for."""

    cadence: str = "daily"  # daily or weekly
    weekday: int = 0  # 0 = Monday; weekly digests go out on this day
    send_hour: int = 7  # in `timezone`
    timezone: str = "UTC"  # IANA name
    max_papers: int = 10  # per section, and per topic
    categories: list[str] = field(default_factory=list)  # empty: every category
    topics: list[str] = field(default_factory=list)  # saved searches, as typed


@dataclass(slots=True)
class Subscription:
    """A digest subscriber, with or without an account."""

    id: int
    email: str
    key: str  # mixed into signed links; a new key voids the old links
    status: str  # pending, active, paused, unsubscribed
    prefs: Preferences
    created_at: dt.datetime
    changed_at: dt.datetime
    user_id: int | None = None
    confirmed_at: dt.datetime | None = None
    covered_until: dt.date | None = None  # newest listing day the last digest covered
    failures: int = 0  # permanent delivery failures in a row
    paused_reason: str | None = None


@dataclass(slots=True)
class Reference:
    """One bibliography entry as read from a file or typed by a reader, before it is stored."""

    title: str = ""
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    arxiv_id: str | None = None
    doi: str | None = None
    year: int | None = None
    venue: str | None = None
    note: str = ""

    def key(self) -> str | None:
        """What duplicates merge on: the arXiv id, else the DOI, else the normalised title."""
        if self.arxiv_id:
            return f"arxiv:{self.arxiv_id}"
        if self.doi:
            return f"doi:{self.doi.lower()}"
        words = "".join(c if c.isalnum() else " " for c in self.title.lower()).split()
        return f"title:{' '.join(words)}"[:300] if words else None


@dataclass(slots=True)
class LibraryItem:
    """A paper in a reader's library: a catalogue paper or an imported reference."""

    id: int
    user_id: int
    key: str
    title: str
    abstract: str
    authors: list[str]
    source: str
    saved_at: dt.datetime
    arxiv_id: str | None = None
    doi: str | None = None
    year: int | None = None
    venue: str | None = None
    note: str = ""
    collections: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Collection:
    """A reader's named set of library items; private unless they make it public."""

    id: int
    user_id: int
    name: str
    public: bool
    created_at: dt.datetime
    size: int = 0
