"""Community pages: submitting a paper, commenting, and moderation."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed import comments, submissions
from paperfeed.errors import Conflict, InvalidInput, NotFound, SourceUnavailable
from paperfeed.papers import set_hidden
from paperfeed.sources.http import PoliteClient
from paperfeed.web.guards import CSRF, DB, Config, SignedIn, by_reader, limit
from paperfeed.web.render import render

router = APIRouter(include_in_schema=False)


def _back_to(paper_id: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/papers/{paper_id}{anchor}", status_code=303)


@router.get("/submit", response_class=HTMLResponse)
def submit_page(request: Request, _reader: SignedIn) -> HTMLResponse:
    return render(request, "submit.html", {})


@router.post(
    "/submit", response_class=HTMLResponse, dependencies=[CSRF, limit("submit", key=by_reader)]
)
def submit(
    request: Request, user: SignedIn, settings: Config, db: DB, ref: str = Form("")
) -> Response:
    try:
        # The reader is waiting: one budget of http_timeout for the whole fetch, retries included.
        with PoliteClient.from_settings(settings, deadline=settings.http_timeout) as client:
            paper = submissions.submit(db, settings, user=user, ref=ref, client=client)
    except (InvalidInput, Conflict, NotFound) as exc:
        status = 409 if isinstance(exc, Conflict) else 400
        return render(request, "submit.html", {"error": str(exc), "ref": ref}, status=status)
    except SourceUnavailable:
        error = (
            f"arXiv did not answer within {settings.http_timeout:g} s, so the paper could not "
            "be fetched. Try again in a few minutes."
        )
        response = render(request, "submit.html", {"error": error, "ref": ref}, status=503)
        response.headers["Retry-After"] = "60"
        return response
    return RedirectResponse(f"/papers/{paper.arxiv_id}", status_code=303)


@router.post(
    "/papers/{arxiv_id:path}/comments", dependencies=[CSRF, limit("comment", key=by_reader)]
)
def post_comment(
    arxiv_id: str,
    user: SignedIn,
    db: DB,
    body: str = Form(""),
    parent_id: int | None = Form(None),
) -> Response:
    comment = comments.add(db, user=user, arxiv_id=arxiv_id, body=body, parent_id=parent_id)
    return _back_to(comment.arxiv_id, f"#c{comment.id}")


@router.post("/comments/{comment_id}/edit", dependencies=[CSRF, limit("write", key=by_reader)])
def edit_comment(
    comment_id: int, user: SignedIn, db: DB, settings: Config, body: str = Form("")
) -> Response:
    comment = comments.edit(
        db,
        settings,
        user=user,
        comment_id=comment_id,
        body=body,
    )
    return _back_to(comment.arxiv_id, f"#c{comment.id}")


@router.post("/comments/{comment_id}/delete", dependencies=[CSRF, limit("write", key=by_reader)])
def delete_comment(comment_id: int, user: SignedIn, db: DB) -> Response:
    arxiv_id = comments.paper_of(db, comment_id)
    comments.delete(db, user=user, comment_id=comment_id)
    return _back_to(arxiv_id)


@router.post("/comments/{comment_id}/report", dependencies=[CSRF, limit("write", key=by_reader)])
def report_comment(
    request: Request, comment_id: int, user: SignedIn, db: DB, reason: str = Form("")
) -> Response:
    comments.report(db, user=user, comment_id=comment_id, reason=reason)
    return render(
        request,
        "message.html",
        {"title": "Thanks for the report", "text": "An administrator will look at it."},
    )


@router.post("/comments/{comment_id}/hide", dependencies=[CSRF, limit("write", key=by_reader)])
def hide_comment(comment_id: int, user: SignedIn, db: DB, hidden: str = Form("1")) -> Response:
    comments.set_hidden(db, user=user, comment_id=comment_id, hidden=hidden == "1")
    return _back_to(comments.paper_of(db, comment_id))


@router.post("/papers/{arxiv_id:path}/hide", dependencies=[CSRF, limit("write", key=by_reader)])
def hide_paper(arxiv_id: str, user: SignedIn, db: DB, hidden: str = Form("1")) -> Response:
    set_hidden(db, user=user, arxiv_id=arxiv_id, hidden=hidden == "1")
    return _back_to(arxiv_id)


@router.get("/admin/reports", response_class=HTMLResponse)
def reports_page(request: Request, user: SignedIn, db: DB) -> HTMLResponse:
    """Reported comments, most reported first, with the moderation buttons."""
    items = comments.reported(db, user=user)
    return render(request, "reports.html", {"items": items})
