"""Recorded remote responses served through httpx.MockTransport, and a fake clock to time them."""

from __future__ import annotations

from pathlib import Path

import httpx

from paperfeed.sources.http import PoliteClient

RECORDED = Path(__file__).parent / "fixtures" / "sources"


def recorded(name: str) -> bytes:
    """The bytes of one recorded response."""
    return (RECORDED / name).read_bytes()


class FakeClock:
    """Monotonic time that only moves when the client sleeps; remembers every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Recorder:
    """A transport that answers from a list of (status, body, headers) and logs each request."""

    def __init__(self, *responses, clock: FakeClock | None = None) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []
        self.clock = clock

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.clock is not None:
            self.times.append(self.clock.now)
        if not self.responses:
            raise AssertionError(f"unexpected request {request.url}")
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body, headers = (
            (answer + ({},))[:3] if isinstance(answer, tuple) else (200, answer, {})
        )
        return httpx.Response(status, content=body, headers=headers)


def polite_client(recorder: Recorder, clock: FakeClock, **kwargs) -> PoliteClient:
    """A PoliteClient on the recorder, with a fake clock; arXiv's 3-second spacing by default."""
    options = dict(
        user_agent="paperfeed-test/1.0 (mailto:test@example.org)",
        min_interval=3.0,
        timeout=5.0,
        retries=3,
    )
    options.update(kwargs)
    return PoliteClient(
        **options, transport=httpx.MockTransport(recorder), sleep=clock.sleep, clock=clock
    )
