"""API response shapes (pydantic): paperfeed's own, and Hugging Face's for its clients.

Every JSON endpoint declares one of these as its response model, so /api/openapi.json shows
real schemas. `extra="forbid"` makes a builder that drifts from its model fail in tests.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- paperfeed's own shape ---------------------------------------------------------------------


class Links(Shape):
    page: str = Field(description="The paper's page on this site")
    abs: str = Field(description="arXiv abstract page")
    pdf: str = Field(description="arXiv PDF")
    code: str | None = Field(description="Code repository, if known")
    project: str | None = Field(description="Project page, if known")


class PaperOut(Shape):
    arxiv_id: str = Field(description="arXiv id without version, e.g. 2511.01234")
    version: int | None
    title: str = Field(description="As the source gave it; LaTeX kept")
    title_text: str = Field(description="The title with LaTeX as plain Unicode")
    abstract: str
    abstract_text: str = Field(description="The abstract with LaTeX as plain Unicode")
    authors: list[str] = Field(description="In listing order")
    primary_category: str | None
    categories: list[str]
    comment: str | None
    journal_ref: str | None
    doi: str | None
    published: str | None = Field(description="v1 submission time, ISO 8601 UTC")
    updated: str | None
    listing_day: str | None = Field(description="The daily list it belongs to, YYYY-MM-DD")
    upvotes: int = Field(description="Upvotes; 0 when nobody voted")
    num_comments: int = Field(description="Comments in this site's discussion")
    hf_comments: int | None = Field(description="Comments on Hugging Face, as imported")
    github_stars: int | None = Field(description="Stars of the code repository, if on GitHub")
    ai_summary: str | None = Field(description="Hugging Face's AI summary, as imported")
    ai_keywords: list[str]
    organization: str | None
    submitted_by: str | None = Field(description="Who put it on the list (reader or HF user)")
    links: Links


class PaperDetail(PaperOut):
    bibtex: str


class PeriodOut(Shape):
    kind: str = Field(description="day, week or month")
    value: str = Field(description="2025-11-20, 2025-W47 or 2025-11")
    start: str
    end: str


class ListingOut(Shape):
    period: PeriodOut | None
    total: int
    papers: list[PaperOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")
    previous: PeriodOut | None
    next: PeriodOut | None


class VoteOut(Shape):
    arxiv_id: str
    voted: bool
    upvotes: int


class TrendingPaper(PaperOut):
    score: float


class TrendingOut(Shape):
    window: str
    papers: list[TrendingPaper]


class SearchHit(Shape):
    paper: PaperOut
    score: float | None
    snippet: str | None = Field(description="HTML: escaped text with <mark> around matches")


class SearchOut(Shape):
    query: str
    mode: str
    notice: str | None
    jump: str | None = Field(description="An arXiv id the query named exactly")
    hits: list[SearchHit]


class CodeTrend(PaperOut):
    repo: str = Field(description="owner/name on GitHub")
    stars_gained: int = Field(description="Stars gained over the window")
    stars: int = Field(description="Stars at the latest snapshot")


class TrendingCodeOut(Shape):
    window: str
    since: str | None = Field(description="First snapshot day the growth counts from")
    until: str | None = Field(description="Latest snapshot day")
    papers: list[CodeTrend]


class ErrorBody(Shape):
    code: str
    message: str


class ErrorOut(Shape):
    error: ErrorBody


# --- Hugging Face's shapes ---------------------------------------------------------------------
# Names and nesting as huggingface.co sends them (camelCase and all); huggingface_hub's
# PaperInfo reads these, and keys it does not know it keeps as attributes.


class HFAuthor(Shape):
    name: str
    hidden: bool = False


class HFUser(Shape):
    name: str
    user: str
    fullname: str
    type: str = "user"


class HFOrganization(Shape):
    name: str
    fullname: str


class HFPaper(Shape):
    id: str
    authors: list[HFAuthor]
    publishedAt: str | None
    submittedOnDailyAt: str | None
    title: str
    summary: str
    upvotes: int
    discussionId: str
    projectPage: str | None
    githubRepo: str | None
    githubStars: int | None
    ai_summary: str | None
    ai_keywords: list[str]
    organization: HFOrganization | None = None


class HFPaperFlat(HFPaper):
    """GET /api/papers/{id}: the paper's fields at the top level, as huggingface.co answers."""

    submittedOnDailyBy: HFUser | None
    numComments: int


class HFDailyEntry(Shape):
    paper: HFPaper
    publishedAt: str | None = Field(description="When it was put on the daily list")
    title: str
    summary: str
    thumbnail: str | None
    numComments: int
    submittedBy: HFUser | None
    organization: HFOrganization | None = None
    isAuthorParticipating: bool = False
    # Also at the top level (huggingface.co has them only in `paper`): huggingface_hub's
    # PaperInfo reads these keys from the top level, so its objects get them filled in.
    upvotes: int
    githubRepo: str | None
    githubStars: int | None
    projectPage: str | None
    ai_summary: str | None
    ai_keywords: list[str]


# --- digest subscriptions ----------------------------------------------------------------------


class PreferencesOut(Shape):
    cadence: str = Field(description="daily or weekly")
    weekday: int = Field(description="0 = Monday; weekly digests go out on this day")
    send_hour: int = Field(description="0-23, in `timezone`")
    timezone: str = Field(description="IANA name")
    max_papers: int
    categories: list[str]
    topics: list[str] = Field(description="Saved searches, as typed")


class SubscriptionLinks(Shape):
    preferences: str
    unsubscribe: str
    feed: str
    preview: str


class SubscriptionOut(Shape):
    email: str
    status: str = Field(description="pending, active, paused or unsubscribed")
    paused_reason: str | None
    failures: int
    preferences: PreferencesOut
    next_digest_at: str | None
    links: SubscriptionLinks


class SubscribeOut(Shape):
    status: str
    message: str


class DigestSection(Shape):
    title: str
    topic: str | None
    link: str | None
    papers: list[PaperOut]


class DigestOut(Shape):
    preferences: PreferencesOut
    since: str | None
    until: str | None
    sections: list[DigestSection]


# --- a reader's ranking ------------------------------------------------------------------------


class ForYouPick(Shape):
    arxiv_id: str
    title: str
    score: float = Field(description="Higher is closer to the reader's library; a ranking only")
    reason: str = Field(description="Why it was picked, in words")
    listing_day: str | None = Field(description="YYYY-MM-DD")


class ForYouOut(Shape):
    date: str | None = Field(description="The day ranked; null for 'new since the last call'")
    papers: list[ForYouPick]
