"""The JSON API under /api/: listings, one paper, and Hugging Face's daily_papers shape."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from paperfeed import accounts, feeds, latex, voting
from paperfeed import search as search_service
from paperfeed.citation import bibtex
from paperfeed.errors import InvalidInput
from paperfeed.feeds import Listing, Period
from paperfeed.models import Paper
from paperfeed.papers import get_paper
from paperfeed.sources.links import safe_url
from paperfeed.web.cache import cached
from paperfeed.web.guards import DB, TokenReader, by_token_reader, limit
from paperfeed.web.queries import (
    DATE_HELP,
    MONTH_HELP,
    WEEK_HELP,
    page_size,
    resolve_period,
    run_search,
    trending_for,
)
from paperfeed.web.schemas import (
    HFDailyEntry,
    HFPaperFlat,
    ListingOut,
    PaperDetail,
    SearchOut,
    TrendingOut,
    VoteOut,
)

router = APIRouter(prefix="/api", tags=["papers"])

HF_MAX_QUERY = 250  # huggingface.co's limits for api/papers/search
HF_MAX_LIMIT = 120


def paper_json(paper: Paper, base_url: str, submitters: dict[int, str] | None = None) -> dict:
    """A paper as the API returns it (`PaperOut`)."""
    local = (submitters or {}).get(paper.submitted_by) if paper.submitted_by else None
    return {
        "arxiv_id": paper.arxiv_id,
        "version": paper.version,
        "title": paper.title,
        "title_text": latex.to_text(paper.title),
        "abstract": paper.abstract,
        "abstract_text": latex.to_text(paper.abstract),
        "authors": paper.authors,
        "primary_category": paper.primary_category,
        "categories": paper.categories,
        "comment": paper.comment,
        "journal_ref": paper.journal_ref,
        "doi": paper.doi,
        "published": paper.published.isoformat() if paper.published else None,
        "updated": paper.updated.isoformat() if paper.updated else None,
        "listing_day": paper.listing_day.isoformat() if paper.listing_day else None,
        "upvotes": paper.upvotes or 0,
        "num_comments": paper.num_comments or 0,
        "hf_comments": paper.hf_comments,
        "github_stars": paper.github_stars,
        "ai_summary": paper.ai_summary,
        "ai_keywords": paper.ai_keywords,
        "organization": paper.organization,
        "submitted_by": local or paper.hf_submitter,
        "links": {
            "page": f"{base_url.rstrip('/')}/papers/{paper.arxiv_id}",
            "abs": paper.abs_url,
            "pdf": paper.pdf_url,
            "code": safe_url(paper.code_url),
            "project": safe_url(paper.project_url),
        },
    }


def _period_json(period: Period | None) -> dict | None:
    if period is None:
        return None
    return {
        "kind": period.kind,
        "value": period.value,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
    }


def listing_json(listing: Listing, base_url: str, submitters: dict[int, str]) -> dict:
    """A listing page as the API returns it (`ListingOut`)."""
    return {
        "period": _period_json(listing.period),
        "total": listing.total,
        "papers": [paper_json(p, base_url, submitters) for p in listing.papers],
        "next_cursor": listing.next_cursor,
        "previous": _period_json(listing.previous),
        "next": _period_json(listing.next),
    }


def _iso_z(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return f"{value.isoformat()}T00:00:00.000Z"
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _hf_user(name: str | None) -> dict | None:
    return {"name": name, "user": name, "fullname": name, "type": "user"} if name else None


def _hf_organization(paper: Paper) -> dict | None:
    if not paper.organization:
        return None
    return {"name": paper.organization_id or paper.organization, "fullname": paper.organization}


def hf_paper(paper: Paper) -> dict:
    """A paper in Hugging Face's shape: the `paper` object of a daily_papers entry."""
    return {
        "id": paper.arxiv_id,
        "authors": [{"name": name, "hidden": False} for name in paper.authors],
        "publishedAt": _iso_z(paper.published),
        "submittedOnDailyAt": _iso_z(paper.listing_day),
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": paper.upvotes or 0,
        # Our discussion of the paper lives on its page, under its arXiv id.
        "discussionId": paper.arxiv_id,
        "projectPage": safe_url(paper.project_url),
        "githubRepo": safe_url(paper.code_url),
        "githubStars": paper.github_stars,
        "ai_summary": paper.ai_summary,
        "ai_keywords": paper.ai_keywords,
        "organization": _hf_organization(paper),
    }


def hf_daily_entry(paper: Paper, submitters: dict[int, str] | None = None) -> dict:
    """A paper in the shape of one element of Hugging Face's api/daily_papers response."""
    local = (submitters or {}).get(paper.submitted_by) if paper.submitted_by else None
    inner = hf_paper(paper)
    return {
        "paper": inner,
        "publishedAt": _iso_z(paper.listing_day),
        "title": paper.title,
        "summary": paper.abstract,
        "thumbnail": None,
        "numComments": paper.num_comments or 0,
        "submittedBy": _hf_user(local or paper.hf_submitter),
        "organization": inner["organization"],
        "isAuthorParticipating": False,
        **{k: inner[k] for k in _HF_ALSO_ON_TOP},
    }


_HF_ALSO_ON_TOP = (
    "upvotes",
    "githubRepo",
    "githubStars",
    "projectPage",
    "ai_summary",
    "ai_keywords",
)


def hf_flat(paper: Paper, submitters: dict[int, str] | None = None) -> dict:
    """A paper as huggingface.co's api/papers/{id} answers: its fields at the top level."""
    local = (submitters or {}).get(paper.submitted_by) if paper.submitted_by else None
    return {
        **hf_paper(paper),
        "submittedOnDailyBy": _hf_user(local or paper.hf_submitter),
        "numComments": paper.num_comments or 0,
    }


def _submitters(request: Request, papers: list[Paper]) -> dict[int, str]:
    return accounts.display_names(request.app.state.db, {p.submitted_by for p in papers})


@router.get("/papers", summary="Papers of a day, week or month", response_model=ListingOut)
@cached
def list_papers(
    request: Request,
    date: str | None = Query(None, description=DATE_HELP),
    week: str | None = Query(None, description=WEEK_HELP),
    month: str | None = Query(None, description=MONTH_HELP),
    limit: int | None = Query(None, description="Page size (default and maximum are settings)."),
    cursor: str | None = Query(None, description="`next_cursor` from the previous page."),
) -> dict:
    """Papers listed in a period, most upvoted first; without a period, the latest day."""
    period = resolve_period(request, date, week, month)
    page = feeds.listing(
        request.app.state.db, period, limit=page_size(request, limit), cursor=cursor
    )
    base = request.app.state.settings.base_url
    return listing_json(page, base, _submitters(request, page.papers))


@router.get(
    "/papers/search",
    summary="Hugging Face-compatible paper search",
    tags=["compat"],
    response_model=list[HFDailyEntry],
)
def hf_search(
    request: Request,
    q: str = Query("", max_length=HF_MAX_QUERY, description="Words, as on huggingface.co."),
    limit: int = Query(50, ge=1, le=HF_MAX_LIMIT, description="How many papers."),
) -> list[dict]:
    """What huggingface.co/api/papers/search answers (huggingface_hub's `list_papers`)."""
    if not q.strip():
        return []
    results = run_search(request, q, "hybrid", None, None, None, False, "relevance", None, 0, limit)
    papers = [h.paper for h in results.hits]
    submitters = _submitters(request, papers)
    return [hf_daily_entry(p, submitters) for p in papers]


@router.get(
    "/papers/{arxiv_id:path}/details",
    summary="One paper, paperfeed's shape",
    response_model=PaperDetail,
)
@cached
def show_paper(request: Request, arxiv_id: str) -> dict:
    """One paper by arXiv id (a version suffix is ignored), with a BibTeX entry."""
    paper = get_paper(request.app.state.db, arxiv_id)
    base = request.app.state.settings.base_url
    return {**paper_json(paper, base, _submitters(request, [paper])), "bibtex": bibtex(paper)}


@router.get(
    "/papers/{arxiv_id:path}",
    summary="One paper, Hugging Face's shape",
    tags=["compat"],
    response_model=HFPaperFlat,
)
@cached
def hf_paper_info(request: Request, arxiv_id: str) -> dict:
    """What huggingface.co/api/papers/{id} answers (huggingface_hub's `paper_info`):
    `authors` as objects. paperfeed's own shape is at /api/papers/{id}/details."""
    paper = get_paper(request.app.state.db, arxiv_id)
    return hf_flat(paper, _submitters(request, [paper]))


@router.get(
    "/daily_papers",
    summary="Hugging Face-compatible daily papers",
    tags=["compat"],
    response_model=list[HFDailyEntry],
)
@cached
def daily_papers(
    request: Request,
    date: str | None = Query(None, description=DATE_HELP),
    week: str | None = Query(None, description=WEEK_HELP),
    month: str | None = Query(None, description=MONTH_HELP),
    limit: int | None = Query(None, description="Entries per page."),
    p: int = Query(0, ge=0, le=10_000, description="Page number, from 0."),
    sort: str | None = Query(
        None,
        description="trending (most upvoted first, the default) or publishedAt (newest first).",
    ),
    submitter: str | None = Query(
        None, max_length=100, description="Only papers this user (HF name) put on the list."
    ),
) -> list[dict]:
    """The same JSON list as huggingface.co/api/daily_papers, so existing clients work as-is."""
    if sort not in (None, "trending", "publishedAt"):
        raise InvalidInput("sort must be trending or publishedAt")
    period = resolve_period(request, date, week, month)
    size = page_size(request, limit)
    page = feeds.listing(
        request.app.state.db,
        period,
        limit=size,
        offset=p * size,
        newest_first=sort == "publishedAt",
        submitter=submitter.strip() if submitter else None,
    )
    submitters = _submitters(request, page.papers)
    return [hf_daily_entry(paper, submitters) for paper in page.papers]


class VoteRequest(BaseModel):
    """The vote to record: true to upvote, false to withdraw."""

    up: bool = Field(True, description="true to upvote, false to withdraw the upvote")


@router.post(
    "/papers/{arxiv_id:path}/vote",
    summary="Upvote or withdraw",
    tags=["community"],
    response_model=VoteOut,
    dependencies=[limit("vote", key=by_token_reader)],
)
def vote(arxiv_id: str, body: VoteRequest, user: TokenReader, db: DB) -> dict:
    """Set your vote on a paper (needs `Authorization: Bearer <personal API token>`)."""
    state = voting.set_vote(db, user=user, arxiv_id=arxiv_id, up=body.up)
    return {"arxiv_id": state.arxiv_id, "voted": state.voted, "upvotes": state.upvotes}


@router.get("/trending", summary="Trending papers", tags=["community"], response_model=TrendingOut)
@cached
def trending(
    request: Request,
    window: str = Query("week", description="day, week, month or all"),
    limit: int | None = Query(None, description="How many papers."),
) -> dict:
    """Papers ranked by upvotes / (age_hours + offset) ^ gravity within a window."""
    base = request.app.state.settings.base_url
    trends = trending_for(request, window, limit)
    return {
        "window": window,
        "papers": [{**paper_json(t.paper, base), "score": round(t.score, 6)} for t in trends],
    }


@router.get("/search", summary="Search papers", tags=["search"], response_model=SearchOut)
def search(
    request: Request,
    q: str = Query(
        "",
        description=f'Words, "phrases", author:"Name" or an arXiv id; '
        f"cut at {search_service.MAX_QUERY} characters.",
    ),
    mode: str = Query("hybrid", description="hybrid, keyword or semantic"),
    since: str | None = Query(None, description="Listed on or after, YYYY-MM-DD."),
    until: str | None = Query(None, description="Listed on or before, YYYY-MM-DD."),
    category: list[str] | None = Query(None, description="Only these arXiv categories."),
    has_code: bool = Query(False, description="Only papers with a code link."),
    sort: str = Query("relevance", description="relevance, upvotes or date"),
    limit: int | None = Query(None, description="Page size."),
    offset: int = Query(0, ge=0, le=10_000),
) -> dict:
    """Hybrid (default), keyword or semantic search; without embeddings the semantic modes fall
    back to keywords and say so in `notice`. An empty query answers with the latest day's
    papers."""
    base = request.app.state.settings.base_url
    if not q.strip():
        page = feeds.listing(
            request.app.state.db,
            feeds.default_period(request.app.state.db),
            limit=page_size(request, limit),
        )
        return {
            "query": "",
            "mode": mode,
            "notice": None,
            "jump": None,
            "hits": [
                {"paper": paper_json(p, base), "score": None, "snippet": None} for p in page.papers
            ],
        }
    results = run_search(request, q, mode, since, until, category, has_code, sort, limit, offset)
    return {
        "query": results.query.text,
        "mode": results.mode,
        "notice": results.notice,
        "jump": results.jump,
        "hits": [
            {"paper": paper_json(h.paper, base), "score": round(h.score, 6), "snippet": h.snippet}
            for h in results.hits
        ],
    }
