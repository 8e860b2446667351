"""Who is asking: the session cookie or API token behind a request, and the CSRF checks."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response

from paperfeed import accounts
from paperfeed.errors import NotAllowed
from paperfeed.models import Session, User

SESSION_COOKIE = "pf_session"
CSRF_COOKIE = "pf_csrf"  # a visitor's token, before there is a session to hold one
CSRF_HEADER = "x-csrf-token"


class LoginRequired(NotAllowed):
    """The request needs a signed-in user and has none."""


def session(request: Request) -> Session | None:
    """The live session of this request's cookie (looked up once per request)."""
    if not hasattr(request.state, "session"):
        cookie = request.cookies.get(SESSION_COOKIE)
        request.state.session = accounts.session_for(request.app.state.db, cookie)
    return request.state.session


def user(request: Request) -> User | None:
    """The signed-in user, if any."""
    s = session(request)
    return s.user if s else None


def require_user(request: Request) -> User:
    """The signed-in user; LoginRequired otherwise."""
    found = user(request)
    if found is None:
        raise LoginRequired("log in first")
    return found


def api_user(request: Request) -> User:
    """The owner of the request's `Authorization: Bearer pf_...` token; LoginRequired otherwise."""
    if not hasattr(request.state, "api_user"):
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        found = None
        if scheme.lower() == "bearer" and token:
            found = accounts.user_for_api_token(request.app.state.db, token.strip())
        request.state.api_user = found
    found = request.state.api_user
    if found is None:
        raise LoginRequired("this endpoint needs a personal API token: Authorization: Bearer pf_…")
    return found


def csrf_token(request: Request) -> str:
    """The token this request's forms must carry: the session's, else the visitor cookie's."""
    s = session(request)
    if s is not None:
        return s.csrf_token
    token = request.cookies.get(CSRF_COOKIE)
    if not token or len(token) > 100:
        token = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(32)
        request.state.new_csrf = token  # set_cookies() sends it with the response
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse cross-site requests and requests without this browser's CSRF token."""
    site = request.headers.get("sec-fetch-site")
    if site and site not in ("same-origin", "none"):
        raise NotAllowed("cross-site request refused")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = request.app.state.settings.base_url
        here = f"{request.url.scheme}://{request.url.netloc}"
        if origin.rstrip("/") not in (here, _origin(expected)):
            raise NotAllowed("cross-site request refused")
    elif origin == "null":
        raise NotAllowed("cross-site request refused")
    token = submitted or request.headers.get(CSRF_HEADER)
    s = session(request)
    expected_token = s.csrf_token if s else request.cookies.get(CSRF_COOKIE)
    if not token or not expected_token or not secrets.compare_digest(token, expected_token):
        raise NotAllowed("the form has expired or did not come from this site: reload and retry")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def secure_cookies(request: Request) -> bool:
    """Whether cookies get the Secure flag: yes whenever the site is served over HTTPS."""
    return request.app.state.settings.base_url.startswith("https://") or (
        request.url.scheme == "https"
    )


def set_session_cookie(request: Request, response: Response, cookie: str, max_age: int) -> None:
    """Send the session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    """Forget the session cookie in the browser."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(request)
    )


def set_cookies(request: Request, response: Response) -> None:
    """Send a visitor CSRF cookie created while rendering this response, if any."""
    token = getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request),
            path="/",
        )
