"""A local stand-in for api.github.com's GET /repos/{owner}/{repo}: the recorded answer with
each repository's star count, ETags (a 304 is free), the X-RateLimit-* headers and a 403 when
the allowance is spent, as GitHub documents. Used by the tests and bench/github_stars.py."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RECORDED = Path(__file__).parent / "fixtures" / "sources" / "github_repo.json"
LIMIT_MESSAGE = {
    "message": "API rate limit exceeded for installation ID 1.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
    "status": "403",
}


class FakeGitHub:
    """Star counts by "owner/name" (lower-case); `limit` requests per `window` seconds."""

    def __init__(
        self,
        stars: dict[str, int],
        *,
        limit: int = 5000,
        window: float = 3600.0,
        clock: Callable[[], float] = time.time,
        retry_after_once: bool = False,
    ) -> None:
        self.stars = dict(stars)
        self.limit = limit
        self.window = window
        self.clock = clock
        self.retry_after_once = retry_after_once
        self.template = json.loads(RECORDED.read_text())
        self.window_start = clock()
        self.used = 0
        self.log: list[tuple[str, int]] = []  # (path, status)
        self.authorizations: set[str] = set()
        self.lock = threading.Lock()

    def answer(self, path: str, headers) -> tuple[int, dict, bytes]:
        with self.lock:
            now = self.clock()
            if now >= self.window_start + self.window:
                self.window_start, self.used = now, 0
            reset = int(self.window_start + self.window) + 1
            self.authorizations.add(headers.get("Authorization") or "")
            if self.retry_after_once:
                self.retry_after_once = False
                status, out, body = 429, {"Retry-After": "2"}, b'{"message":"secondary"}'
                self.log.append((path, status))
                return status, out, body
            parts = path.strip("/").split("/")
            if self.used >= self.limit:
                out = self._limits(0, reset)
                self.log.append((path, 403))
                return 403, out, json.dumps(LIMIT_MESSAGE).encode()
            if len(parts) != 3 or parts[0] != "repos":
                self.used += 1
                self.log.append((path, 404))
                return 404, self._limits(self.limit - self.used, reset), b'{"message":"Not Found"}'
            repo = f"{parts[1]}/{parts[2]}".lower()
            if repo not in self.stars:
                self.used += 1
                self.log.append((path, 404))
                return 404, self._limits(self.limit - self.used, reset), b'{"message":"Not Found"}'
            body = dict(self.template)
            body.update(
                name=parts[2],
                full_name=f"{parts[1]}/{parts[2]}",
                stargazers_count=self.stars[repo],
                watchers_count=self.stars[repo],
                watchers=self.stars[repo],
            )
            raw = json.dumps(body).encode()
            etag = 'W/"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
            if headers.get("If-None-Match") == etag:
                # Conditional requests that match do not count against the limit.
                self.log.append((path, 304))
                out = self._limits(self.limit - self.used, reset)
                return 304, {**out, "ETag": etag}, b""
            self.used += 1
            self.log.append((path, 200))
            out = self._limits(self.limit - self.used, reset)
            return 200, {**out, "ETag": etag, "Content-Type": "application/json"}, raw

    def _limits(self, remaining: int, reset: int) -> dict:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Used": str(self.limit - remaining),
            "X-RateLimit-Resource": "core",
        }


@contextmanager
def serve(fake: FakeGitHub):
    """Serve `fake` on a free loopback port until the block ends; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as clients talk to GitHub

        def setup(self):
            super().setup()
            # Headers and body go out in two writes: without this, delayed ACKs add 40 ms each.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self):  # noqa: N802 - http.server's name
            status, headers, body = fake.answer(self.path, self.headers)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
