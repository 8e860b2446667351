"""Response models in OpenAPI, answers that match them, and /api/docs with no internet."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from paperfeed.store import papers
from paperfeed.web import create_app, schemas
from tests.conftest import make_paper


@pytest.fixture
def client(db, settings):
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [
                make_paper(1, upvotes=3, code_url="https://github.com/o/r", github_stars=5),
                make_paper(2, title="Bounds for $k \\to \\infty$ <b>x</b>", ai_keywords=["k"]),
            ],
        )
    with TestClient(create_app(settings, db=db)) as c:
        yield c


def _schema_of(operation: dict) -> dict | None:
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2"):
            return response.get("content", {}).get("application/json", {}).get("schema")
    return None


def test_every_json_endpoint_declares_a_real_schema(client):
    spec = client.get("/api/openapi.json").json()
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if path.startswith("/api/")
    ]
    assert len(operations) >= 12
    for path, method, op in operations:
        schema = _schema_of(op)
        assert schema, f"{method.upper()} {path} declares no response schema"
        target = schema.get("items", schema) if schema.get("type") == "array" else schema
        assert "$ref" in target or target.get("type") == "string", (path, method, schema)
    names = set(spec["components"]["schemas"])
    assert {"PaperOut", "ListingOut", "HFDailyEntry", "HFPaperFlat", "SearchOut"} <= names


@pytest.mark.parametrize(
    ("url", "model"),
    [
        ("/api/papers?date=2025-11-20", schemas.ListingOut),
        ("/api/papers/2511.00002/details", schemas.PaperDetail),
        ("/api/papers/2511.00002", schemas.HFPaperFlat),
        ("/api/trending?window=all", schemas.TrendingOut),
        ("/api/search?q=routing", schemas.SearchOut),
    ],
)
def test_answers_match_their_models_exactly(client, url, model):
    """extra="forbid": a key the model does not declare fails here, not in a client."""
    body = client.get(url).json()
    model.model_validate(body)


@pytest.mark.parametrize("url", ["/api/daily_papers?date=2025-11-20", "/api/papers/search?q=x"])
def test_hugging_face_lists_match_their_model(client, url):
    for entry in client.get(url).json():
        schemas.HFDailyEntry.model_validate(entry)


def test_plain_text_fallback_in_the_api(client):
    body = client.get("/api/papers/2511.00002/details").json()
    assert body["title"] == "Bounds for $k \\to \\infty$ <b>x</b>"  # as the source wrote it
    assert body["title_text"] == "Bounds for k → ∞ <b>x</b>"  # JSON: no markup to escape
    assert body["upvotes"] == 0 and client.get("/api/papers/2511.00002").json()["upvotes"] == 0


def test_docs_page_needs_no_other_host(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs and not [r for r in refs if re.match(r"(?:[a-z]+:)?//", r, re.I)], refs
    assert "<script>" not in page.text  # no inline script: every script has a src
    for ref in refs:
        assert client.get(ref).status_code == 200, ref
    assert "cdn" not in page.text.lower()
    init = client.get("/static/api-docs.js").text
    assert "validatorUrl: null" in init and "http" not in init
