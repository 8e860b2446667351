"""The `paperfeed` command: every command's help, and each command doing its job on a real DB."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from paperfeed import subscriptions
from paperfeed.cli import app
from paperfeed.models import Preferences
from paperfeed.store import Database, papers, runs

from .conftest import make_paper
from .waiting import until

runner = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"})

COMMANDS = [
    [],
    ["version"],
    ["config"],
    ["db"],
    ["db", "upgrade"],
    ["db", "status"],
    ["serve"],
    ["ingest"],
    ["ingest", "arxiv"],
    ["ingest", "oai"],
    ["ingest", "hf-daily"],
    ["ingest", "jsonl"],
    ["ingest", "log"],
    ["papers"],
    ["papers", "show"],
    ["export"],
    ["export", "jsonl"],
    ["trending"],
    ["users"],
    ["users", "create"],
    ["users", "token"],
    ["users", "tokens"],
    ["users", "tokens", "list"],
    ["users", "tokens", "revoke"],
    ["search"],
    ["index"],
    ["index", "status"],
    ["index", "embed"],
]


def cli(database_url, *args, env=None):
    result = runner.invoke(app, ["--database-url", database_url, *args], env=env)
    return result


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "paperfeed")
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and "Show this message and exit" in result.output


def test_db_upgrade_then_status(database_url):
    status = cli(database_url, "db", "status")
    assert status.exit_code == 1 and "paperfeed db upgrade" in status.output
    up = cli(database_url, "db", "upgrade")
    assert up.exit_code == 0 and "upgraded from empty" in up.output
    again = cli(database_url, "db", "upgrade")
    assert "already at revision" in again.output
    assert cli(database_url, "db", "status").exit_code == 0


def test_commands_on_an_unmigrated_database_name_the_fix(database_url):
    result = cli(database_url, "papers", "show", "2511.00001")
    assert result.exit_code == 1 and "paperfeed db upgrade" in result.output


def test_bad_config_is_one_clear_line(tmp_path):
    bad = tmp_path / "paperfeed.toml"
    bad.write_text("database_url = [unterminated")
    result = runner.invoke(app, ["--config", str(bad), "version"])
    assert result.exit_code == 1 and "not valid TOML" in result.output


def test_papers_show_text_json_and_bibtex(db, database_url):
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(7, code_url="https://github.com/org/repo"))
    text = cli(database_url, "papers", "show", "2511.00007v2")
    assert text.exit_code == 0 and "Sparse Mixtures of Experts" in text.output
    assert "https://github.com/org/repo" in text.output
    as_json = json.loads(cli(database_url, "papers", "show", "2511.00007", "--json").output)
    assert (
        as_json["arxiv_id"] == "2511.00007" and as_json["github"] == "https://github.com/org/repo"
    )
    assert cli(database_url, "papers", "show", "2511.00007", "--bibtex").output.startswith("@misc{")
    missing = cli(database_url, "papers", "show", "2511.99999")
    assert missing.exit_code == 1 and "no paper" in missing.output


def test_export_then_import_round_trips(db, database_url, tmp_path):
    originals = [
        make_paper(i, upvotes=i, code_url="https://github.com/o/r", comment="c", doi="10.1/x")
        for i in range(1, 8)
    ]
    with db.transaction() as conn:
        papers.upsert_many(conn, originals)
    out = tmp_path / "export.jsonl"
    result = cli(database_url, "export", "jsonl", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 7

    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert cli(fresh_url, "db", "upgrade").exit_code == 0
    imported = cli(fresh_url, "ingest", "jsonl", str(out))
    assert imported.exit_code == 0, imported.output
    fresh = Database(fresh_url)
    with fresh.connect() as conn:
        got = {p.arxiv_id: p for p in papers.iter_all(conn)}
    assert got == {p.arxiv_id: p for p in originals}


def test_ingest_jsonl_summary_rejections_and_idempotence(db, database_url, tmp_path):
    lines = [
        json.dumps(
            {
                "arxiv_id": "2511.00001",
                "title": "One",
                "abstract": "A",
                "authors": ["X"],
                "categories": ["cs.LG"],
                "published": "2025-11-20",
            }
        ),
        "{not json",
        json.dumps({"arxiv_id": "2511.00002", "abstract": "no title"}),
        json.dumps(
            {
                "arxiv_id": "2511.00003",
                "title": "Three",
                "abstract": "C",
                "published": "2025-11-21",
                "upvotes": 5,
                "github": "https://github.com/a/b",
                "some_unknown_field": True,
            }
        ),
    ]
    f = tmp_path / "in.jsonl.gz"
    with gzip.open(f, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    first = cli(database_url, "ingest", "jsonl", str(f))
    assert first.exit_code == 0, first.output
    assert "line 2" in first.output and "line 3" in first.output  # rejected with reasons
    with db.connect() as conn:
        run = runs.recent(conn, limit=1)[0]
        assert (run.counts.new, run.counts.rejected) == (2, 2)
        assert papers.get(conn, "2511.00003").code_url == "https://github.com/a/b"
    second = cli(database_url, "ingest", "jsonl", str(f))
    with db.connect() as conn:
        run = runs.recent(conn, limit=1)[0]
    assert second.exit_code == 0 and (run.counts.new, run.counts.unchanged) == (0, 2)
    log = cli(database_url, "ingest", "log")
    assert log.exit_code == 0 and "jsonl" in log.output


def test_digest_list_shows_subscribers_literally_and_filters_by_status(db, settings, database_url):
    hostile = "[bold red]markup[/] \x1b[31mescape"
    subscriptions.subscribe(
        db, settings, email="ada@example.org", prefs=Preferences(topics=[hostile, "merging"])
    )
    subscriptions.subscribe(db, settings, email="bob@example.org")
    listed = cli(database_url, "digest", "list")
    assert listed.exit_code == 0, listed.output
    assert "ada@example.org" in listed.output and "bob@example.org" in listed.output
    assert "[bold red]markup[/]" in listed.output and "\x1b" not in listed.output
    pending = cli(database_url, "digest", "list", "--status", "pending").output
    assert "ada@example.org" in pending and "bob@example.org" in pending
    active = cli(database_url, "digest", "list", "--status", "active").output
    assert "ada@example.org" not in active and "bob@example.org" not in active


def test_ingest_missing_file_is_a_usage_error(database_url, tmp_path):
    result = cli(database_url, "ingest", "jsonl", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2 and "is not a file" in result.output


def test_truncated_gzip_fails_the_run_and_keeps_what_was_stored(db, database_url, tmp_path):
    """A .gz cut off mid-stream: earlier batches stay, the run is logged failed with the reason."""
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(999))  # stored before: must survive
    raw = "".join(
        json.dumps({"arxiv_id": f"2511.{i:05d}", "title": f"T{i}", "abstract": "A" * 200}) + "\n"
        for i in range(1, 3001)
    ).encode()
    blob = gzip.compress(raw)
    f = tmp_path / "cut.jsonl.gz"
    f.write_bytes(blob[: len(blob) * 2 // 3])
    result = cli(
        database_url, "ingest", "jsonl", str(f), env={"PAPERFEED_INGEST_BATCH_SIZE": "100"}
    )
    assert result.exit_code == 1
    with db.connect() as conn:
        run = runs.recent(conn, limit=1)[0]
        stored = papers.count(conn)
    assert run.status == "failed" and run.error
    assert stored == run.counts.new + 1 and run.counts.new > 0


def _count(db: Database) -> int:
    with db.connect() as conn:  # a new read each time: SQLite's snapshot would not move
        return papers.count(conn)


def test_kill_9_mid_ingest_leaves_no_half_written_paper_and_resumes(db, database_url, tmp_path):
    """SIGKILL a real `paperfeed ingest jsonl` process while it writes; then run it again."""
    total, batch = 8_000, 200
    f = tmp_path / "big.jsonl"
    with f.open("w") as fh:
        for i in range(1, total + 1):
            fh.write(
                json.dumps(
                    {
                        "arxiv_id": f"2511.{i:05d}",
                        "title": f"Title {i}",
                        "abstract": f"Abstract {i}. " * 30,
                        "authors": [f"Author {i}", "Second Author"],
                        "categories": ["cs.LG"],
                        "published": "2025-11-20",
                    }
                )
                + "\n"
            )
    env = {**os.environ, "PAPERFEED_INGEST_BATCH_SIZE": str(batch)}
    cmd = [
        sys.executable,
        "-m",
        "paperfeed",
        "--database-url",
        database_url,
        "ingest",
        "jsonl",
        str(f),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Wait until some batches are committed, then take the database's write lock (the
        # papers table's, on PostgreSQL) and look again: while the test holds it the process
        # can neither commit another batch nor finish, so the kill lands mid-run.
        until(lambda: proc.poll() is not None or _count(db) >= batch * 3, timeout=120)
        with db.transaction() as conn:
            if db.dialect == "postgresql":
                conn.exec_driver_sql("LOCK TABLE papers IN SHARE MODE")
            held = papers.count(conn), runs.recent(conn, limit=1)[0].status
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert batch <= held[0] < total and held[1] == "running", f"not mid-run: {held}"
    with db.connect() as conn:
        stored = papers.count(conn)
        run = runs.recent(conn, limit=1)[0]
        for p in papers.iter_all(conn):  # every stored paper is whole
            n = int(p.arxiv_id.split(".")[1])
            assert p.title == f"Title {n}" and p.authors == [f"Author {n}", "Second Author"]
    assert stored == held[0]
    assert stored % batch == 0  # whole batches only
    assert run.status == "running" and int(run.cursor) == stored  # cursor matches the data

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    with db.connect() as conn:
        assert papers.count(conn) == total
        resumed = runs.recent(conn, limit=1)[0]
        killed = runs.get(conn, run.id)
    assert resumed.counts.new == total - stored  # resumed, not restarted
    assert killed.status == "failed" and "interrupted" in killed.error


def test_serve_refuses_an_outdated_schema(database_url):
    result = cli(database_url, "serve", "--port", "1")
    assert result.exit_code == 1 and "paperfeed db upgrade" in result.output


def test_serve_answers_http_and_stops_cleanly(db, database_url):
    """`paperfeed serve` as a real process on a free loopback port, with 2 workers."""
    import httpx

    from .livesite import free_port

    with db.transaction() as conn:
        papers.upsert(conn, make_paper(1))
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "paperfeed",
        "--database-url",
        database_url,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def answer():
        assert proc.poll() is None, proc.stderr.read().decode()
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/papers?date=2025-11-20").json()
        except httpx.TransportError:
            return None

    try:
        # Two workers import the whole app: allow for a busy machine; a dead server fails at once.
        body = until(answer, timeout=120, interval=0.1)
        assert [p["arxiv_id"] for p in body["papers"]] == ["2511.00001"]
        # No base_url set: links follow --host/--port, in every worker.
        page = body["papers"][0]["links"]["page"]
        assert page == f"http://127.0.0.1:{port}/papers/2511.00001"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_version_and_config_commands():
    from paperfeed import __version__

    assert runner.invoke(app, ["version"]).output.strip() == __version__
    shown = runner.invoke(
        app,
        ["--database-url", "sqlite:///x.db", "config"],
        env={"PAPERFEED_SECRET_KEY": "s" * 40, "PAPERFEED_SITE_NAME": "Lab <papers>"},
    )
    assert shown.exit_code == 0
    assert "sqlite:///x.db" in shown.output and "PAPERFEED_DATABASE_URL" in shown.output
    assert "Lab <papers>" in shown.output and "s" * 40 not in shown.output  # secrets stay hidden


def test_users_create_admin(db, database_url):
    from paperfeed import accounts

    result = cli(
        database_url,
        "users",
        "create",
        "Root@Example.org",
        "--admin",
        env={"PAPERFEED_NEW_PASSWORD": "a strong password"},
    )
    assert result.exit_code == 0 and "administrator root@example.org" in result.output
    user = accounts.authenticate(db, email="root@example.org", password="a strong password")
    assert user.is_admin
    again = cli(
        database_url,
        "users",
        "create",
        "root@example.org",
        env={"PAPERFEED_NEW_PASSWORD": "a strong password"},
    )
    assert again.exit_code == 1 and "already has an account" in again.output
    weak = cli(
        database_url, "users", "create", "x@example.org", env={"PAPERFEED_NEW_PASSWORD": "x"}
    )
    assert weak.exit_code == 1 and "at least" in weak.output
