"""Security headers: the Content-Security-Policy and its companions, on every response.

Scripts come only from this site (no inline script, no handler attribute, no CDN), so a
hostile value that slipped into a page still could not run; the site refuses to be framed and
never sends its URLs (which may carry digest tokens) to other sites as a referrer.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_NAMES = {name for name, _ in HEADERS}


class SecurityHeaders:
    """ASGI middleware: adds HEADERS to every HTTP response (a route's own value is replaced)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
                message = {**message, "headers": headers + HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)
