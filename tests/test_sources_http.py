"""The polite client: request spacing, User-Agent, retries honouring Retry-After, giving up."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from paperfeed.errors import SourceUnavailable
from paperfeed.sources.http import retry_after_seconds

from .recorded import FakeClock, Recorder, polite_client


def test_requests_are_spaced_three_seconds_and_identify_the_client():
    clock = FakeClock()
    rec = Recorder(b"a", b"b", b"c", clock=clock)
    with polite_client(rec, clock) as client:
        for _ in range(3):
            client.get("https://export.arxiv.org/api/query")
    gaps = [b - a for a, b in zip(rec.times, rec.times[1:], strict=False)]
    assert gaps == [3.0, 3.0]
    assert all(r.headers["User-Agent"].startswith("paperfeed-test/1.0") for r in rec.requests)


def test_no_wait_when_enough_time_has_passed():
    clock = FakeClock()
    rec = Recorder(b"a", b"b", clock=clock)
    with polite_client(rec, clock) as client:
        client.get("https://x.test/")
        clock.now += 10  # the caller was busy parsing for 10 s
        client.get("https://x.test/")
    assert clock.sleeps == []


def test_503_with_retry_after_is_honoured_then_succeeds():
    clock = FakeClock()
    rec = Recorder((503, b"busy", {"Retry-After": "20"}), b"ok", clock=clock)
    with polite_client(rec, clock) as client:
        assert client.get("https://x.test/").content == b"ok"
    assert rec.times[1] - rec.times[0] == pytest.approx(20.0)


def test_429_with_http_date_retry_after():
    clock = FakeClock()
    later = email.utils.formatdate(usegmt=True)  # "now": no extra wait beyond the spacing
    rec = Recorder((429, b"slow down", {"Retry-After": later}), b"ok", clock=clock)
    with polite_client(rec, clock) as client:
        assert client.get("https://x.test/").content == b"ok"
    assert len(rec.requests) == 2


def test_backoff_grows_without_retry_after_and_gives_up_with_the_reason():
    clock = FakeClock()
    rec = Recorder(*[(502, b"bad gateway")] * 4, clock=clock)
    expected = r"after 4 attempts \(HTTP 502\)"
    with (
        polite_client(rec, clock, retries=3) as client,
        pytest.raises(SourceUnavailable, match=expected),
    ):
        client.get("https://x.test/")
    gaps = [b - a for a, b in zip(rec.times, rec.times[1:], strict=False)]
    assert len(rec.requests) == 4
    assert gaps == sorted(gaps) and gaps[0] >= 3.0 and gaps[-1] >= 8.0  # exponential backoff


def test_timeouts_and_dropped_connections_are_retried():
    clock = FakeClock()
    rec = Recorder(httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"), b"ok",
                   clock=clock)  # fmt: skip
    with polite_client(rec, clock) as client:
        assert client.get("https://x.test/").content == b"ok"


def test_client_errors_are_not_retried():
    clock = FakeClock()
    rec = Recorder((400, b"bad query"), clock=clock)
    with polite_client(rec, clock) as client, pytest.raises(SourceUnavailable, match="HTTP 400"):
        client.get("https://x.test/")
    assert len(rec.requests) == 1


def test_absurd_retry_after_means_the_source_is_down():
    clock = FakeClock()
    rec = Recorder((503, b"", {"Retry-After": "86400"}), clock=clock)
    with polite_client(rec, clock) as client, pytest.raises(SourceUnavailable, match="86400"):
        client.get("https://x.test/")


@pytest.mark.parametrize(
    "value, expected",
    [("120", 120.0), ("", None), (None, None), ("soon", None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)  # fmt: skip
def test_retry_after_parsing(value, expected):
    assert retry_after_seconds(value) == expected
