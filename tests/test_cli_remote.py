"""`paperfeed ingest arxiv|oai|hf-daily` end to end: real HTTP from a local server that replays
recorded arXiv responses, into a real database."""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.store import papers, runs

from .recorded import RECORDED, recorded

runner = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"})


class Replay:
    """What the local arXiv stand-in answers; `broken` makes the second page arrive cut off."""

    def __init__(self) -> None:
        self.broken = False
        self.seen: list[dict[str, list[str]]] = []
        self.user_agents: list[str] = []

    def answer(self, path: str, query: dict[str, list[str]]) -> bytes:
        if path == "/api/query":
            page = recorded("arxiv_page1.xml" if query["start"] == ["0"] else "arxiv_page2.xml")
        else:
            page = recorded("oai_page2.xml" if "resumptionToken" in query else "oai_page1.xml")
        second = query.get("start") == ["2"] or "resumptionToken" in query
        return page[:300] if self.broken and second else page


@pytest.fixture
def arxiv_server():
    replay = Replay()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            replay.seen.append(query)
            replay.user_agents.append(self.headers.get("User-Agent", ""))
            body = replay.answer(url.path, query)
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    replay.env = {
        "PAPERFEED_ARXIV_API_URL": f"{base}/api/query",
        "PAPERFEED_ARXIV_OAI_URL": f"{base}/oai",
        "PAPERFEED_ARXIV_MIN_INTERVAL": "0",
        "PAPERFEED_ARXIV_PAGE_SIZE": "2",
        "PAPERFEED_HTTP_RETRIES": "0",
    }
    yield replay
    server.shutdown()
    server.server_close()


def run(database_url, env, *args):
    return runner.invoke(app, ["--database-url", database_url, "ingest", *args], env=env)


def test_ingest_arxiv_pages_through_and_is_idempotent(db, database_url, arxiv_server):
    args = ("arxiv", "--category", "cs.LG", "--since", "2025-11-17", "--until", "2025-11-21")
    first = run(database_url, arxiv_server.env, *args)
    assert first.exit_code == 0, first.output
    assert "ingest run" in first.output and "ok" in first.output
    with db.connect() as conn:
        assert papers.count(conn) == 3
        assert papers.get(conn, "2511.14001").version == 2
        assert runs.recent(conn, limit=1)[0].counts.new == 3
    assert all(ua.startswith("paperfeed/") for ua in arxiv_server.user_agents)

    again = run(database_url, arxiv_server.env, *args)
    with db.connect() as conn:
        last = runs.recent(conn, limit=1)[0]
    assert again.exit_code == 0 and (last.counts.new, last.counts.unchanged) == (0, 3)


def test_ingest_arxiv_bad_date_is_a_usage_error(database_url, arxiv_server):
    result = run(database_url, arxiv_server.env, "arxiv", "--category", "cs.LG", "--since", "11/01")
    assert result.exit_code == 2 and "expected YYYY-MM-DD" in result.output


def test_ingest_oai_truncated_page_fails_keeps_page_one_and_resumes(db, database_url, arxiv_server):
    """The second OAI page arrives cut off: the run fails with the reason, page one stays, and
    the next run asks for the saved resumption token instead of starting over."""
    arxiv_server.broken = True
    args = ("oai", "--set", "cs", "--from", "2025-11-17")
    failed = run(database_url, arxiv_server.env, *args)
    assert failed.exit_code == 1 and "Run failed" in failed.output and "truncated" in failed.output
    with db.connect() as conn:
        assert papers.count(conn) == 1
        run_log = runs.recent(conn, limit=1)[0]
    assert run_log.status == "failed" and run_log.cursor == "6960524|1001"
    assert "missing title" in failed.output  # the rejected record is reported too

    arxiv_server.broken = False
    arxiv_server.seen.clear()
    resumed = run(database_url, arxiv_server.env, *args)
    assert resumed.exit_code == 0, resumed.output
    assert arxiv_server.seen[0] == {"verb": ["ListRecords"], "resumptionToken": ["6960524|1001"]}
    with db.connect() as conn:
        assert papers.count(conn) == 2
        assert papers.get(conn, "hep-th/9901001").doi.startswith("10.1016")


def test_ingest_hf_daily_folder(db, database_url, tmp_path):
    shutil.copy(RECORDED / "hf_2025-11-20.json", tmp_path / "2025-11-20.json")
    shutil.copy(RECORDED / "hf_wrapped_2025-01-10.json", tmp_path / "2025-01-10.json")
    result = runner.invoke(
        app, ["--database-url", database_url, "ingest", "hf-daily", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "entry 3" in result.output  # the bad id, reported with its reason
    with db.connect() as conn:
        top = papers.get(conn, "2511.16001")
    assert top.upvotes == 163 and top.code_url == "https://github.com/google-research/envharness"
