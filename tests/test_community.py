"""Comments, submissions and moderation: Markdown made safe, threads, edit windows, who may do
what, and papers submitted from (a local stand-in for) arXiv."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from paperfeed import accounts, comments, markup
from paperfeed.errors import InvalidInput, NotAllowed
from paperfeed.store import comments as comment_store
from paperfeed.store import papers
from paperfeed.web import create_app

from .conftest import make_paper
from .recorded import recorded
from .test_web_accounts import PASSWORD, csrf, log_in

HOSTILE = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    "[click](javascript:window.__pwned=1)",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>",
    '<p style="x" onclick="alert(1)">hi</p>',
]


@pytest.mark.parametrize("source", HOSTILE)
def test_markdown_is_rendered_inert(source):
    html = markup.render(source).lower()
    assert not re.search(r"<(script|img|iframe|style)\b", html)  # no such element survives
    assert not re.search(r"<[^>]*\son\w+\s*=", html)  # no event-handler attribute on any tag
    assert not re.search(r"<a[^>]*href\s*=\s*[\"']?\s*javascript:", html)  # no script links


def test_markdown_keeps_formatting_and_marks_links_nofollow():
    html = markup.render("**bold** `code` and [paper](https://arxiv.org/abs/2511.00001)")
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert 'href="https://arxiv.org/abs/2511.00001"' in html and "nofollow" in html


@pytest.fixture
def people(db, settings):
    with db.transaction() as conn:
        papers.upsert_many(conn, [make_paper(1), make_paper(2)])
    make = lambda e, admin=False: accounts.create_user(  # noqa: E731
        db, settings, email=e, password=PASSWORD, admin=admin
    )
    return make("ada@example.org"), make("bob@example.org"), make("root@example.org", True)


def test_threads_counts_and_deleted_accounts(db, people):
    ada, bob, _root = people
    top = comments.add(db, user=ada, arxiv_id="2511.00001", body="Nice *result*")
    reply = comments.add(db, user=bob, arxiv_id="2511.00001", body="Agreed", parent_id=top.id)
    with pytest.raises(InvalidInput, match="another paper"):
        comments.add(db, user=bob, arxiv_id="2511.00002", body="x", parent_id=top.id)
    with pytest.raises(InvalidInput):
        comments.add(db, user=bob, arxiv_id="2511.00001", body="   ")
    with pytest.raises(InvalidInput, match="10,000"):
        comments.add(db, user=bob, arxiv_id="2511.00001", body="x" * 10_001)
    (root,) = comments.thread(db, "2511.00001")
    assert root.id == top.id and [r.id for r in root.replies] == [reply.id]
    with db.connect() as conn:
        assert papers.get(conn, "2511.00001").num_comments == 2
    accounts.delete_account(db, user=bob, password=PASSWORD)
    (root,) = comments.thread(db, "2511.00001")
    assert root.replies[0].author is None  # shown as "deleted user"


def test_only_the_author_edits_within_the_window(db, settings, people):
    ada, bob, root = people
    c = comments.add(db, user=ada, arxiv_id="2511.00001", body="first")
    assert comments.edit(db, settings, user=ada, comment_id=c.id, body="second").body == "second"
    for other in (bob, root):
        with pytest.raises(NotAllowed, match="your own"):
            comments.edit(db, settings, user=other, comment_id=c.id, body="hijack")
    with db.transaction() as conn:  # make the comment an hour old
        comment_store.update(conn, c.id, created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    with pytest.raises(NotAllowed, match="15 minutes"):
        comments.edit(db, settings, user=ada, comment_id=c.id, body="too late")


def test_delete_report_and_hide_need_the_right_person(db, people):
    ada, bob, root = people
    c = comments.add(db, user=ada, arxiv_id="2511.00001", body="hello")
    with pytest.raises(NotAllowed):
        comments.delete(db, user=bob, comment_id=c.id)
    with pytest.raises(NotAllowed, match="administrators"):
        comments.set_hidden(db, user=bob, comment_id=c.id, hidden=True)
    comments.report(db, user=bob, comment_id=c.id, reason="spam")
    with pytest.raises(Exception, match="already reported"):
        comments.report(db, user=bob, comment_id=c.id, reason="spam again")
    comments.set_hidden(db, user=root, comment_id=c.id, hidden=True)
    assert comments.thread(db, "2511.00001") == []
    assert comments.thread(db, "2511.00001", viewer=root)[0].hidden
    comments.delete(db, user=ada, comment_id=c.id)
    assert comments.thread(db, "2511.00001", viewer=root)[0].deleted


@pytest.fixture
def arxiv_stub():
    """A local server answering id_list queries from recorded Atom responses."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            known = "2511.14003" in self.path
            body = recorded("arxiv_page2.xml" if known else "arxiv_empty.xml")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/query"
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(db, settings, people, arxiv_stub):
    s = dataclasses.replace(
        settings, arxiv_api_url=arxiv_stub, arxiv_min_interval=0.0, http_retries=0
    )
    with TestClient(create_app(s, db=db)) as c:
        yield c


def test_submit_fetches_from_arxiv_and_lists_it_today(client, db):
    log_in(client)
    token = csrf(client, "/submit")
    r = client.post(
        "/submit",
        data={"ref": "https://arxiv.org/abs/2511.14003v1", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/papers/2511.14003"
    with db.connect() as conn:
        paper = papers.get(conn, "2511.14003")
    assert paper.listing_day == dt.datetime.now(dt.UTC).date() and paper.submitted_by is not None
    assert "Submitted by ada" in client.get("/papers/2511.14003").text
    again = client.post("/submit", data={"ref": "2511.14003", "csrf_token": token})
    assert again.status_code == 409 and "already here" in again.text
    bad = client.post("/submit", data={"ref": "not an id; DROP TABLE", "csrf_token": token})
    assert bad.status_code == 400 and "not an arXiv id" in bad.text
    missing = client.post("/submit", data={"ref": "2511.99999", "csrf_token": token})
    assert missing.status_code == 400 and "arXiv has no paper" in missing.text


def test_submitting_is_rate_limited(db, settings, people, arxiv_stub):
    s = dataclasses.replace(
        settings, arxiv_api_url=arxiv_stub, arxiv_min_interval=0.0, limit_submit="2/3600"
    )
    with TestClient(create_app(s, db=db)) as c:
        log_in(c)
        token = csrf(c, "/submit")
        codes = [
            c.post("/submit", data={"ref": "2511.99999", "csrf_token": token}).status_code
            for _ in range(3)
        ]
    assert codes[:2] == [400, 400] and codes[2] == 429


def test_comment_forms_authorization_and_escaping(client, db, people):
    ada, bob, root = people
    log_in(client)
    token = csrf(client, "/papers/2511.00001")
    client.post(
        "/papers/2511.00001/comments", data={"body": HOSTILE[0] + " **ok**", "csrf_token": token}
    )
    page = client.get("/papers/2511.00001").text
    assert "<script>window.__pwned" not in page and "<strong>ok</strong>" in page
    assert "1 comment" in client.get("/papers?date=2025-11-20").text
    (c,) = comments.thread(db, "2511.00001")
    # bob may not delete or hide ada's comment
    client.post("/logout", data={"csrf_token": token})
    log_in(client, "bob@example.org")
    token = csrf(client, "/papers/2511.00001")
    assert client.post(f"/comments/{c.id}/delete", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/comments/{c.id}/hide", data={"csrf_token": token}).status_code == 403
    assert client.post("/papers/2511.00001/hide", data={"csrf_token": token}).status_code == 403
    assert (
        client.post(f"/comments/{c.id}/edit", data={"body": "x", "csrf_token": token}).status_code
        == 403
    )
    # anonymous posting is refused
    client.cookies.clear()
    r = client.post("/papers/2511.00001/comments", data={"body": "anon", "csrf_token": "x"})
    assert r.status_code in (401, 403)


def test_admin_hides_a_paper_from_every_listing(client, db, people):
    log_in(client, "root@example.org")
    token = csrf(client, "/papers/2511.00002")
    r = client.post(
        "/papers/2511.00002/hide", data={"csrf_token": token, "hidden": "1"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "Hidden from readers" in client.get("/papers/2511.00002").text  # admins still see it
    client.cookies.clear()
    assert client.get("/papers/2511.00002").status_code == 404
    listed = client.get("/api/papers", params={"date": "2025-11-20"}).json()["papers"]
    assert [p["arxiv_id"] for p in listed] == ["2511.00001"]
    assert re.search(r"2511\.00002", client.get("/papers?date=2025-11-20").text) is None


def test_reports_page_is_for_administrators(client, db, people):
    ada, bob, root = people
    c = comments.add(db, user=ada, arxiv_id="2511.00001", body="buy cheap pills")
    comments.report(db, user=bob, comment_id=c.id, reason="spam")
    log_in(client, "bob@example.org")
    assert client.get("/admin/reports").status_code == 403
    client.post("/logout", data={"csrf_token": csrf(client, "/account")})
    log_in(client, "root@example.org")
    page = client.get("/admin/reports")
    assert page.status_code == 200 and "buy cheap pills" in page.text and "1 report" in page.text
