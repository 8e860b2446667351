"""schemathesis against the OpenAPI document on both databases (issue 11): every operation with
generated hostile and well-formed inputs, bounded to a couple of minutes, and no 5xx ever."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter

import pytest

from paperfeed import accounts
from paperfeed.store import papers
from paperfeed.web import create_app

from .conftest import make_paper

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

# Per operation, backend and mode (well-formed, then malformed): about a minute per backend.
EXAMPLES = 20
TALLY: Counter = Counter()


@pytest.fixture
def api_schema(settings, db):
    with db.transaction() as conn:
        papers.upsert_many(
            conn,
            [make_paper(i, upvotes=i, listing_day=dt.date(2025, 11, 20 + i % 3)) for i in range(8)],
        )
    reader = accounts.create_user(db, settings, email="fuzz@example.org", password="fuzz pass 123")
    token = accounts.create_api_token(db, user=reader, name="fuzz")
    app = create_app(dataclasses.replace(settings, limit_vote="100000/60"), db=db)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    schema.fuzz_token = token  # the vote endpoint is reached with a real personal token
    return schema


def test_no_operation_answers_a_server_error(api_schema, database_url):
    """Each operation in turn, EXAMPLES well-formed and EXAMPLES malformed cases (derandomized:
    the same inputs on every run, so a failure reproduces)."""
    backend = database_url.split(":", 1)[0]
    headers = {"Authorization": f"Bearer {api_schema.fuzz_token}"}
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12

    cases = [
        (operation, mode)
        for operation in operations
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    ]
    for operation, mode in cases:

        @hypothesis.given(case=operation.as_strategy(mode))
        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def run(case):
            response = case.call(headers=headers)
            TALLY[(backend, "requests")] += 1
            if response.status_code >= 500:
                TALLY[(backend, "5xx")] += 1
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query!r} -> "
                    f"{response.status_code}: {response.text[:200]}"
                )

        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            if mode is schemathesis.GenerationMode.POSITIVE:
                raise
            continue  # no parameter that could be malformed (e.g. GET /api/digest/timezones)
        TALLY[(backend, f"operation {operation.label}")] = 1
    assert not failures, "\n".join(failures[:20])


def teardown_module(_module):
    for backend in sorted({b for b, _ in TALLY}):
        operations = sum(1 for b, k in TALLY if b == backend and k.startswith("operation"))
        print(
            f"\nschemathesis on {backend}: {operations} operations, "
            f"{TALLY[(backend, 'requests')]} requests, {TALLY[(backend, '5xx')]} 5xx"
        )
