"""Author pages: `/authors/{name}` (papers newest first, paged, with frequent co-authors) and
its Atom and RSS feeds. Names are looked up as search's `author:` filter reads them; an author
with no visible paper is a 404."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed import accounts, voting
from paperfeed import authors as author_service
from paperfeed.web.cache import cached
from paperfeed.web.guards import Reader
from paperfeed.web.render import render
from paperfeed.web.syndication import FEED_SIZE
from paperfeed.web.syndication import _render as render_feed

router = APIRouter(include_in_schema=False)


def author_url(name: str) -> str:
    """The author page's path for a name as listed (URL-encoded, slashes included)."""
    return "/authors/" + quote(name, safe="")


def _feed(request: Request, fmt: str, name: str) -> Response:
    found = author_service.author_page(request.app.state.db, name, per_page=FEED_SIZE, coauthors=0)
    return render_feed(
        request,
        fmt,
        title=f"Papers by {found.name}",
        page=author_url(name),
        papers=found.papers,
    )


# The feeds first: `{name:path}` would otherwise take "Ada Lovelace.atom" as a name.
@router.get("/authors/{name:path}.atom")
@cached
def author_atom(request: Request, name: str) -> Response:
    """An author's newest papers as Atom."""
    return _feed(request, "atom", name)


@router.get("/authors/{name:path}.rss")
@cached
def author_rss(request: Request, name: str) -> Response:
    """An author's newest papers as RSS 2.0."""
    return _feed(request, "rss", name)


@router.get("/authors/{name:path}", response_class=HTMLResponse)
@cached
def author_page(
    request: Request,
    reader: Reader,
    name: str,
    page: int = Query(1, ge=1, le=author_service.MAX_PAGE),
) -> HTMLResponse:
    """An author's papers, newest first, their paper count and frequent co-authors."""
    db = request.app.state.db
    per_page = request.app.state.settings.period_page_size
    found = author_service.author_page(db, name, page=page, per_page=per_page)
    voted = voting.voted_among(db, reader, [p.arxiv_id for p in found.papers])
    submitters = accounts.display_names(db, {p.submitted_by for p in found.papers})
    context = {
        "author": found,
        "self_url": author_url(name),
        "author_url": author_url,
        "voted": voted,
        "submitters": submitters,
    }
    return render(request, "author.html", context)
