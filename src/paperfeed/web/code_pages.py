"""Trending code: papers ranked by the GitHub stars their code gained, as a page, JSON and feeds.

One service call (`stars.trending_code`), four renderings that differ in the last line.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed import stars, voting
from paperfeed.web import auth
from paperfeed.web.api import paper_json
from paperfeed.web.cache import cached
from paperfeed.web.queries import page_size
from paperfeed.web.render import render
from paperfeed.web.schemas import TrendingCodeOut
from paperfeed.web.syndication import _render as render_feed

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["community"])
WINDOW_HELP = "day, week or month: growth counted back from the latest snapshot"


def _trending(request: Request, window: str, limit: int | None = None) -> stars.CodeTrending:
    return stars.trending_code(request.app.state.db, window, limit=page_size(request, limit))


@router.get("/trending/code", response_class=HTMLResponse)
@cached
def trending_code_page(request: Request, window: str = Query("week")) -> HTMLResponse:
    """Papers whose code gained the most GitHub stars over a day, week or month."""
    found = _trending(request, window)
    voted = voting.voted_among(
        request.app.state.db, auth.user(request), [t.paper.arxiv_id for t in found.trends]
    )
    context = {"found": found, "windows": list(stars.WINDOWS), "voted": voted}
    return render(request, "trending_code.html", context)


@api_router.get(
    "/trending/code",
    summary="Trending code: papers by stars gained",
    response_model=TrendingCodeOut,
)
@cached
def trending_code_api(
    request: Request,
    window: str = Query("week", description=WINDOW_HELP),
    limit: int | None = Query(None, description="How many papers."),
) -> dict:
    """Papers ranked by the stars their GitHub repository gained over the window; refreshed
    by `paperfeed ingest github-stars`, one snapshot a day."""
    found = _trending(request, window, limit)
    base = request.app.state.settings.base_url
    return {
        "window": found.window,
        "since": found.since.isoformat() if found.since else None,
        "until": found.until.isoformat() if found.until else None,
        "papers": [
            {
                **paper_json(t.paper, base),
                "repo": t.repo,
                "stars_gained": t.gained,
                "stars": t.stars,
            }
            for t in found.trends
        ],
    }


def _feed(request: Request, fmt: str, window: str) -> Response:
    found = _trending(request, window)
    return render_feed(
        request,
        fmt,
        title=f"Trending code ({found.window})",
        page=f"/trending/code?window={found.window}",
        papers=[t.paper for t in found.trends],
    )


@router.get("/trending/code.atom")
@cached
def trending_code_atom(request: Request, window: str = Query("week")) -> Response:
    """Trending code as Atom."""
    return _feed(request, "atom", window)


@router.get("/trending/code.rss")
@cached
def trending_code_rss(request: Request, window: str = Query("week")) -> Response:
    """Trending code as RSS 2.0."""
    return _feed(request, "rss", window)
