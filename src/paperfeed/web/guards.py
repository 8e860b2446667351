"""Guards: what a route needs before its handler runs, declared on the route as FastAPI
dependencies so no handler can forget one.

    @router.post("/things/{id}/star", dependencies=[CSRF, limit("write", key=by_reader)])
    def star(id: int, reader: SignedIn, db: DB) -> Response: ...

- `CSRF`: the form field `csrf_token` or the `X-CSRF-Token` header must match this browser's
  token, and the request must not come from another site.
- `Reader` (optional) and `SignedIn` (required; 401, or a redirect to the login page for a
  GET) give the session's user; `TokenReader` the owner of an `Authorization: Bearer` token.
- `limit(action, key=...)` counts one attempt against the `limit_<action>` setting for each
  key (`by_ip`, `by_reader`, `by_token_reader`, `by_email`); 429 with Retry-After past it.
- `DB` and `Config` are the app's Database and Settings.

tests/test_guards.py walks every route and fails when a state-changing one lacks a guard.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from paperfeed import addresses, limits
from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import User
from paperfeed.store import Database
from paperfeed.web import auth


def get_db(request: Request) -> Database:
    """The app's database."""
    return request.app.state.db


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


DB = Annotated[Database, Depends(get_db)]
Config = Annotated[Settings, Depends(get_settings)]


# --- who is asking ---------------------------------------------------------------------------


def current_reader(request: Request) -> User | None:
    """The signed-in reader, or None for a visitor."""
    return auth.user(request)


def signed_in_reader(request: Request) -> User:
    """The signed-in reader; LoginRequired (401, or a login redirect for a GET) otherwise."""
    return auth.require_user(request)


def token_reader(request: Request) -> User:
    """The owner of the request's personal API token; LoginRequired (401) otherwise."""
    return auth.api_user(request)


Reader = Annotated[User | None, Depends(current_reader)]
SignedIn = Annotated[User, Depends(signed_in_reader)]
TokenReader = Annotated[User, Depends(token_reader)]


# --- cross-site requests ---------------------------------------------------------------------


async def csrf_guard(
    request: Request, csrf_token: Annotated[str | None, Form(include_in_schema=False)] = None
) -> None:
    """Refuse (403) a cross-site request or one without this browser's CSRF token."""
    auth.check_csrf(request, csrf_token)


CSRF = Depends(csrf_guard)


# --- rate limits -----------------------------------------------------------------------------

Key = Callable[[Request], Awaitable[str | None]]


async def by_ip(request: Request) -> str:
    """The client's address (the proxy's, unless the server trusts forwarded headers)."""
    return f"ip:{request.client.host if request.client else 'unknown'}"


async def by_reader(request: Request) -> str:
    """The signed-in reader (LoginRequired for a visitor, before anything is counted)."""
    user = await run_in_threadpool(auth.require_user, request)
    return f"user:{user.id}"


async def by_token_reader(request: Request) -> str:
    """The owner of the API token (LoginRequired without a valid one, before counting)."""
    user = await run_in_threadpool(auth.api_user, request)
    return f"user:{user.id}"


async def by_email(request: Request) -> str | None:
    """The `email` of the form or JSON body, normalised and hashed as every address limit is
    keyed; None when it is no address (the route's own validation answers)."""
    email = await _body_field(request, "email")
    if not email:
        return None
    try:
        return addresses.limit_key(addresses.normalize(email))
    except InvalidInput:
        return None


async def _body_field(request: Request, name: str) -> str | None:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(name)
    elif "json" in content_type:
        try:
            body = await request.json()
        except ValueError:
            return None  # the route's own validation answers 400
        value = body.get(name) if isinstance(body, dict) else None
    else:
        value = None
    return value if isinstance(value, str) else None


def limit(action: str, *, key: Key | tuple[Key, ...] = by_ip) -> Any:
    """A dependency counting one `action` attempt per key; 429 past `limit_<action>`."""
    keys = key if isinstance(key, tuple) else (key,)
    if action not in limits.ACTIONS:
        raise ValueError(f"unknown rate-limited action {action!r}: add it to limits.ACTIONS")

    async def rate_limit(request: Request) -> None:
        who = [w for w in [await k(request) for k in keys] if w]
        await run_in_threadpool(
            limits.hit, request.app.state.db, request.app.state.settings, action, *who
        )

    # A function attribute mypy cannot declare; read by the route walk in tests/test_guards.py.
    rate_limit.action = action  # type: ignore[attr-defined]
    rate_limit.__name__ = f"limit_{action}"
    return Depends(rate_limit)


# --- operators ---------------------------------------------------------------------------------


def metrics_access(request: Request) -> None:
    """/metrics is opt-in (`metrics_enabled`, else 404) and, with `metrics_token`, needs it as
    a bearer token (else 401)."""
    settings: Settings = request.app.state.settings
    if not settings.metrics_enabled:
        raise NotFound("There is no page at this address.")
    if settings.metrics_token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            given.strip().encode(), settings.metrics_token.encode()
        ):
            raise HTTPException(
                401, "metrics need the metrics_token", headers={"WWW-Authenticate": "Bearer"}
            )


def guards_of(dependant) -> tuple[set[Callable], set[str]]:
    """(the dependency callables, the rate-limited actions) a route's dependant runs."""
    calls: set[Callable] = set()
    actions: set[str] = set()
    stack = list(dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is not None:
            calls.add(dep.call)
            if hasattr(dep.call, "action"):
                actions.add(dep.call.action)
        stack.extend(dep.dependencies)
    return calls, actions
