"""Running paperfeed: /healthz against the database, request ids, JSON logs, Prometheus /metrics."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import Request
from fastapi.testclient import TestClient

from paperfeed import logs, metrics
from paperfeed.store import papers
from paperfeed.web import create_app

from .conftest import make_paper


@pytest.fixture
def client(settings, db):
    with db.transaction() as conn:
        papers.upsert_many(conn, [make_paper(1, upvotes=3), make_paper(2)])
    with TestClient(create_app(replace(settings, metrics_enabled=True), db=db)) as c:
        yield c


def test_healthz_answers_503_when_the_database_is_gone_and_200_when_back(db, settings):
    """Take the database away under a running app (move the SQLite file aside / rename the
    PostgreSQL schema), then bring it back."""
    with TestClient(create_app(settings, db=db)) as c:
        assert c.get("/healthz").json() == {"status": "ok", "database": "ok", "writes": "ok"}
        url = sa.engine.make_url(db.url)
        if db.dialect == "sqlite":
            path = Path(url.database)
            db.dispose()
            path.rename(path.with_name("moved.db"))
        else:
            schema = url.query["options"].split("=", 1)[1]
            with db.transaction() as conn:
                conn.exec_driver_sql(f'ALTER SCHEMA "{schema}" RENAME TO "{schema}_away"')
        try:
            down = c.get("/healthz")
        finally:
            if db.dialect == "sqlite":
                db.dispose()
                path.with_name("moved.db").replace(path)
            else:
                with db.transaction() as conn:
                    conn.exec_driver_sql(f'ALTER SCHEMA "{schema}_away" RENAME TO "{schema}"')
        assert down.status_code == 503, down.text
        assert down.json()["status"] == "unavailable"
        assert "password" not in down.text and "postgres" not in down.text  # no URL leaks
        assert c.get("/healthz").status_code == 200


def test_request_id_is_echoed_or_made(client):
    given = client.get("/healthz", headers={"X-Request-ID": "proxy-42.abc"})
    assert given.headers["x-request-id"] == "proxy-42.abc"
    made = [client.get("/api/papers/2511.00001").headers["x-request-id"] for _ in range(2)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", m) for m in made) and made[0] != made[1]
    # A header that could forge log lines (newline, spaces) or flood them is replaced.
    for bad in ("two words", "x" * 500, "a\tb"):
        r = client.get("/healthz", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"]), bad


def test_json_log_lines_carry_the_request_id(client, capsys):
    logs.configure("info", "json")
    try:
        client.get("/papers/2511.00001", headers={"X-Request-ID": "trace-me-1"})
    finally:
        logging.config.dictConfig(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "root": {"level": "WARNING", "handlers": []},
            }
        )
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    access = [e for e in lines if e["logger"] == "paperfeed.access"]
    assert access and access[-1]["request_id"] == "trace-me-1"
    assert access[-1]["route"] == "/papers/{arxiv_id:path}" and access[-1]["status"] == 200
    assert {"time", "level", "message", "pid"} <= set(access[-1])


def _sample(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text output (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, _, value = line.rpartition(" ")
            got = key[len(name) :].strip("{}")
            if ",".join(sorted(got.split(","))) == want or (not want and not got):
                return float(value)
    return 0.0


def test_metrics_count_requests_by_route_template_and_time_searches(client):
    count = "paperfeed_request_duration_seconds_count"
    labels = {"method": "GET", "route": "/api/papers/{arxiv_id:path}", "status": "200"}
    before = client.get("/metrics")
    assert before.headers["content-type"].startswith("text/plain")
    for n in (1, 2, 1):
        client.get(f"/api/papers/2511.{n:05d}")
    client.get("/api/papers/2511.99999")  # a 404 is its own series, under the same template
    client.get("/api/search", params={"q": "sparse experts", "mode": "keyword"})
    after = client.get("/metrics").text
    assert _sample(after, count, **labels) - _sample(before.text, count, **labels) == 3
    assert _sample(after, count, **{**labels, "status": "404"}) >= 1
    assert "2511.00001" not in after  # ids never become label values
    searched = _sample(after, "paperfeed_search_duration_seconds_count", mode="keyword")
    assert (
        searched - _sample(before.text, "paperfeed_search_duration_seconds_count", mode="keyword")
        == 1
    )
    assert "paperfeed_digests_sent_total" in after


def test_metrics_are_opt_in_and_token_protected(settings, db):
    """Finding 12: /metrics was public unless a proxy blocked it."""
    with TestClient(create_app(settings, db=db)) as off:
        r = off.get("/metrics")
        assert r.status_code == 404 and "paperfeed_" not in r.text
    token = "metrics-" + "k" * 32
    locked = replace(settings, metrics_enabled=True, metrics_token=token)
    with TestClient(create_app(locked, db=db)) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            r = c.get("/metrics", headers=headers)
            assert r.status_code == 401 and "paperfeed_" not in r.text
            assert r.headers["www-authenticate"] == "Bearer"
        r = c.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and "paperfeed_request_duration_seconds" in r.text


def test_ingest_counts_reach_the_metrics(db, client, tmp_path):
    from paperfeed.ingest import ingest
    from paperfeed.sources.jsonl import JsonlSource

    def ingested(outcome: str) -> float:
        return metrics.papers_ingested.labels(source="jsonl", outcome=outcome)._value.get()

    f = tmp_path / "p.jsonl"
    record = {
        "arxiv_id": "2511.00050",
        "title": "A title",
        "abstract": "An abstract.",
        "authors": ["A. Author"],
        "published": "2025-11-20T00:00:00Z",
    }
    f.write_text(json.dumps(record) + "\n" + "{not json\n")
    new, rejected = ingested("new"), ingested("rejected")
    ingest(db, JsonlSource(f))
    assert ingested("new") - new == 1 and ingested("rejected") - rejected == 1
    text = client.get("/metrics").text
    assert _sample(text, "paperfeed_ingested_papers_total", source="jsonl", outcome="new") >= 1


def test_statement_timeout_cancels_a_slow_statement_with_a_503(settings, db, database_url):
    """A statement running past `statement_timeout` is cancelled by PostgreSQL; the reader gets
    a 503 with Retry-After, and the worker's connections stay usable."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no statement timeout; a slow statement there only delays")
    import dataclasses
    import time

    app = create_app(dataclasses.replace(settings, statement_timeout=0.3))

    @app.get("/api/slow")
    def slow(request: Request):  # stands in for a search over too many matches
        with request.app.state.db.connect() as conn:
            conn.exec_driver_sql("SELECT pg_sleep(5)")

    with TestClient(app) as c:
        t0 = time.perf_counter()
        r = c.get("/api/slow")
        assert time.perf_counter() - t0 < 3
        assert r.status_code == 503 and r.json()["error"]["code"] == "too_slow"
        assert r.headers["retry-after"] == "5"
        assert c.get("/healthz").status_code == 200
    with db.connect() as conn:  # commands and services keep no limit
        conn.exec_driver_sql("SELECT pg_sleep(0.5)")
