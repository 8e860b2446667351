"""Request telemetry: a request id per request, one access log line, latency metrics, /metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from paperfeed import logs, metrics
from paperfeed.web.guards import metrics_access

REQUEST_ID_HEADER = "x-request-id"
# A proxy's id is kept when it looks like one; anything else could forge or flood the logs.
_GOOD_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

access_log = logging.getLogger("paperfeed.access")
router = APIRouter()


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_access)])
def prometheus() -> Response:
    """Prometheus metrics of every worker: opt-in, and token-protected with metrics_token."""
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)


def route_template(scope) -> str:
    """The route a request matched, as written (/papers/{arxiv_id:path}), to bound label values."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestTelemetry:
    """ASGI middleware: accepts or makes an X-Request-ID, echoes it, logs and times the request
    (the time also goes back in a Server-Timing header)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER.encode())
        rid = given if given and _GOOD_ID.match(given) else uuid.uuid4().hex
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_with_id(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != REQUEST_ID_HEADER.encode()
                ]
                headers.append((REQUEST_ID_HEADER.encode(), rid.encode()))
                # Time in the app, for dev tools and the benchmarks.
                elapsed = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={elapsed:.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            metrics.request_seconds.labels(
                method=scope["method"], route=route, status=str(status)
            ).observe(seconds)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %d %.1f ms",
                    scope["method"],
                    scope["path"],
                    status,
                    seconds * 1000,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "client": (scope.get("client") or ("", 0))[0],
                    },
                )
            logs.request_id.reset(token)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None
