"""The hostile-input corpus (tests/hostile.py) through every door: ingested from JSON lines and
Hugging Face JSON, then read back from the pages, the API, the feeds, digest mail and the command
line. Nothing may come out executable (no script, handler or javascript: link), XML-illegal (a
feed must parse) or raw on a terminal (no escape or control sequence, Rich markup shown as text).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from urllib.parse import quote

import feedparser
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperfeed import digests, mail
from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.digests import Digest, Section
from paperfeed.ingest import ingest
from paperfeed.models import Preferences, Subscription
from paperfeed.sources.hf_daily import HFDailySource
from paperfeed.sources.jsonl import JsonlSource
from paperfeed.store import papers
from paperfeed.web import create_app

from . import hostile
from .conftest import make_paper
from .smtp import smtp_server

DAY = dt.date(2025, 11, 20)
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
TERMINAL_RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def q(payload: str) -> str:
    """A payload as a query string value; a lone surrogate goes as the bytes a client sends."""
    return quote(payload[:200].encode("utf-8", "surrogatepass"), safe="")


runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})


def test_corpus_size_is_recorded():
    """The size goes into the issue's report; it only ever grows."""
    print(f"hostile corpus: {len(hostile.TEXT)} text payloads, {len(hostile.NUMBERS)} numbers")
    assert hostile.CORPUS_SIZE == len(hostile.TEXT) + len(hostile.NUMBERS) >= 78


# --- what must hold of every output ---------------------------------------------------------


class _Inert(HTMLParser):
    """Collects what in an HTML document could run: scripts other than our own static files,
    event handler attributes, elements that load or redirect, and links to other schemes."""

    LOADERS = {"iframe", "object", "embed", "base", "frame", "frameset", "applet", "svg", "math"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and not (attrs.get("src") or "").startswith(
            ("/static/", "http://testserver/static/")
        ):
            self.problems.append(f"script {attrs}")
        if tag in self.LOADERS or (tag == "meta" and "http-equiv" in attrs):
            self.problems.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"handler {name}={value!r}")
            if name in ("href", "src", "action", "formaction", "xlink:href") and value:
                scheme = re.match(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*):", value)
                if scheme and scheme[1].lower() not in ("http", "https", "mailto"):
                    self.problems.append(f"{name}={value!r}")

    handle_startendtag = handle_starttag


def assert_inert_html(text: str, where: str) -> None:
    parser = _Inert()
    parser.feed(text)
    parser.close()
    assert not parser.problems, (where, parser.problems[:5])
    assert not XML_ILLEGAL.search(text) and "\x1b" not in text, where


def assert_clean_json(value, where: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("code", "project", "githubRepo", "projectPage") and v is not None:
                assert re.match(r"^https?://", v), (where, k, v)
            assert_clean_json(v, where)
    elif isinstance(value, list):
        for v in value:
            assert_clean_json(v, where)
    elif isinstance(value, str):
        assert not XML_ILLEGAL.search(value) and "\x1b" not in value, (where, value[:80])


def assert_valid_feed(body: bytes, where: str) -> None:
    text = body.decode("utf-8")
    assert not XML_ILLEGAL.search(text), where
    root = ET.fromstring(body)  # a strict XML parser: one illegal character and it raises
    feed = feedparser.parse(body)
    assert not feed.bozo, (where, feed.get("bozo_exception"))
    for entry in root.iter("{http://www.w3.org/2005/Atom}content"):
        assert_inert_html(entry.text or "", where + " content")


def assert_terminal_safe(output: str, where: str) -> None:
    found = TERMINAL_RAW.search(output)
    assert found is None, (where, repr(output[max(0, found.start() - 40) : found.end() + 40]))


# --- the corpus, ingested -----------------------------------------------------------------------


def _jsonl_records() -> list[dict]:
    records = []
    for i, payload in enumerate(hostile.TEXT):
        records.append(
            {
                "arxiv_id": f"2512.{i + 1:05d}",
                "title": f"Hostile {i} {payload} end",
                "abstract": f"Abstract {i}: {payload} end",
                "authors": [payload, "Normal Name"],
                "categories": ["cs.LG", payload],
                "comment": payload,
                "journal_ref": payload,
                "doi": payload,
                "github": payload,
                "project_page": payload,
                "published": "2025-11-20",
                "upvotes": i + 1,
            }
        )
        records.append(  # the payload alone: some of these have nothing left and are rejected
            {"arxiv_id": f"2512.{i + 201:05d}", "title": payload, "abstract": payload}
        )
    for j, number in enumerate(hostile.NUMBERS):
        for k, field in enumerate(("upvotes", "version", "num_comments")):
            records.append(
                {
                    "arxiv_id": f"2512.{401 + 3 * j + k:05d}",
                    "title": f"Number {number!r} as {field}",
                    "abstract": "A",
                    "published": "2025-11-20",
                    field: number,
                }
            )
    return records


def _hf_entries() -> list:
    entries = []
    for i, payload in enumerate(hostile.TEXT):
        entries.append(
            {
                "paper": {
                    "id": f"2512.{i + 601:05d}",
                    "title": f"HF hostile {i} {payload}",
                    "summary": f"Summary {payload}",
                    "authors": [{"name": payload}, {"name": "Normal Name"}],
                    "githubRepo": payload,
                    "projectPage": payload,
                    "upvotes": i + 1,
                    "publishedAt": "2025-11-20T00:00:00.000Z",
                    "submittedOnDailyAt": "2025-11-20T00:00:00.000Z",
                },
                "numComments": i,
            }
        )
    for j, number in enumerate(hostile.NUMBERS):
        entries.append(
            {
                "paper": {
                    "id": f"2512.{801 + j:05d}",
                    "title": f"HF number {j}",
                    "summary": "S",
                    "upvotes": number,
                    "publishedAt": "2025-11-20T00:00:00.000Z",
                },
                "numComments": number,
            }
        )
    return entries


@pytest.fixture
def corpus(db, tmp_path):
    """The corpus ingested; returns (db, ids of the papers that landed)."""
    jl = tmp_path / "hostile.jsonl"
    jl.write_bytes(
        "".join(json.dumps(r) + "\n" for r in _jsonl_records()).encode("utf-8", "surrogatepass")
    )
    hf = tmp_path / "2025-11-20.json"
    hf.write_bytes(json.dumps(_hf_entries()).encode("utf-8", "surrogatepass"))
    for source in (JsonlSource(jl, batch_size=50), HFDailySource(hf)):
        run = ingest(db, source)
        assert run.status == "ok", run.error
        assert run.counts.new > len(hostile.TEXT) and run.counts.rejected > 0
    with db.connect() as conn:
        ids = [p.arxiv_id for p in papers.iter_all(conn)]
        for p in papers.get_many(conn, ids).values():
            for text in (p.title, p.abstract, *p.authors, *p.categories, p.comment or ""):
                assert not XML_ILLEGAL.search(text) and "\x1b" not in text, (p.arxiv_id, text)
            for url in (p.code_url, p.project_url):
                assert url is None or re.match(r"^https?://", url), (p.arxiv_id, url)
    return db, ids


@pytest.fixture
def client(corpus, settings):
    db, _ids = corpus
    with TestClient(create_app(settings, db=db)) as c:
        yield c


# --- the ways out ---------------------------------------------------------------------------


def test_pages_stay_inert(client, corpus):
    _db, ids = corpus
    paths = ["/papers?date=2025-11-20", "/trending?window=all", "/"]
    paths += [f"/papers/{i}" for i in ids]
    paths += [f"/search?mode=keyword&q={q(p)}" for p in hostile.TEXT]
    for path in paths:
        r = client.get(path)
        assert r.status_code in (200, 400), (path, r.status_code)
        assert_inert_html(r.text, path)


def test_the_api_answers_clean_json(client, corpus):
    _db, ids = corpus
    cursor, seen = None, 0
    while True:
        r = client.get("/api/papers?date=2025-11-20" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200
        body = r.json()
        assert_clean_json(body, "/api/papers")
        seen += len(body["papers"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen > len(hostile.TEXT)
    for path in ["/api/daily_papers?date=2025-11-20", *(f"/api/papers/{i}" for i in ids)]:
        r = client.get(path)
        assert r.status_code == 200, path
        assert_clean_json(r.json(), path)
    for payload in hostile.TEXT:
        r = client.get(f"/api/search?mode=keyword&q={q(payload)}")
        assert r.status_code in (200, 400), (payload, r.status_code)
        assert_clean_json(r.json(), "/api/search")


def test_feeds_parse_as_xml(client):
    paths = [
        "/papers.atom?date=2025-11-20",
        "/papers.rss?date=2025-11-20",
        "/trending.atom?window=all",
        "/trending.rss?window=all",
        "/search.rss?q=%01x",  # the query is echoed in the feed's title
    ]
    for payload in hostile.TEXT:
        value = q(payload)
        paths += [f"/search.atom?mode=keyword&q={value}", f"/search.rss?mode=keyword&q={value}"]
    for path in paths:
        r = client.get(path)
        if r.status_code == 400:  # an empty query once the payload is cleaned
            continue
        assert r.status_code == 200, (path, r.status_code)
        assert_valid_feed(r.content, path)


def test_digest_mail_stays_inert(corpus, database_url):
    db, ids = corpus
    with db.connect() as conn:
        stored = list(papers.get_many(conn, ids).values())
    now = dt.datetime(2025, 11, 21, 7, tzinfo=dt.UTC)
    prefs = Preferences(topics=[p for p in hostile.TEXT if len(p) < 200][:20])
    sections = [Section("Trending", stored, link="http://testserver/trending")]
    sections += [
        Section(t, stored[:3], topic=t, link="http://testserver/search?q=x") for t in prefs.topics
    ]
    digest = Digest(prefs, DAY, DAY, sections)
    sub = Subscription(
        id=1,
        email="reader@example.org",
        key="k",
        status="active",
        prefs=prefs,
        created_at=now,
        changed_at=now,
    )
    with smtp_server() as (inbox, port):
        s = Settings.load(
            env={},
            database_url=database_url,
            base_url="http://testserver",
            mail_backend="smtp",
            smtp_port=port,
        )
        mail.send(s, digests.message(s, sub, digest))
        [message] = inbox.messages
    assert message["To"] == "reader@example.org" and message["Bcc"] is None
    html_part = message.get_body(("html",)).get_content()
    assert_inert_html(html_part, "digest html")
    text_part = message.get_body(("plain",)).get_content()
    # Plain text, read in a mail client: no control character (bidi marks are text there).
    assert not re.search("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]", text_part), "digest text"


def test_the_command_line_prints_no_raw_escapes(corpus, database_url):
    _db, ids = corpus

    def run(*args):
        result = runner.invoke(cli_app, ["--database-url", database_url, *args])
        assert result.exit_code in (0, 1), (args, result.output, result.exception)
        assert_terminal_safe(result.output, " ".join(args))
        return result.output

    for arxiv_id in ids:
        run("papers", "show", arxiv_id)
    for arxiv_id in ids[: len(hostile.TEXT)]:  # the JSON-lines records with every field set
        json.loads(run("papers", "show", arxiv_id, "--json"))
        run("papers", "show", arxiv_id, "--bibtex")
    for payload in hostile.TEXT:
        if payload.strip("\x00"):
            run("search", payload[:200], "--mode", "keyword", "--limit", "50")
    out = run("trending", "--window", "all", "--limit", "300")
    assert "[bold red]markup[/]" in out  # Rich markup in a title is shown, not obeyed
    run("ingest", "log")


# --- regressions, one per finding -------------------------------------------------------------


def test_papers_show_prints_the_title_not_markup(db, database_url):
    """Finding 11: `papers show` printed a literal "[bold]...[/]" around every title, and
    printed escape sequences in titles raw."""
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [
                make_paper(1, title="Plain title"),
                make_paper(
                    2, title="Evil \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \x1b[2J"
                ),
            ],
        )
    out = runner.invoke(cli_app, ["--database-url", database_url, "papers", "show", "2511.00001"])
    assert out.output.splitlines()[0] == "Plain title"
    out = runner.invoke(cli_app, ["--database-url", database_url, "papers", "show", "2511.00002"])
    assert out.output.splitlines()[0] == "Evil link " and "\x1b" not in out.output


def test_feeds_of_rows_stored_with_illegal_characters_still_parse(db, settings):
    """Finding 9: a title with \\x01, NUL or U+FFFE broke the day's Atom and RSS; rows stored
    before ingest cleaned text must not break them either (NUL: PostgreSQL never stores one)."""
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [make_paper(1, title="A\x01B\x0cC\ufffeD", abstract="x\x0by", authors=["N\x1fM"])],
        )
    with TestClient(create_app(settings, db=db)) as c:
        for path in (
            "/papers.atom?date=2025-11-20",
            "/papers.rss?date=2025-11-20",
            "/search.rss?q=%01x",
        ):
            r = c.get(path)
            assert r.status_code == 200, path
            assert_valid_feed(r.content, path)
        feed = feedparser.parse(c.get("/papers.atom?date=2025-11-20").content)
        assert feed.entries[0].title == "ABCD"
