"""Community pages: submitting a paper, commenting, and moderation."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed import comments, limits, submissions
from paperfeed.errors import Conflict, InvalidInput, NotFound
from paperfeed.papers import set_hidden
from paperfeed.sources.http import PoliteClient
from paperfeed.web import auth
from paperfeed.web.render import render

router = APIRouter(include_in_schema=False)


def _back_to(paper_id: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/papers/{paper_id}{anchor}", status_code=303)


@router.get("/submit", response_class=HTMLResponse)
def submit_page(request: Request) -> HTMLResponse:
    auth.require_user(request)
    return render(request, "submit.html", {})


@router.post("/submit", response_class=HTMLResponse)
def submit(request: Request, ref: str = Form(""), csrf_token: str = Form("")) -> Response:
    auth.check_csrf(request, csrf_token)
    user = auth.require_user(request)
    settings, db = request.app.state.settings, request.app.state.db
    limits.hit(db, settings, "submit", f"user:{user.id}")
    try:
        with PoliteClient.from_settings(settings) as client:
            paper = submissions.submit(db, settings, user=user, ref=ref, client=client)
    except (InvalidInput, Conflict, NotFound) as exc:
        status = 409 if isinstance(exc, Conflict) else 400
        return render(request, "submit.html", {"error": str(exc), "ref": ref}, status=status)
    return RedirectResponse(f"/papers/{paper.arxiv_id}", status_code=303)


@router.post("/papers/{arxiv_id:path}/comments")
def post_comment(
    request: Request,
    arxiv_id: str,
    body: str = Form(""),
    parent_id: int | None = Form(None),
    csrf_token: str = Form(""),
) -> Response:
    auth.check_csrf(request, csrf_token)
    user = auth.require_user(request)
    settings, db = request.app.state.settings, request.app.state.db
    limits.hit(db, settings, "comment", f"user:{user.id}")
    comment = comments.add(db, user=user, arxiv_id=arxiv_id, body=body, parent_id=parent_id)
    return _back_to(comment.arxiv_id, f"#c{comment.id}")


@router.post("/comments/{comment_id}/edit")
def edit_comment(
    request: Request, comment_id: int, body: str = Form(""), csrf_token: str = Form("")
) -> Response:
    auth.check_csrf(request, csrf_token)
    user = auth.require_user(request)
    comment = comments.edit(
        request.app.state.db,
        request.app.state.settings,
        user=user,
        comment_id=comment_id,
        body=body,
    )
    return _back_to(comment.arxiv_id, f"#c{comment.id}")


@router.post("/comments/{comment_id}/delete")
def delete_comment(request: Request, comment_id: int, csrf_token: str = Form("")) -> Response:
    auth.check_csrf(request, csrf_token)
    user = auth.require_user(request)
    db = request.app.state.db
    arxiv_id = comments.paper_of(db, comment_id)
    comments.delete(db, user=user, comment_id=comment_id)
    return _back_to(arxiv_id)


@router.post("/comments/{comment_id}/report")
def report_comment(
    request: Request, comment_id: int, reason: str = Form(""), csrf_token: str = Form("")
) -> Response:
    auth.check_csrf(request, csrf_token)
    user = auth.require_user(request)
    db = request.app.state.db
    comments.report(db, user=user, comment_id=comment_id, reason=reason)
    return render(
        request,
        "message.html",
        {"title": "Thanks for the report", "text": "An administrator will look at it."},
    )


@router.post("/comments/{comment_id}/hide")
def hide_comment(
    request: Request, comment_id: int, hidden: str = Form("1"), csrf_token: str = Form("")
) -> Response:
    auth.check_csrf(request, csrf_token)
    user = auth.require_user(request)
    db = request.app.state.db
    comments.set_hidden(db, user=user, comment_id=comment_id, hidden=hidden == "1")
    return _back_to(comments.paper_of(db, comment_id))


@router.post("/papers/{arxiv_id:path}/hide")
def hide_paper(
    request: Request, arxiv_id: str, hidden: str = Form("1"), csrf_token: str = Form("")
) -> Response:
    auth.check_csrf(request, csrf_token)
    user = auth.require_user(request)
    set_hidden(request.app.state.db, user=user, arxiv_id=arxiv_id, hidden=hidden == "1")
    return _back_to(arxiv_id)


@router.get("/admin/reports", response_class=HTMLResponse)
def reports_page(request: Request) -> HTMLResponse:
    """Reported comments, most reported first, with the moderation buttons."""
    user = auth.require_user(request)
    items = comments.reported(request.app.state.db, user=user)
    return render(request, "reports.html", {"items": items})
