"""The polite client: request spacing, User-Agent, retries honouring Retry-After, giving up."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from paperfeed.config import Settings
from paperfeed.errors import SourceUnavailable
from paperfeed.sources.http import MAX_RETRY_AFTER, PoliteClient, retry_after_seconds

from .recorded import FakeClock, Recorder, polite_client


def test_requests_are_spaced_three_seconds_and_identify_the_client():
    """Three GETs in a row start 3 s apart on the fake clock and carry our User-Agent."""
    clock = FakeClock()
    rec = Recorder(b"a", b"b", b"c", clock=clock)
    with polite_client(rec, clock) as client:
        for _ in range(3):
            client.get("https://export.arxiv.org/api/query")
    gaps = [b - a for a, b in zip(rec.times, rec.times[1:], strict=False)]
    assert gaps == [3.0, 3.0]
    assert all(r.headers["User-Agent"].startswith("paperfeed-test/1.0") for r in rec.requests)


def test_no_wait_when_enough_time_has_passed():
    """Time already spent elsewhere counts towards the spacing: no sleep is added."""
    clock = FakeClock()
    rec = Recorder(b"a", b"b", clock=clock)
    with polite_client(rec, clock) as client:
        client.get("https://x.test/")
        clock.now += 10  # the caller was busy parsing for 10 s
        client.get("https://x.test/")
    assert clock.sleeps == []


def test_503_with_retry_after_is_honoured_then_succeeds():
    """A 503 with Retry-After: 20 is retried after 20 s (not the shorter backoff)."""
    clock = FakeClock()
    rec = Recorder((503, b"busy", {"Retry-After": "20"}), b"ok", clock=clock)
    with polite_client(rec, clock) as client:
        assert client.get("https://x.test/").content == b"ok"
    assert rec.times[1] - rec.times[0] == pytest.approx(20.0)


def test_429_with_http_date_retry_after():
    """A 429 whose Retry-After is an HTTP-date of now is retried once the spacing allows."""
    clock = FakeClock()
    later = email.utils.formatdate(usegmt=True)  # "now": no extra wait beyond the spacing
    rec = Recorder((429, b"slow down", {"Retry-After": later}), b"ok", clock=clock)
    with polite_client(rec, clock) as client:
        assert client.get("https://x.test/").content == b"ok"
    assert len(rec.requests) == 2


def test_backoff_grows_without_retry_after_and_gives_up_with_the_reason():
    """Without Retry-After, waits grow exponentially; after retries+1 502s the status is named."""
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
    """A read timeout and a dropped connection are retried; the third answer is returned."""
    clock = FakeClock()
    rec = Recorder(
        httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"), b"ok", clock=clock
    )
    with polite_client(rec, clock) as client:
        assert client.get("https://x.test/").content == b"ok"


def test_client_errors_are_not_retried():
    """A 400 means our request is wrong: it fails at once instead of being retried."""
    clock = FakeClock()
    rec = Recorder((400, b"bad query"), clock=clock)
    with polite_client(rec, clock) as client, pytest.raises(SourceUnavailable, match="HTTP 400"):
        client.get("https://x.test/")
    assert len(rec.requests) == 1


def test_absurd_retry_after_is_capped_and_retries_still_bounded():
    """A server asking for a day's wait is waited on for at most MAX_RETRY_AFTER per attempt."""
    clock = FakeClock()
    rec = Recorder(*[(503, b"", {"Retry-After": "86400"})] * 3, clock=clock)
    with (
        polite_client(rec, clock, retries=2) as client,
        pytest.raises(SourceUnavailable, match=r"after 3 attempts \(HTTP 503, Retry-After 86400 s"),
    ):
        client.get("https://x.test/")
    assert clock.sleeps == [MAX_RETRY_AFTER, MAX_RETRY_AFTER]


def test_retry_after_as_a_future_http_date_is_waited_for():
    """Retry-After given as an HTTP-date 40 s ahead makes the client wait about 40 s."""
    clock = FakeClock()
    later = email.utils.formatdate(time.time() + 40, usegmt=True)
    rec = Recorder((503, b"", {"Retry-After": later}), b"ok", clock=clock)
    with polite_client(rec, clock) as client:
        assert client.get("https://x.test/").content == b"ok"
    assert 37.0 <= rec.times[1] - rec.times[0] <= 41.0  # whole seconds in the header


def test_timeouts_every_time_give_up_naming_the_timeout():
    """A source that never answers in time fails after retries+1 tries, saying it timed out."""
    clock = FakeClock()
    rec = Recorder(*[httpx.ConnectTimeout("timed out")] * 3, clock=clock)
    with (
        polite_client(rec, clock, retries=2) as client,
        pytest.raises(SourceUnavailable, match=r"after 3 attempts \(ConnectTimeout"),
    ):
        client.get("https://x.test/")
    assert len(rec.requests) == 3


def test_not_found_is_not_retried_and_names_the_status():
    """A 404 is a wrong URL, not a busy server: one request, and the status in the message."""
    clock = FakeClock()
    rec = Recorder((404, b"no such endpoint"), clock=clock)
    with polite_client(rec, clock) as client, pytest.raises(SourceUnavailable, match="HTTP 404"):
        client.get("https://x.test/api")
    assert len(rec.requests) == 1


def test_from_settings_uses_the_configured_knobs():
    """User agent, spacing and retry count come from Settings."""
    clock = FakeClock()
    rec = Recorder((500, b""), (500, b""), clock=clock)
    settings = Settings(
        user_agent="paperfeed/9 (mailto:ops@example.org)",
        arxiv_min_interval=5.0,
        http_retries=1,
        http_timeout=7.0,
    )
    client = PoliteClient.from_settings(
        settings, transport=httpx.MockTransport(rec), sleep=clock.sleep, clock=clock
    )
    with client, pytest.raises(SourceUnavailable, match="after 2 attempts"):
        client.get("https://x.test/")
    assert rec.requests[0].headers["User-Agent"] == "paperfeed/9 (mailto:ops@example.org)"
    assert rec.requests[0].extensions["timeout"]["read"] == 7.0
    assert rec.times[1] - rec.times[0] >= 5.0


@pytest.mark.parametrize(
    "value, expected",
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("-5", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:29:30 GMT", 90.0),
    ],
)
def test_retry_after_parsing(value, expected):
    """Delta-seconds and HTTP-dates (relative to `now`); junk and dates in the past mean none/0."""
    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()
    assert retry_after_seconds(value, now=now) == expected
