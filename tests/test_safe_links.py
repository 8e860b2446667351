"""Links from outside (issue 11, finding 1: stored XSS): only http and https URLs are stored,
and every rendering (pages, the API, feeds, digest mail, the command line) checks again with one
function, so a javascript: link already in a database never becomes an href."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperfeed import digests
from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.ingest import ingest
from paperfeed.sources.hf_daily import HFDailySource
from paperfeed.sources.jsonl import JsonlSource
from paperfeed.sources.links import find_links, safe_url, source_link, url_problem
from paperfeed.store import papers
from paperfeed.web import create_app

from .conftest import make_paper
from .smtp import smtp_server

DAY = dt.date(2025, 11, 20)
XSS = "javascript:alert(document.domain)"
BAD_URLS = [
    XSS,
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "javascript://github.com/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example/x",
    "/relative/path",
    "https://github.com@evil.example/",
    "https://user:pass@github.com/a/b",
    'https://github.com/a/b" onmouseover="alert(1)',
    "https://github.com/a/b'><script>alert(1)</script>",
    "https://github.com/a/b\x1b]8;;https://evil\x07",
    "https:\\\\evil.example",
    "https:evil.example",
    "http://",
    "https://github.com:notaport/a",
    "https://" + "a" * 3000 + ".com",
]
GOOD_URLS = [
    "https://github.com/org/repo",
    "http://example.org/project?a=1&b=2#top",
    "HTTPS://Example.org/",
    "https://münchen.example/paper",
    "https://org.github.io/repo/",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_only_http_and_https_urls_are_links(url):
    assert safe_url(url) is None and url_problem(url)


@pytest.mark.parametrize("url", GOOD_URLS)
def test_real_urls_stay_links(url):
    assert safe_url(url) == url and url_problem(url) is None


def test_a_bare_repository_gets_https_and_a_bad_link_is_logged_with_the_reason(caplog):
    assert source_link("github.com/org/repo", field="github", paper="x") == (
        "https://github.com/org/repo"
    )
    # Two real HF records wrap their repository URL; the URL is meant whole.
    assert source_link(
        "https://github.com/\nFightingFighting/NeuroAda.git", field="g", paper="x"
    ) == ("https://github.com/FightingFighting/NeuroAda.git")
    assert source_link("java\tscript:alert(1)", field="github", paper="x") is None
    with caplog.at_level(logging.WARNING, logger="paperfeed.sources.links"):
        assert source_link(XSS, field="github", paper="2511.00001") is None
    assert "2511.00001: github link refused: scheme 'javascript' is not http or https" in (
        caplog.text
    )


def test_links_found_in_text_are_http_only():
    """arXiv comments and abstracts: only http(s) URLs or bare repository hosts are picked up,
    and what they give passes the same check."""
    code, project = find_links(
        "Code: javascript:alert(1)//github.com/x/y and project page at data:text/html,hi"
    )
    assert code in (None, "https://github.com/x/y") and project is None
    assert find_links("Project page: https://user:pw@evil.example/") == (None, None)


def test_jsonl_and_hf_links_with_other_schemes_are_dropped_and_the_paper_kept(db, tmp_path):
    """The attack: a paper whose `github` is javascript:..., then a click on "Code"."""
    rec = {
        "arxiv_id": "2511.00001",
        "title": "Innocent paper",
        "abstract": "Nothing to see.",
        "published": "2025-11-20",
        "github": XSS,
        "project_page": "data:text/html,<script>alert(1)</script>",
    }
    f = tmp_path / "x.jsonl"
    f.write_text(json.dumps(rec) + "\n")
    run = ingest(db, JsonlSource(f))
    assert (run.status, run.counts.new, run.counts.rejected) == ("ok", 1, 0)
    hf = tmp_path / "2025-11-20.json"
    entry = {
        "paper": {
            "id": "2511.00002",
            "title": "Another",
            "summary": "Abstract.",
            "githubRepo": "vbscript:msgbox(1)",
            "projectPage": XSS,
            "publishedAt": "2025-11-20T00:00:00.000Z",
        }
    }
    hf.write_text(json.dumps([entry]))
    assert ingest(db, HFDailySource(hf)).counts.new == 1
    with db.connect() as conn:
        for arxiv_id in ("2511.00001", "2511.00002"):
            p = papers.get(conn, arxiv_id)
            assert (p.code_url, p.project_url) == (None, None)


@pytest.fixture
def planted(db):
    """Rows stored before ingest checked links (or by any other path): the store takes them."""
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [
                make_paper(1, listing_day=DAY, upvotes=5, code_url=XSS, project_url=XSS),
                make_paper(
                    2,
                    listing_day=DAY,
                    upvotes=4,
                    code_url="data:text/html,<script>alert(1)</script>",
                    project_url="https://org.github.io/ok/",
                ),
            ],
        )
    return db


def _no_bad_href(text: str) -> None:
    assert "javascript:" not in text.lower() and "data:text" not in text.lower()


def test_bad_links_already_stored_never_render_as_links(planted, settings):
    with TestClient(create_app(settings, db=planted)) as client:
        for path in (
            "/papers?date=2025-11-20",
            "/papers/2511.00001",
            "/papers/2511.00002",
            "/api/papers?date=2025-11-20",
            "/api/papers/2511.00001",
            "/api/papers/2511.00001/details",
            "/api/daily_papers?date=2025-11-20",
            "/papers.atom?date=2025-11-20",
            "/papers.rss?date=2025-11-20",
        ):
            r = client.get(path)
            assert r.status_code == 200, (path, r.text[:200])
            _no_bad_href(r.text)
        page = client.get("/papers/2511.00002").text
        assert 'href="https://org.github.io/ok/"' in page  # the good link of the same paper
        assert not re.search(r"class=\"[^\"]*code-link", client.get("/papers/2511.00001").text)
        api = client.get("/api/papers/2511.00001/details").json()
        assert api["links"]["code"] is None and api["links"]["project"] is None
        hf = client.get("/api/papers/2511.00001").json()  # Hugging Face's shape
        assert hf["githubRepo"] is None and hf["projectPage"] is None


def test_bad_links_already_stored_never_reach_digest_mail(planted, database_url):
    with smtp_server() as (inbox, port):
        s = Settings.load(
            env={},
            database_url=database_url,
            base_url="http://testserver",
            mail_backend="smtp",
            smtp_port=port,
            digest_search_mode="keyword",
        )
        digest = digests.send_preview(
            planted, s, to="reader@example.org", now=dt.datetime(2025, 11, 21, 7, tzinfo=dt.UTC)
        )
        assert digest is not None
        [message] = inbox.messages
    for part in message.walk():
        if part.get_content_maintype() == "text":
            _no_bad_href(part.get_content())


def test_bad_links_already_stored_are_not_printed_by_papers_show(planted, database_url):
    result = CliRunner().invoke(
        cli_app, ["--database-url", database_url, "papers", "show", "2511.00001"]
    )
    assert result.exit_code == 0, result.output
    _no_bad_href(result.output)
    assert "code:" not in result.output
