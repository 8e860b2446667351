"""Author pages and feeds (issue 14, item 3): /authors/{name}, its Atom and RSS feeds, and the
author links on every card and paper page; on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from paperfeed.store import papers
from paperfeed.web import create_app

from .conftest import make_paper

HOSTILE_AUTHOR = '<script>alert("x")</script> O\'Brien'


def _day(n: int) -> dt.date:
    return dt.date(2025, 11, 1) + dt.timedelta(days=n)


@pytest.fixture
def seeded(db):
    batch = [
        make_paper(1, listing_day=_day(1), authors=["Ada Lovelace", "Alan Turing"]),
        make_paper(2, listing_day=_day(5), authors=["Ada Lovelace", "Grace Hopper"]),
        make_paper(3, listing_day=_day(3), authors=["Grace Hopper", "Ada Lovelace", "A. Turing"]),
        make_paper(4, listing_day=_day(9), authors=["Alan Turing"]),  # not Ada's
        make_paper(5, listing_day=_day(7), authors=["Ada Lovelace"], title="Secretly hidden"),
        make_paper(6, listing_day=_day(2), authors=[HOSTILE_AUTHOR, "Ada Lovelace"]),
        make_paper(7, listing_day=_day(4), authors=["Émile Zola/Naturalist"]),
    ]
    with db.transaction() as conn:
        papers.upsert_many(conn, batch)
        papers.set_hidden(conn, "2511.00005", True)
    return db


@pytest.fixture
def client(settings, seeded):
    with TestClient(create_app(settings, db=seeded)) as c:
        yield c


def _ids(html: str) -> list[str]:
    return re.findall(r'data-arxiv-id="([^"]+)"', html)


def test_page_lists_papers_newest_first_with_count_and_coauthors(client):
    r = client.get("/authors/Ada%20Lovelace")
    assert r.status_code == 200
    assert "<h1" in r.text and "Ada Lovelace</h1>" in r.text
    assert _ids(r.text) == ["2511.00002", "2511.00003", "2511.00006", "2511.00001"]
    assert "4 papers" in r.text
    coauthors = re.findall(r'class="coauthor" href="([^"]+)">([^<]+)</a>', r.text)
    names = [n for _, n in coauthors]
    assert names[0] == "Grace Hopper"  # two papers together
    assert "Alan Turing" in names
    assert ("/authors/Grace%20Hopper", "Grace Hopper") in coauthors
    assert "(2 papers)" in r.text
    assert 'href="/authors/Ada%20Lovelace.atom"' in r.text
    # Case, accents and punctuation do not matter; an initial finds the full name.
    assert _ids(client.get("/authors/ada%20LOVELACE").text) == _ids(r.text)
    assert "2511.00003" in _ids(client.get("/authors/A.%20Turing").text)


def test_paging(settings, db):
    batch = [
        make_paper(i, listing_day=_day(i), authors=["Paged Author", f"Other {i}"])
        for i in range(1, 8)
    ]
    with db.transaction() as conn:
        papers.upsert_many(conn, batch)
    settings = dataclasses.replace(settings, period_page_size=3)
    with TestClient(create_app(settings, db=db)) as c:
        first = c.get("/authors/Paged%20Author")
        assert _ids(first.text) == ["2511.00007", "2511.00006", "2511.00005"]
        assert 'href="/authors/Paged%20Author?page=2"' in first.text
        assert "Page 1 of 3" in first.text
        last = c.get("/authors/Paged%20Author?page=3")
        assert _ids(last.text) == ["2511.00001"]
        assert c.get("/authors/Paged%20Author?page=9").status_code == 200
        assert c.get("/authors/Paged%20Author?page=0").status_code == 400
        assert c.get("/authors/Paged%20Author?page=abc").status_code == 400


def test_hidden_papers_are_not_listed_or_counted(client):
    r = client.get("/authors/Ada%20Lovelace")
    assert "2511.00005" not in r.text and "Secretly hidden" not in r.text
    feed = client.get("/authors/Ada%20Lovelace.atom")
    assert "2511.00005" not in feed.text


def test_an_author_only_on_hidden_papers_is_unknown(settings, db):
    with db.transaction() as conn:
        papers.upsert_many(conn, [make_paper(1, authors=["Only Hidden"])])
        papers.set_hidden(conn, "2511.00001", True)
    with TestClient(create_app(settings, db=db)) as c:
        assert c.get("/authors/Only%20Hidden").status_code == 404
        assert c.get("/authors/Only%20Hidden.rss").status_code == 404


def test_unknown_author_is_a_clear_404(client):
    r = client.get("/authors/Nobody%20Atall")
    assert r.status_code == 404
    assert "No author named" in r.text and "Nobody Atall" in r.text
    assert client.get("/authors/Nobody%20Atall.atom").status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        'O\'Brien "quoted"',
        "a%2Fb",
        "..%2F..%2Fetc%2Fpasswd",
        "x" * 5000,
        "Ada\x00Lovelace\x1b[31m\x7f",
        "%00",
        "%",
        "\u202eevil",
        ".atom",
        "Ada Lovelace.rss.atom",
        "",
    ],
)
def test_hostile_names_never_500_or_render_unescaped(client, name):
    for suffix in ("", ".atom", ".rss"):
        r = client.get("/authors/" + quote(name, safe="%") + suffix)
        assert r.status_code in (200, 404), (name, suffix, r.status_code)
        assert "<script>alert" not in r.text
        assert "<img src=x" not in r.text
        assert "\x00" not in r.text


def test_hostile_author_name_on_a_paper_is_escaped_and_linked(client):
    card = client.get(f"/papers?date={_day(2).isoformat()}")
    assert "<script>alert" not in card.text
    href = "/authors/" + quote(HOSTILE_AUTHOR, safe="")
    assert f'href="{href}"' in card.text
    r = client.get(href)
    assert r.status_code == 200
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;" in r.text
    assert _ids(r.text) == ["2511.00006"]
    feed = client.get(href + ".atom")
    assert feed.status_code == 200
    ET.fromstring(feed.content)


def test_a_name_with_a_slash_links_and_resolves(client):
    page = client.get("/papers/2511.00007")
    href = "/authors/" + quote("Émile Zola/Naturalist", safe="")
    assert f'href="{href}"' in page.text
    r = client.get(href)
    assert r.status_code == 200 and _ids(r.text) == ["2511.00007"]


def test_cards_and_paper_pages_link_authors_to_their_pages(client):
    daily = client.get(f"/papers?date={_day(3).isoformat()}")
    links = re.findall(r'<a class="author" href="([^"]+)">([^<]+)</a>', daily.text)
    assert ("/authors/Grace%20Hopper", "Grace Hopper") in links
    assert ("/authors/A.%20Turing", "A. Turing") in links
    assert all(h.startswith("/authors/") for h, _ in links)
    paper = client.get("/papers/2511.00003")
    links = re.findall(r'<a class="author" href="([^"]+)">([^<]+)</a>', paper.text)
    assert [n for _, n in links] == ["Grace Hopper", "Ada Lovelace", "A. Turing"]
    for href, _ in links:
        assert client.get(href).status_code == 200


def test_feeds_parse_and_list_the_authors_papers_newest_first(client):
    atom = client.get("/authors/Ada%20Lovelace.atom")
    assert atom.status_code == 200
    assert atom.headers["content-type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = ET.fromstring(atom.content)
    assert "Ada Lovelace" in root.find("a:title", ns).text
    entries = [e.find("a:id", ns).text for e in root.findall("a:entry", ns)]
    assert len(entries) == 4
    assert "2511.00002" in entries[0] and "2511.00001" in entries[-1]
    rss = client.get("/authors/Ada%20Lovelace.rss")
    assert rss.status_code == 200
    assert rss.headers["content-type"].startswith("application/rss+xml")
    items = ET.fromstring(rss.content).findall("channel/item")
    assert len(items) == 4
    assert "2511.00002" in items[0].find("link").text


def test_hiding_a_paper_takes_it_off_a_page_already_served(client, seeded):
    """The page is cached until the catalogue changes; hiding a paper is such a change."""
    assert "2511.00002" in _ids(client.get("/authors/Ada%20Lovelace").text)
    with seeded.transaction() as conn:
        papers.set_hidden(conn, "2511.00002", True)
    r = client.get("/authors/Ada%20Lovelace")
    assert "2511.00002" not in _ids(r.text) and "3 papers" in r.text
    assert "2511.00002" not in client.get("/authors/Ada%20Lovelace.rss").text
