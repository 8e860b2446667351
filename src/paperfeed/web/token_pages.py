"""API token pages: a reader lists, creates and revokes their personal API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from paperfeed import accounts
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import User
from paperfeed.web.guards import CSRF, DB, SignedIn, by_reader, limit
from paperfeed.web.render import render

router = APIRouter(include_in_schema=False)


def _page(request: Request, user: User, status: int = 200, **context) -> HTMLResponse:
    tokens = accounts.api_tokens(request.app.state.db, user=user)
    return render(request, "tokens.html", {"tokens": tokens, **context}, status=status)


@router.get("/account/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, user: SignedIn) -> HTMLResponse:
    return _page(request, user)


@router.post(
    "/account/tokens",
    response_class=HTMLResponse,
    dependencies=[CSRF, limit("write", key=by_reader)],
)
def create_token(request: Request, user: SignedIn, db: DB, name: str = Form("")):
    try:
        token = accounts.create_api_token(db, user=user, name=name)
    except InvalidInput as exc:
        return _page(request, user, 400, error=str(exc))
    return render(request, "token.html", {"token": token, "name": name})


@router.post(
    "/account/tokens/{token_id}/revoke",
    response_class=HTMLResponse,
    dependencies=[CSRF, limit("write", key=by_reader)],
)
def revoke_token(request: Request, user: SignedIn, db: DB, token_id: str):
    # token_id is parsed here, after the guards: a malformed one is just a token you lack.
    names = {str(t["id"]): t["name"] for t in accounts.api_tokens(db, user=user)}
    if token_id not in names:
        return _page(request, user, 404, error="you have no such token (already revoked?)")
    try:
        accounts.revoke_api_token(db, user=user, token_id=int(token_id))
    except NotFound:
        return _page(request, user, 404, error="you have no such token (already revoked?)")
    return _page(request, user, revoked=names[token_id])
