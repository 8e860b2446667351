"""Rendering a template into a response, with the visitor's CSRF cookie when one was made."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from paperfeed.web import auth


def render(request: Request, template: str, context: dict, *, status: int = 200) -> HTMLResponse:
    """The template rendered for this request (user, CSRF token and site in its context)."""
    response = request.app.state.templates.TemplateResponse(
        request, template, context, status_code=status
    )
    auth.set_cookies(request, response)
    return response
