"""The app factory: builds a FastAPI app from Settings, with no import-time state."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from paperfeed import __version__, comments, feeds
from paperfeed.config import Settings
from paperfeed.errors import Conflict, InvalidInput, NotAllowed, NotFound, RateLimited
from paperfeed.store import Database
from paperfeed.store.database import is_timeout
from paperfeed.web import (
    account_pages,
    api,
    auth,
    community_pages,
    digest_pages,
    library_pages,
    pages,
    syndication,
    telemetry,
)
from paperfeed.web.cache import ResponseCache

HERE = Path(__file__).parent
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    """A new app on `settings`; refuses (SchemaOutdated) when the database needs migrating."""
    settings = settings or Settings.load()
    db = db or Database(settings.database_url, statement_timeout=settings.statement_timeout)
    db.check_schema()

    app = FastAPI(
        title=f"{settings.site_name} API",
        version=__version__,
        description="Daily research papers: listings by day, week and month, one paper, and a "
        "Hugging Face-compatible `daily_papers` endpoint.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.db = db
    templates = Jinja2Templates(
        directory=HERE / "templates",
        context_processors=[lambda request: {"current_user": auth.user(request)}],
    )
    templates.env.globals.update(
        site_name=settings.site_name,
        version=__version__,
        csrf=auth.csrf_token,
        reader_marks=library_pages.marks,
        comment_count=comments.count,
    )
    templates.env.filters["humandate"] = _humandate
    app.state.templates = templates
    app.state.response_cache = ResponseCache(settings.response_cache_size)

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(account_pages.router)
    app.include_router(community_pages.router)
    app.include_router(syndication.router)
    app.include_router(digest_pages.router)
    app.include_router(digest_pages.api_router)
    app.include_router(telemetry.router)
    app.include_router(library_pages.router)
    app.include_router(library_pages.api_router)

    app.add_middleware(telemetry.RequestTelemetry)  # outermost: its id covers every log line

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, "not_found", str(exc))

    @app.exception_handler(auth.LoginRequired)
    async def login_required(request: Request, exc: auth.LoginRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return _error(request, 401, "login_required", str(exc))
        if request.method == "GET":
            return account_pages.login_redirect(request)
        return _error(request, 401, "login_required", "Log in first, then try again.")

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> Response:
        return _error(request, 403, "not_allowed", str(exc))

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> Response:
        response = _error(request, 429, "rate_limited", str(exc))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> Response:
        return _error(request, 409, "conflict", str(exc))

    @app.exception_handler(InvalidInput)
    async def invalid(request: Request, exc: InvalidInput) -> Response:
        return _error(request, 400, "invalid_input", str(exc))

    @app.exception_handler(RequestValidationError)
    async def unprocessable(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
        )
        return _error(request, 400, "invalid_input", problems or "invalid request")

    @app.exception_handler(sa.exc.OperationalError)
    async def database_error(request: Request, exc: sa.exc.OperationalError) -> Response:
        if not is_timeout(exc):
            raise exc
        log.warning(
            "cancelled after the statement timeout: %s %s", request.method, request.url.path
        )
        response = _error(
            request,
            503,
            "too_slow",
            "The database took too long to answer: try again, or narrow the "
            "search with words that are less common or a date range.",
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(404)
    async def no_route(request: Request, exc: Exception) -> Response:
        return _error(request, 404, "not_found", "There is no page at this address.")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        """200 when the database answers with paperfeed's schema, 503 otherwise."""
        try:
            feeds.catalog_version(db)
        except Exception as exc:  # noqa: BLE001 - whatever the cause, this worker cannot serve
            log.error("health check: the database does not answer: %s", exc)
            return JSONResponse(
                {"status": "unavailable", "database": type(exc).__name__}, status_code=503
            )
        return JSONResponse({"status": "ok", "database": "ok"})

    return app


def _error(request: Request, status: int, code: str, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


def _humandate(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%b %-d, %Y")
