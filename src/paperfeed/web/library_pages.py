"""A reader's own pages: save / "not interested" buttons, /for-you, the library with its
collections, notes, import and export, the private feed, public collections and /api/for-you.

Nothing here shows one reader's library, notes, feedback or ranking to anyone else: every read
goes through the signed-in reader (or their API token or secret feed URL), administrators
included; a public collection shows only its entries, never notes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup

from paperfeed import feeds, library, recommend
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import User
from paperfeed.sources.http import PoliteClient
from paperfeed.web import auth, cards
from paperfeed.web.guards import CSRF, SignedIn, TokenReader, by_reader, by_token_reader, limit
from paperfeed.web.queries import DATE_HELP, MONTH_HELP, WEEK_HELP, resolve_period
from paperfeed.web.render import render
from paperfeed.web.schemas import ForYouOut
from paperfeed.web.syndication import _render as render_feed

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["for you"])


@dataclasses.dataclass(slots=True)
class Marks:
    saved: set[str]
    dismissed: set[str]


def marks(request: Request) -> Marks:
    """The signed-in reader's saved and dismissed papers, read once per request (for cards)."""
    if not hasattr(request.state, "library_marks"):
        user = auth.user(request)
        if user is None:
            request.state.library_marks = Marks(set(), set())
        else:
            saved, dismissed = library.marks(request.app.state.db, user)
            request.state.library_marks = Marks(saved, dismissed)
    return request.state.library_marks


def _buttons(request: Request, arxiv_id: str, *, fallback: str) -> Response:
    if request.headers.get("hx-request") == "true":
        request.state.__dict__.pop("library_marks", None)
        return render(request, "_library_buttons_fragment.html", {"arxiv_id": arxiv_id})
    return RedirectResponse(fallback, status_code=303)


def _fallback(request: Request, arxiv_id: str) -> str:
    return f"/papers/{arxiv_id}"


# -- the buttons on every card and paper page --------------------------------------------------
@router.post(
    "/papers/{arxiv_id:path}/save",
    response_class=HTMLResponse,
    dependencies=[CSRF, limit("library", key=by_reader)],
)
def save(request: Request, user: SignedIn, arxiv_id: str, on: str = Form("1")) -> Response:
    db = request.app.state.db
    if on == "1":
        item = library.save_paper(db, user, arxiv_id)
        arxiv_id = item.arxiv_id or arxiv_id
    else:
        library.unsave_paper(db, user, arxiv_id)
    return _buttons(request, arxiv_id, fallback=_fallback(request, arxiv_id))


@router.post(
    "/papers/{arxiv_id:path}/not-interested",
    response_class=HTMLResponse,
    dependencies=[CSRF, limit("library", key=by_reader)],
)
def not_interested(
    request: Request, user: SignedIn, arxiv_id: str, on: str = Form("1")
) -> Response:
    db = request.app.state.db
    if on == "1":
        library.dismiss(db, user, arxiv_id)
    else:
        library.undismiss(db, user, arxiv_id)
    return _buttons(request, arxiv_id, fallback=_fallback(request, arxiv_id))


# -- For you -------------------------------------------------------------------------------------
@router.get("/for-you", response_class=HTMLResponse)
def for_you_page(
    request: Request,
    user: SignedIn,
    page: int = Query(0, ge=0, le=10_000),
    date: str | None = Query(None, description=DATE_HELP),
    week: str | None = Query(None, description=WEEK_HELP),
    month: str | None = Query(None, description=MONTH_HELP),
) -> Response:
    """New papers since the last visit, ranked for the reader (each shown once; `page` goes
    back through earlier visits); with date, week or month, that period ranked for them."""
    db, settings = request.app.state.db, request.app.state.settings
    if date or week or month:
        period = resolve_period(request, date, week, month)
        picks = recommend.rank_period(
            db, settings, user, period.start, period.end, limit=settings.day_page_max, explain=50
        )
        return _picks_page(request, user, picks, period=period, visit=None)
    visit = recommend.for_you(db, settings, user, page=page)
    return _picks_page(request, user, visit.picks, period=None, visit=visit)


def _picks_page(
    request: Request,
    user: User,
    picks: list[recommend.Pick],
    *,
    period: feeds.Period | None,
    visit: recommend.Visit | None,
) -> Response:
    """/for-you: the picks as cached cards with the reader's marks, each with its reason."""
    reasons = [
        Markup('<p class="reason muted">{}</p>').format(p.reason) if p.reason else Markup("")
        for p in picks
    ]
    html = cards.render_papers(request, user, [p.paper for p in picks], after=reasons)
    context = {"picks": picks, "period": period, "visit": visit, "cards": cards.CARDS}
    return cards.with_cards(render(request, "for_you.html", context), html)


def pick_json(p: recommend.Pick) -> dict:
    return {
        "arxiv_id": p.paper.arxiv_id,
        "title": p.paper.title,
        "score": round(p.score, 6),
        "reason": p.reason,
        "listing_day": p.paper.listing_day.isoformat() if p.paper.listing_day else None,
    }


@api_router.get(
    "/for-you",
    response_model=ForYouOut,
    dependencies=[limit("library", key=by_token_reader)],
)
def for_you_api(
    request: Request,
    user: TokenReader,
    date: str | None = Query(None, description=DATE_HELP),
    limit: int = Query(50, ge=1, le=recommend.API_MAX),
) -> JSONResponse:
    """The token owner's ranking: a day's papers (every one when `limit` allows; papers in their
    library left out), or without `date` the papers added since their last such call."""
    db, settings = request.app.state.db, request.app.state.settings
    day = feeds.parse_day(date) if date else None
    picks = recommend.api_for_you(db, settings, user, day=day, limit=limit)
    body = {"date": day.isoformat() if day else None, "papers": [pick_json(p) for p in picks]}
    return JSONResponse(body, headers={"Cache-Control": "private, no-store"})


# -- the library page ----------------------------------------------------------------------------
PAGE = 100


@router.get("/library", response_class=HTMLResponse)
def library_page(
    request: Request,
    user: SignedIn,
    collection: int | None = Query(None),
    page: int = Query(0, ge=0, le=100_000),
) -> Response:
    db = request.app.state.db
    current = library.collection(db, user, collection) if collection is not None else None
    entries = library.items(db, user, collection_id=collection, limit=PAGE + 1, offset=page * PAGE)
    context = {
        "entries": entries[:PAGE],
        "more": len(entries) > PAGE,
        "page": page,
        "collections": library.collections(db, user),
        "current": current,
        "signals": library.signals(db, user),
        "has_feed": library.has_feed(db, user),
        "feed_url": None,
    }
    return render(request, "library.html", context)


def _to_library(collection_id: int | None = None, anchor: str = "") -> RedirectResponse:
    query = f"?collection={collection_id}" if collection_id else ""
    return RedirectResponse(f"/library{query}{anchor}", status_code=303)


@router.post("/library/items/{item_id}/note", dependencies=[CSRF, limit("write", key=by_reader)])
def note(request: Request, user: SignedIn, item_id: int, note: str = Form("")) -> Response:
    library.set_note(request.app.state.db, user, item_id, note)
    return _to_library(anchor=f"#item-{item_id}")


@router.post("/library/items/{item_id}/remove", dependencies=[CSRF, limit("write", key=by_reader)])
def remove(request: Request, user: SignedIn, item_id: int) -> Response:
    if not library.remove_item(request.app.state.db, user, item_id):
        raise NotFound(f"no library entry {item_id}")
    return _to_library()


@router.post("/library/items/{item_id}/file", dependencies=[CSRF, limit("write", key=by_reader)])
def file_item(
    request: Request,
    user: SignedIn,
    item_id: int,
    collection_id: int = Form(...),
    on: str = Form("1"),
) -> Response:
    library.file_item(request.app.state.db, user, collection_id, item_id, on=on == "1")
    return _to_library(anchor=f"#item-{item_id}")


@router.post("/library/collections", dependencies=[CSRF, limit("write", key=by_reader)])
def create_collection(request: Request, user: SignedIn, name: str = Form("")) -> Response:
    col = library.create_collection(request.app.state.db, user, name)
    return _to_library(col.id)


@router.post(
    "/library/collections/{collection_id}/public",
    dependencies=[CSRF, limit("write", key=by_reader)],
)
def publish(
    request: Request, user: SignedIn, collection_id: int, public: str = Form("1")
) -> Response:
    library.set_public(request.app.state.db, user, collection_id, public == "1")
    return _to_library(collection_id)


@router.post(
    "/library/collections/{collection_id}/delete",
    dependencies=[CSRF, limit("write", key=by_reader)],
)
def delete_collection(request: Request, user: SignedIn, collection_id: int) -> Response:
    if not library.delete_collection(request.app.state.db, user, collection_id):
        raise NotFound(f"no collection {collection_id}")
    return _to_library()


@router.post(
    "/library/import",
    response_class=HTMLResponse,
    dependencies=[CSRF, limit("import", key=by_reader)],
)
def import_file(
    request: Request,
    user: SignedIn,
    file: UploadFile = File(...),
    collection: str = Form(""),
) -> Response:
    db, settings = request.app.state.db, request.app.state.settings
    data = file.file.read(library.MAX_IMPORT_BYTES + 1)
    try:
        with PoliteClient.from_settings(settings) as client:
            report = library.import_references(
                db, settings, user, data, client=client, collection=collection or None
            )
    except InvalidInput as exc:
        return render(
            request, "message.html", {"title": "Nothing imported", "text": str(exc)}, status=400
        )
    return render(request, "library_import.html", {"report": report})


@router.get("/library/export.bib")
def export_bibtex(
    request: Request, user: SignedIn, collection: int | None = Query(None)
) -> Response:
    entries = library.items(request.app.state.db, user, collection_id=collection)
    return Response(
        library.to_bibtex(entries),
        media_type="application/x-bibtex; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="library.bib"'},
    )


@router.get("/library/export.json")
def export_csl(request: Request, user: SignedIn, collection: int | None = Query(None)) -> Response:
    entries = library.items(request.app.state.db, user, collection_id=collection)
    return Response(
        library.to_csl_json(entries),
        media_type="application/vnd.citationstyles.csl+json; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="library.json"'},
    )


# -- the private feed ----------------------------------------------------------------------------
@router.post(
    "/library/feed", response_class=HTMLResponse, dependencies=[CSRF, limit("write", key=by_reader)]
)
def new_feed(request: Request, user: SignedIn, revoke: str = Form("")) -> Response:
    """A new secret feed URL (shown once), or none when `revoke` is set."""
    db = request.app.state.db
    if revoke:
        library.revoke_feed_token(db, user)
        return _to_library(anchor="#feed")
    token = library.new_feed_token(db, user)
    base = request.app.state.settings.base_url.rstrip("/")
    return render(
        request,
        "message.html",
        {
            "title": "Your private feed",
            "text": f"Add this address to your feed reader; keep it secret. A new one voids "
            f"it: {base}/for-you/feed/{token}.atom",
        },
    )


@router.get("/for-you/feed/{token}.atom")
def private_feed(request: Request, token: str) -> Response:
    db, settings = request.app.state.db, request.app.state.settings
    user_id = library.user_for_feed(db, token)
    user = User(user_id, "", "", False, dt.datetime.now(dt.UTC))
    latest = library.latest_listing_day(db)
    picks = []
    if latest is not None:
        start = latest - dt.timedelta(days=recommend.NEW_DAYS - 1)
        picks = recommend.rank_period(db, settings, user, start, latest, limit=50)
    response = render_feed(
        request, "atom", title="For you", page="/for-you", papers=[p.paper for p in picks]
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


# -- public collections --------------------------------------------------------------------------
@router.get("/collections/{collection_id}", response_class=HTMLResponse)
def public_collection(request: Request, collection_id: int) -> Response:
    col, entries = library.public_collection(request.app.state.db, collection_id)
    return render(request, "collection.html", {"collection": col, "entries": entries})


@router.get("/collections/{collection_id}/export.bib")
def public_collection_bibtex(request: Request, collection_id: int) -> Response:
    _col, entries = library.public_collection(request.app.state.db, collection_id)
    return Response(library.to_bibtex(entries), media_type="application/x-bibtex; charset=utf-8")


@router.get("/collections/{collection_id}/feed.atom")
def public_collection_feed(request: Request, collection_id: int) -> Response:
    db = request.app.state.db
    col, entries = library.public_collection(db, collection_id)
    papers = library.papers_of(db, entries)
    return render_feed(
        request, "atom", title=col.name, page=f"/collections/{col.id}", papers=papers
    )
