"""The JSON API under /api/: listings, one paper, and Hugging Face's daily_papers shape."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from paperfeed import feeds, voting
from paperfeed import search as search_service
from paperfeed.citation import bibtex
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

router = APIRouter(prefix="/api", tags=["papers"])


def paper_json(paper: Paper, base_url: str) -> dict:
    """A paper as the API returns it."""
    return {
        "arxiv_id": paper.arxiv_id,
        "version": paper.version,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": paper.authors,
        "primary_category": paper.primary_category,
        "categories": paper.categories,
        "comment": paper.comment,
        "journal_ref": paper.journal_ref,
        "doi": paper.doi,
        "published": paper.published.isoformat() if paper.published else None,
        "updated": paper.updated.isoformat() if paper.updated else None,
        "listing_day": paper.listing_day.isoformat() if paper.listing_day else None,
        "upvotes": paper.upvotes,
        "num_comments": paper.num_comments,
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


def listing_json(listing: Listing, base_url: str) -> dict:
    """A listing page as the API returns it."""
    return {
        "period": _period_json(listing.period),
        "total": listing.total,
        "papers": [paper_json(p, base_url) for p in listing.papers],
        "next_cursor": listing.next_cursor,
        "previous": _period_json(listing.previous),
        "next": _period_json(listing.next),
    }


def _iso_z(value) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def hf_daily_entry(paper: Paper) -> dict:
    """A paper in the shape of one element of Hugging Face's api/daily_papers response."""
    listed = f"{paper.listing_day.isoformat()}T00:00:00.000Z" if paper.listing_day else None
    return {
        "paper": {
            "id": paper.arxiv_id,
            "authors": [{"name": name, "hidden": False} for name in paper.authors],
            "publishedAt": _iso_z(paper.published),
            "submittedOnDailyAt": listed,
            "title": paper.title,
            "summary": paper.abstract,
            "upvotes": paper.upvotes,
            "githubRepo": safe_url(paper.code_url),
            "projectPage": safe_url(paper.project_url),
        },
        "publishedAt": _iso_z(paper.published),
        "title": paper.title,
        "summary": paper.abstract,
        "numComments": paper.num_comments,
        "isAuthorParticipating": False,
    }


@router.get("/papers", summary="Papers of a day, week or month")
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
    return listing_json(page, request.app.state.settings.base_url)


@router.get("/papers/{arxiv_id:path}", summary="One paper")
@cached
def show_paper(request: Request, arxiv_id: str) -> dict:
    """One paper by arXiv id (a version suffix is ignored), with a BibTeX entry."""
    paper = get_paper(request.app.state.db, arxiv_id)
    return {**paper_json(paper, request.app.state.settings.base_url), "bibtex": bibtex(paper)}


@router.get("/daily_papers", summary="Hugging Face-compatible daily papers", tags=["compat"])
@cached
def daily_papers(
    request: Request,
    date: str | None = Query(None, description=DATE_HELP),
    week: str | None = Query(None, description=WEEK_HELP),
    month: str | None = Query(None, description=MONTH_HELP),
    limit: int | None = Query(None, description="Entries per page."),
    p: int = Query(0, ge=0, le=10_000, description="Page number, from 0."),
) -> list[dict]:
    """The same JSON list as huggingface.co/api/daily_papers, so existing clients work as-is."""
    period = resolve_period(request, date, week, month)
    size = page_size(request, limit)
    page = feeds.listing(request.app.state.db, period, limit=size, offset=p * size)
    return [hf_daily_entry(paper) for paper in page.papers]


class VoteRequest(BaseModel):
    """The vote to record: true to upvote, false to withdraw."""

    up: bool = Field(True, description="true to upvote, false to withdraw the upvote")


@router.post(
    "/papers/{arxiv_id:path}/vote",
    summary="Upvote or withdraw",
    tags=["community"],
    dependencies=[limit("vote", key=by_token_reader)],
)
def vote(arxiv_id: str, body: VoteRequest, user: TokenReader, db: DB) -> dict:
    """Set your vote on a paper (needs `Authorization: Bearer <personal API token>`)."""
    state = voting.set_vote(db, user=user, arxiv_id=arxiv_id, up=body.up)
    return {"arxiv_id": state.arxiv_id, "voted": state.voted, "upvotes": state.upvotes}


@router.get("/trending", summary="Trending papers", tags=["community"])
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


@router.get("/search", summary="Search papers", tags=["search"])
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
