"""The app factory: builds a FastAPI app from Settings, with no import-time state."""

from __future__ import annotations

import datetime as dt
import gc
import importlib.util
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from paperfeed import __version__, comments, feeds, latex, markup, recommend
from paperfeed.config import Settings
from paperfeed.errors import (
    Conflict,
    DatabaseUnavailable,
    InvalidInput,
    NotAllowed,
    NotFound,
    RateLimited,
)
from paperfeed.sources.links import safe_url
from paperfeed.store import Database
from paperfeed.web import (
    account_pages,
    api,
    auth,
    author_pages,
    cards,
    code_pages,
    community_pages,
    digest_pages,
    library_pages,
    pages,
    syndication,
    telemetry,
    token_pages,
)
from paperfeed.web.cache import Lru, ResponseCache
from paperfeed.web.headers import SecurityHeaders

HERE = Path(__file__).parent
# Swagger UI 5 (OpenAPI 3.1), as the fastapi-offline package ships it: served from here.
_OFFLINE = importlib.util.find_spec("fastapi_offline")
if _OFFLINE is None or _OFFLINE.origin is None:
    raise ImportError("paperfeed needs the fastapi-offline package (its Swagger UI assets)")
SWAGGER_UI = Path(_OFFLINE.origin).parent / "static"
log = logging.getLogger(__name__)


def serve_app() -> FastAPI:
    """The app as `paperfeed serve`'s workers build it: `create_app`; everything made so far
    moved out of the garbage collector's way (a full collection walks every tracked object,
    about 140,000 after the imports, and stalled whichever request set it off for tens of
    milliseconds; frozen objects are never walked); and the personal ranking's word weights
    counted at start-up and on each new listing day in a background thread
    (recommend.warm_words), not in the first request that needs them."""
    app = create_app()
    gc.collect()
    gc.freeze()
    recommend.warm_words(app.state.db)
    return app


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    """A new app on `settings`; refuses (SchemaOutdated) when the database needs migrating."""
    settings = settings or Settings.load()
    db = db or Database(
        settings.database_url,
        statement_timeout=settings.statement_timeout,
        lock_timeout=settings.lock_timeout,
    )
    db.check_schema()

    app = FastAPI(
        title=f"{settings.site_name} API",
        version=__version__,
        description="Daily research papers: listings by day, week and month, one paper, and a "
        "Hugging Face-compatible `daily_papers` endpoint.",
        docs_url=None,  # served below from local files, under the CSP
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
    templates.env.filters["safe_url"] = safe_url
    templates.env.finalize = markup.finalize
    templates.env.filters["math"] = latex.to_html  # LaTeX as MathML, everything else escaped
    templates.env.filters["plaintext"] = latex.to_text
    templates.env.filters["compact"] = _compact
    app.state.templates = templates
    app.state.response_cache = ResponseCache(settings.response_cache_size)
    app.state.cards = Lru(settings.response_cache_size * cards.CARDS_PER_PAGE)
    app.state.lineups = Lru(settings.response_cache_size)

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.mount("/api/docs/assets", StaticFiles(directory=SWAGGER_UI), name="swagger-ui")

    app.include_router(api.router)
    app.include_router(code_pages.api_router)
    app.include_router(code_pages.router)
    app.include_router(pages.router)
    app.include_router(author_pages.router)
    app.include_router(account_pages.router)
    app.include_router(token_pages.router)
    app.include_router(community_pages.router)
    app.include_router(syndication.router)
    app.include_router(digest_pages.router)
    app.include_router(digest_pages.api_router)
    app.include_router(telemetry.router)
    app.include_router(library_pages.router)
    app.include_router(library_pages.api_router)

    app.add_middleware(SecurityHeaders)
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

    @app.exception_handler(DatabaseUnavailable)
    async def database_unavailable(request: Request, exc: DatabaseUnavailable) -> Response:
        log.warning("database %s: %s %s: %s", exc.kind, request.method, request.url.path, exc)
        code = "too_slow" if exc.kind == "timeout" else "database_unavailable"
        response = _error(request, 503, code, str(exc))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(404)
    async def no_route(request: Request, exc: Exception) -> Response:
        return _error(request, 404, "not_found", "There is no page at this address.")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        """Swagger UI for the API, entirely from this server."""
        return templates.TemplateResponse(
            request, "api_docs.html", {"title": app.title, "openapi_url": app.openapi_url}
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        """200 when the database answers with paperfeed's schema and could take a write now;
        503 with Retry-After otherwise (`writes` says why: locked, full, read_only...)."""
        try:
            feeds.catalog_version(db)
        except Exception as exc:  # noqa: BLE001 - whatever the cause, this worker cannot serve
            log.error("health check: the database does not answer: %s", exc)
            return JSONResponse(
                {"status": "unavailable", "database": type(exc).__name__, "writes": "unknown"},
                status_code=503,
                headers={"Retry-After": "10"},
            )
        problem = db.write_failure
        if problem is None:
            try:
                db.check_writable()
            except DatabaseUnavailable as exc:
                problem = exc
        if problem is not None:
            log.error("health check: writes fail: %s", problem)
            return JSONResponse(
                {"status": "unavailable", "database": "ok", "writes": problem.kind},
                status_code=503,
                headers={"Retry-After": str(problem.retry_after)},
            )
        return JSONResponse({"status": "ok", "database": "ok", "writes": "ok"})

    return app


def _error(request: Request, status: int, code: str, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


def _compact(n: int | None) -> str:
    """1234 -> 1.2k, as star counts are shown."""
    if n is None:
        return ""
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def _humandate(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%b %-d, %Y")
