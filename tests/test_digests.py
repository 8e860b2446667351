"""Email digests end to end: a real SMTP server on loopback, the app's real links, the send log
surviving SMTP faults and a killed sender, and bad input refused without changing anything."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time
import zoneinfo

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from paperfeed import digests, feeds, subscriptions
from paperfeed.errors import InvalidInput
from paperfeed.models import Preferences
from paperfeed.store import papers
from paperfeed.store import subscriptions as sub_store
from paperfeed.web import create_app

from .conftest import make_paper
from .livesite import free_port
from .smtp import Inbox

LISTED = feeds.today() - dt.timedelta(days=1)


class FaultyInbox(Inbox):
    """Keeps what it accepts; can refuse, drop the connection on, or hang on chosen deliveries."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0
        self.faults: dict[int, str] = {}  # delivery number (from 1) -> "451", "550", "drop", "hang"
        self.refuse: dict[str, str] = {}  # address -> reply, for every delivery to it
        self.hanging = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.attempts += 1
        fault = self.faults.get(self.attempts)
        for rcpt in envelope.rcpt_tos:
            if rcpt in self.refuse:
                return self.refuse[rcpt]
        if fault == "drop":
            server.transport.close()  # the connection goes away before any reply
            return "421 gone"
        if fault == "hang":
            self.hanging.set()
            await asyncio.sleep(30)
            return "451 too late"
        if fault:
            return f"{fault} {'temporary' if fault.startswith('4') else 'permanent'} failure"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    inbox, port = FaultyInbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def site(settings, db, smtp):
    inbox, port = smtp
    s = dataclasses.replace(
        settings,
        mail_backend="smtp",
        smtp_port=port,
        digest_search_mode="keyword",
        limit_subscribe="1000/60",
    )
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [
                make_paper(
                    1,
                    upvotes=12,
                    listing_day=LISTED,
                    code_url="https://github.com/org/moe",
                    title="Routing <Experts> & friends",
                ),
                make_paper(
                    2,
                    upvotes=3,
                    listing_day=LISTED,
                    title="Video diffusion models at scale",
                    abstract="We train diffusion models for video generation.",
                    authors=["Grace Hopper"],
                    categories=["cs.CV"],
                    primary_category="cs.CV",
                ),
                make_paper(
                    3,
                    upvotes=0,
                    listing_day=LISTED,
                    title="A quiet paper on diffusion",
                    abstract="Diffusion models for video, quietly.",
                    authors=["Emmy Noether"],
                ),
            ],
        )
    with TestClient(create_app(s, db=db)) as client:
        yield client, inbox, s, db


def csrf(client, path="/digest"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)[1]


def form_subscribe(client, email, **prefs):
    data = {
        "email": email,
        "cadence": "daily",
        "weekday": "0",
        "send_hour": "7",
        "timezone": "UTC",
        "max_papers": "5",
        "categories": "",
        "topics": "",
        "csrf_token": csrf(client),
    }
    data.update(prefs)
    return client.post("/digest/subscribe", data=data)


def confirm_link(inbox, address):
    text = inbox.text(inbox.to(address)[-1])
    return re.search(r"http://testserver(/digest/confirm\?token=\S+)", text)[1]


def when_due(db, address) -> dt.datetime:
    """A time at which this subscriber's daily 07:00 UTC digest is due: two days after
    confirmation, at noon (a re-run minutes later is still in the same period)."""
    with db.connect() as conn:
        sub = sub_store.find_by_email(conn, address)
    return (sub.confirmed_at + dt.timedelta(days=2)).replace(hour=12, minute=0)


def subscribe_confirmed(client, inbox, address, **prefs):
    assert form_subscribe(client, address, **prefs).status_code == 200
    assert client.get(confirm_link(inbox, address)).status_code == 200


def test_double_opt_in_then_a_digest_with_working_links(site):
    client, inbox, settings, db = site
    r = form_subscribe(client, "reader@example.org", topics="diffusion models for video")
    assert r.status_code == 200 and "Check your inbox" in r.text
    assert len(inbox.messages) == 1  # only the confirmation
    assert digests.due(db, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=3)) == []
    landed = client.get(confirm_link(inbox, "reader@example.org"))
    assert landed.status_code == 200 and "Your address is confirmed" in landed.text

    report = digests.send_due(db, settings, now=when_due(db, "reader@example.org"))
    assert (report.due, report.sent) == (1, 1)
    msg = inbox.messages[-1]
    assert msg["To"] == "reader@example.org" and "Daily papers" in msg["Subject"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(
        r"<http://testserver(/digest/unsubscribe\?token=\S+)>", msg["List-Unsubscribe"]
    )[1]
    text, html = inbox.text(msg), msg.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Ada Lovelace, Alan Turing" in body and "12 upvotes" in body
        assert (
            "https://github.com/org/moe" in body and "http://testserver/papers/2511.00001" in body
        )
        assert "We study routing in sparse mixture-of-experts models." in body
    assert "Routing <Experts> & friends" in text  # text is text
    assert "Routing &lt;Experts&gt; &amp; friends" in html and "<script" not in html
    assert 'style="' in html and "<style" not in html  # inline CSS only
    # Trending has 1 and 2 (upvoted); the topic adds the quiet paper once, not 2 again.
    assert html.count('/papers/2511.00002"') == 2 and "A quiet paper on diffusion" in text
    assert text.count("Video diffusion models at scale") == 1

    prefs_link = re.search(r"http://testserver(/digest/preferences\?token=\S+)", text)[1]
    page = client.get(prefs_link)
    assert page.status_code == 200 and "reader@example.org" in page.text and "sent" in page.text
    assert client.get(unsubscribe).status_code == 200  # a GET only asks
    assert digests.due(db, now=when_due(db, "reader@example.org") + dt.timedelta(days=1))
    # The one click of RFC 8058: a POST without cookies, from the mail provider.
    client.cookies.clear()
    r = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and "You are unsubscribed" in r.text
    assert digests.due(db, now=when_due(db, "reader@example.org") + dt.timedelta(days=1)) == []


def test_a_period_is_sent_once_and_the_next_covers_only_new_papers(site):
    client, inbox, settings, db = site
    subscribe_confirmed(client, inbox, "once@example.org", topics="diffusion")
    now = when_due(db, "once@example.org")
    assert digests.send_due(db, settings, now=now).sent == 1
    assert digests.send_due(db, settings, now=now + dt.timedelta(hours=3)).due == 0
    # Next day, nothing new was listed: trending still has news, topics have none.
    digests.send_due(db, settings, now=now + dt.timedelta(days=1))
    second = inbox.text(inbox.to("once@example.org")[-1])
    assert "For your topic" not in second and "Trending" in second


def test_subscribing_again_resends_without_duplicating_and_answers_alike(site):
    client, inbox, _settings, db = site
    answers = [form_subscribe(client, a).text for a in ("twice@example.org", "twice@example.org")]
    subscribe_confirmed(client, inbox, "known@example.org")
    answers.append(form_subscribe(client, "known@example.org").text)
    strip = [re.sub(r"\S+@example\.org", "ADDRESS", a) for a in answers]
    assert strip[0] == strip[1] == strip[2]
    assert len(inbox.to("twice@example.org")) == 2  # the confirmation again
    with db.connect() as conn:
        assert sum(s.email == "twice@example.org" for s in sub_store.listing(conn)) == 1
    # The known address is told it is subscribed, with its links, and nothing changes.
    assert "already subscribed" in inbox.text(inbox.to("known@example.org")[-1])


def due_subscribers(client, inbox, db, prefix, n, faults):
    """n confirmed subscribers and a time their digests are due; the inbox emptied and set to
    fail the chosen deliveries."""
    addresses = [f"{prefix}{i}@example.org" for i in range(n)]
    for a in addresses:
        subscribe_confirmed(client, inbox, a)
    inbox.messages.clear()
    inbox.attempts, inbox.faults = 0, faults
    return addresses, max(when_due(db, a) for a in addresses)


def test_smtp_fails_the_3rd_and_drops_the_7th_then_a_rerun_delivers_exactly_10(site):
    client, inbox, settings, db = site
    addresses, now = due_subscribers(client, inbox, db, "r", 10, {3: "451", 7: "drop"})
    first = digests.send_due(db, settings, now=now)
    assert (first.due, first.sent, first.retry) == (10, 8, 2)
    assert len(inbox.messages) == 8
    # Too early for the back-off: nothing goes out, nothing is lost.
    assert digests.send_due(db, settings, now=now + dt.timedelta(seconds=10)).due == 0
    second = digests.send_due(db, settings, now=now + dt.timedelta(minutes=5))
    assert (second.due, second.sent) == (2, 2)
    assert digests.send_due(db, settings, now=now + dt.timedelta(minutes=30)).due == 0
    assert sorted(m["To"] for m in inbox.messages) == sorted(addresses)  # 10, once each


def test_two_sender_processes_share_a_run_and_send_each_digest_once(site):
    """A run split over two processes (as a big run is by default): tried with a temporary
    refusal on the 4th delivery; the processes' reports add up, progress reaches the total, and
    the retry later completes exactly the 12."""
    client, inbox, settings, db = site
    addresses, now = due_subscribers(client, inbox, db, "w", 12, {4: "451"})
    seen = []
    run = digests.send_due(
        db, settings, now=now, workers=2, progress=lambda done, total: seen.append((done, total))
    )
    assert (run.due, run.sent, run.retry, run.skipped, run.aborted) == (12, 11, 1, 0, None)
    assert seen[-1] == (12, 12) and len(inbox.messages) == 11
    assert digests.send_due(db, settings, now=now + dt.timedelta(seconds=10)).due == 0
    assert digests.send_due(db, settings, now=now + dt.timedelta(minutes=5), workers=2).sent == 1
    assert sorted(m["To"] for m in inbox.messages) == sorted(addresses)  # 12, once each


def test_a_sender_killed_midway_then_rerun_delivers_each_exactly_once(site, database_url):
    client, inbox, settings, db = site
    addresses, now = due_subscribers(client, inbox, db, "k", 10, {5: "hang"})
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": database_url,
        "PAPERFEED_MAIL_BACKEND": "smtp",
        "PAPERFEED_SMTP_PORT": str(settings.smtp_port),
        "PAPERFEED_BASE_URL": "http://testserver",
        "PAPERFEED_DIGEST_SEARCH_MODE": "keyword",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "digest", "send", "--now", now.isoformat()],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        assert inbox.hanging.wait(60), "the sender never reached the 5th digest"
    finally:
        proc.kill()  # dies between claiming the 5th digest and the server's answer
        proc.wait()
    assert len(inbox.messages) == 4
    # A re-run at once leaves the 5th alone (its sender might still be alive)...
    soon = digests.send_due(db, settings, now=now + dt.timedelta(minutes=1))
    assert (soon.sent, len(inbox.messages)) == (5, 9)
    # ...and takes it over once the claim is stale.
    late = digests.send_due(db, settings, now=now + dt.timedelta(minutes=15))
    assert late.sent == 1
    assert sorted(m["To"] for m in inbox.messages) == sorted(addresses)


def test_permanent_refusals_pause_the_subscription_and_say_so(site):
    client, inbox, settings, db = site
    subscribe_confirmed(client, inbox, "gone@example.org")
    inbox.refuse["gone@example.org"] = "550 5.1.1 mailbox unavailable"
    now = when_due(db, "gone@example.org")
    reports = [digests.send_due(db, settings, now=now + dt.timedelta(hours=h)) for h in (0, 1, 2)]
    assert [r.retry for r in reports] == [1, 1, 0] and reports[-1].paused == 1
    with db.connect() as conn:
        sub = sub_store.find_by_email(conn, "gone@example.org")
    assert sub.status == "paused" and "550" in sub.paused_reason
    assert digests.due(db, now=now + dt.timedelta(days=1)) == []
    page = client.get(f"/digest/preferences?token={subscriptions.manage_token(settings, sub)}")
    assert "paused" in page.text and "mailbox unavailable" in page.text


BAD_ADDRESSES = [
    "not-an-address",
    "a@b",
    "a@b.org\r\nBcc: x@evil.org",
    "a@b.org\nSubject: hi",
    "a" * 400 + "@example.org",
]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_bad_addresses_are_refused_and_nothing_is_stored(site, address):
    client, inbox, _settings, db = site
    r = form_subscribe(client, address)
    assert r.status_code == 400 and "email address" in r.text
    with db.connect() as conn:
        assert sub_store.listing(conn) == []
    assert inbox.messages == []


def test_internationalised_domains_are_accepted(site):
    client, inbox, _settings, _db = site
    assert form_subscribe(client, "lea@bücher.example").status_code == 200
    assert inbox.messages[-1]["To"] == "lea@xn--bcher-kva.example"


def test_forged_and_expired_links_get_a_clear_page_and_change_nothing(site):
    client, inbox, settings, db = site
    form_subscribe(client, "wait@example.org")
    with db.connect() as conn:
        sub = sub_store.find_by_email(conn, "wait@example.org")

    class Past(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 4 * 24 * 3600  # older than the 3 days a link works

    old = URLSafeTimedSerializer(
        settings.signing_key, salt="paperfeed-digest-confirm", signer=Past
    ).dumps([sub.id, sub.key])
    forged = URLSafeTimedSerializer("another key", salt="paperfeed-digest-confirm").dumps(
        [sub.id, sub.key]
    )
    manage = subscriptions.manage_token(settings, sub)
    cases = [
        (f"/digest/confirm?token={old}", "expired"),
        (f"/digest/confirm?token={forged}", "not valid"),
        ("/digest/preferences?token=" + manage[:-3] + "AAA", "not valid"),
        ("/digest/unsubscribe?token=x", "not valid"),
    ]
    for path, words in cases:
        r = client.get(path)
        assert r.status_code == 400 and "That link does not work" in r.text and words in r.text
    assert client.post("/digest/unsubscribe?token=" + manage[:-3] + "AAA").status_code == 403
    with db.connect() as conn:
        assert sub_store.find_by_email(conn, "wait@example.org").status == "pending"


def test_a_long_saved_search_and_an_unknown_time_zone_are_refused(site):
    client, inbox, settings, db = site
    subscribe_confirmed(client, inbox, "prefs@example.org", topics="diffusion")
    with db.connect() as conn:
        sub = sub_store.find_by_email(conn, "prefs@example.org")
    token = subscriptions.manage_token(settings, sub)
    base = {
        "token": token,
        "cadence": "weekly",
        "weekday": "4",
        "send_hour": "9",
        "timezone": "Europe/Paris",
        "max_papers": "5",
        "categories": "cs.LG",
        "csrf_token": csrf(client),
    }
    r = client.post("/digest/preferences", data={**base, "topics": "x" * 10_000})
    assert r.status_code == 400 and "at most 300 characters" in r.text and "10,000" in r.text
    r = client.post(
        "/digest/preferences", data={**base, "topics": "ok", "timezone": "Mars/Olympus"}
    )
    assert (
        r.status_code == 400 and "unknown time zone" in r.text and "/api/digest/timezones" in r.text
    )
    with db.connect() as conn:
        assert sub_store.get(conn, sub.id).prefs == sub.prefs  # nothing changed
    r = client.post("/digest/preferences", data={**base, "topics": 'author:"Grace Hopper"'})
    assert r.status_code == 200 and "Preferences saved" in r.text
    with db.connect() as conn:
        saved = sub_store.get(conn, sub.id).prefs
    assert (saved.cadence, saved.weekday, saved.timezone, saved.topics) == (
        "weekly",
        4,
        "Europe/Paris",
        ['author:"Grace Hopper"'],
    )
    assert (
        client.post("/digest/preferences", data={**base, "csrf_token": "forged"}).status_code == 403
    )
    api = client.put(f"/api/digest/preferences?token={token}", json={"timezone": "Nowhere/City"})
    assert api.status_code == 400 and "unknown time zone" in api.json()["error"]["message"]


def test_schedule_follows_the_subscribers_time_zone_and_weekday():
    paris = Preferences(send_hour=8, timezone="Europe/Paris")
    # 06:30 UTC is 07:30 in Paris in winter: today's 08:00 digest is not due, yesterday's is.
    key, at = digests.slot(paris, dt.datetime(2025, 1, 15, 6, 30, tzinfo=dt.UTC))
    assert key == "d:2025-01-14" and at == dt.datetime(2025, 1, 14, 7, 0, tzinfo=dt.UTC)
    key, at = digests.slot(paris, dt.datetime(2025, 7, 15, 6, 30, tzinfo=dt.UTC))  # summer time
    assert key == "d:2025-07-15" and at == dt.datetime(2025, 7, 15, 6, 0, tzinfo=dt.UTC)
    weekly = Preferences(cadence="weekly", weekday=4, send_hour=18, timezone="America/New_York")
    key, at = digests.slot(weekly, dt.datetime(2025, 11, 22, 12, tzinfo=dt.UTC))  # a Saturday
    assert key == "w:2025-W47" and at.astimezone(zoneinfo.ZoneInfo("America/New_York")) == (
        dt.datetime(2025, 11, 21, 18, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    )
    # Across the spring DST change the digest still comes once a day, at 08:00 local.
    days = {
        digests.slot(paris, dt.datetime(2025, 3, 29, 0, tzinfo=dt.UTC) + dt.timedelta(hours=h))[0]
        for h in range(72)
    }
    assert len(days) == 4


def test_preview_page_and_api_show_both_sections(site):
    client, _inbox, _settings, _db = site
    r = client.get("/digest/preview", params={"topics": "diffusion models for video"})
    assert r.status_code == 200 and "Trending" in r.text and "For your topic" in r.text
    assert "A quiet paper on diffusion" in r.text
    api = client.get("/api/digest/preview", params={"topics": "video", "categories": "cs.CV"})
    sections = api.json()["sections"]
    assert [s["title"] for s in sections] == ["Trending", "video"]
    assert [p["arxiv_id"] for p in sections[0]["papers"]] == ["2511.00002"]  # cs.CV only
    bad = client.get("/api/digest/preview", params={"topics": "x" * 10_000})
    assert bad.status_code == 400 and "300" in bad.json()["error"]["message"]


def test_every_page_offers_the_digest(site):
    client, _inbox, _settings, _db = site
    for path in ("/papers", "/trending", "/search?q=diffusion", "/papers/2511.00001"):
        assert 'action="/digest"' in client.get(path).text, path


def test_api_subscribe_is_double_opt_in_and_answers_alike(site):
    client, inbox, _settings, db = site
    answers = [
        client.post("/api/digest/subscribe", json={"email": a, "topics": ["video"]})
        for a in ("api@example.org", "api@example.org")
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json()
    with db.connect() as conn:
        assert sub_store.find_by_email(conn, "api@example.org").status == "pending"
    bad = client.post("/api/digest/subscribe", json={"email": "x@y.org\r\nBcc: z@evil.org"})
    assert bad.status_code == 400
    with pytest.raises(InvalidInput):
        subscriptions.check_topics(["fine", "y" * 301])


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_a_subscribers_topics_feed_parses_and_revalidates(site, fmt):
    import feedparser

    client, inbox, settings, db = site
    subscribe_confirmed(client, inbox, "feeds@example.org", topics="diffusion\nrouting")
    with db.connect() as conn:
        sub = sub_store.find_by_email(conn, "feeds@example.org")
    path = f"/digest/topics.{fmt}?token={subscriptions.manage_token(settings, sub)}"
    r = client.get(path)
    feed = feedparser.parse(r.content)
    assert r.status_code == 200 and feed.bozo == 0, feed.get("bozo_exception")
    assert {e.id for e in feed.entries} == {
        f"https://arxiv.org/abs/2511.0000{i}" for i in (1, 2, 3)
    }
    assert all(e.title and e.link and e.published_parsed for e in feed.entries)
    assert client.get(path, headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    client.put(
        f"/api/digest/preferences?token={subscriptions.manage_token(settings, sub)}",
        json={"topics": ["routing"]},
    )
    changed = client.get(path, headers={"If-None-Match": r.headers["etag"]})
    assert changed.status_code == 200 and len(feedparser.parse(changed.content).entries) == 1
    assert client.get(f"/digest/topics.{fmt}?token=forged").status_code == 403


def test_command_line_dry_run_and_preview(site, database_url):
    from typer.testing import CliRunner

    from paperfeed.cli import app

    client, inbox, settings, db = site
    subscribe_confirmed(client, inbox, "cli@example.org", topics="diffusion")
    env = {
        "PAPERFEED_DATABASE_URL": database_url,
        "PAPERFEED_MAIL_BACKEND": "smtp",
        "PAPERFEED_SMTP_PORT": str(settings.smtp_port),
        "PAPERFEED_DIGEST_SEARCH_MODE": "keyword",
    }
    now = when_due(db, "cli@example.org").isoformat()
    before = len(inbox.messages)
    dry = CliRunner().invoke(app, ["digest", "send", "--dry-run", "--now", now], env=env)
    assert dry.exit_code == 0 and "cli@example.org" in dry.output and "1 digests due" in dry.output
    preview = CliRunner().invoke(app, ["digest", "send", "--to", "boss@example.org"], env=env)
    assert preview.exit_code == 0 and len(inbox.messages) == before + 1
    assert inbox.messages[-1]["Subject"].startswith("[preview]")
    real = CliRunner().invoke(app, ["digest", "send", "--now", now], env=env)
    assert real.exit_code == 0 and "1 sent" in real.output


def test_both_parts_survive_the_wire_byte_for_byte(settings):
    """The parts are quoted-printable encoded by binascii: tried with accents, a dash, an
    equals sign, lines of 500 characters, trailing blanks, a leading dot and a leading "From":
    a mail parser gets back exactly the text and HTML that were rendered."""
    import email
    import email.policy

    from paperfeed import mail

    text = "Héllo — naïve\n" + "long line " * 50 + "\n.dot\nFrom here\ntrailing \t\nend=1\n"
    html = "<p>‘Ünïcode’ &amp; " + "x" * 500 + "</p>\n<p>a=b</p>\n"
    built = mail.build(
        settings, mail.Message(to="a@example.org", subject="Tëst", text=text, html=html)
    )
    raw = built.as_bytes(policy=email.policy.SMTP)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78 and raw.isascii()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["MIME-Version"] == "1.0" and parsed["Subject"] == "Tëst"

    def body(kind):
        return parsed.get_body((kind,)).get_content().replace("\r\n", "\n")

    assert body("plain") == text and body("html") == html
