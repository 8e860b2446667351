"""The library and "For you": bibliography import of every format (and of broken files), saving,
"not interested", notes, collections, the personal ranking and its reasons, /for-you, the API,
the private feed, and that nobody reads another reader's library, notes, feed or ranking."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from fastapi.testclient import TestClient

from paperfeed import accounts, library, recommend, voting
from paperfeed.errors import NotFound
from paperfeed.sources import bibliography
from paperfeed.sources.http import PoliteClient
from paperfeed.store import papers
from paperfeed.store import vectors as vector_store
from paperfeed.web import create_app

from .conftest import make_paper
from .recorded import recorded
from .test_web_accounts import PASSWORD, csrf, log_in

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="alert(1)">'
DAY = dt.date(2025, 11, 20)


# -- parsing ------------------------------------------------------------------------------------
BIBTEX = r"""
% exported by a reference manager
@string{cvpr = "CVPR"}
@article{vaswani2017, title={Attention Is {All} You Need},
  author={Vaswani, Ashish and Shazeer, Noam},
  journal={arXiv preprint arXiv:1706.03762}, year={2017}}
@misc{broken, title = "Unbalanced {entry", author={X}

@inproceedings{schon, title={Sch\"{o}n and \emph{Fast}}, booktitle = {CVPR}, year = 2020,
  doi={10.1109/CVPR.2020.001}, abstract={We make things fast.}}
@misc{nothing, author={Nobody}}
@misc{eprint, title={Deep thing}, eprint={2301.00001v2}, archivePrefix={arXiv}}
@misc{again, title={Attention is all you need}, eprint={1706.03762}}
"""


def test_bibtex_reads_what_it_can_and_reports_the_rest():
    parsed = bibliography.parse(BIBTEX.encode())
    assert parsed.format == "bibtex"
    titles = [r.title for r in parsed.references]
    assert (
        titles[0] == "Attention Is All You Need" and parsed.references[0].arxiv_id == "1706.03762"
    )
    assert "Schön and Fast" in titles and parsed.references[1].doi == "10.1109/CVPR.2020.001"
    assert parsed.references[2].arxiv_id == "2301.00001"  # version dropped
    problems = {p.entry: p.message for p in parsed.problems}
    assert "unbalanced" in problems[2] and "neither" in problems[4]


def test_ris_csl_json_and_id_lists_are_detected_by_content():
    ris = (
        "TY  - JOUR\nTI  - A RIS title\nAU  - Doe, J\nUR  - https://arxiv.org/abs/2101.00001v2\n"
        "PY  - 2021///\nAB  - An abstract\n  that wraps.\nER  - \nTY  - JOUR\nAU  - nobody\nER  -\n"
        "TY  - GEN\nTI  - Unterminated\n"
    )
    parsed = bibliography.parse(ris.encode())
    assert parsed.format == "ris" and parsed.references[0].arxiv_id == "2101.00001"
    assert parsed.references[0].year == 2021 and parsed.references[0].abstract.endswith("wraps.")
    assert parsed.references[1].title == "Unterminated" and len(parsed.problems) == 2

    csl = json.dumps(
        [
            {
                "title": "CSL one",
                "author": [{"family": "Doe", "given": "J"}],
                "URL": "http://arxiv.org/abs/2002.00002",
            },
            5,
            {"note": "nothing"},
            {"title": "Journal paper", "DOI": "10.1000/xyz", "issued": {"date-parts": [[2019, 3]]}},
        ]
    )
    parsed = bibliography.parse(csl)
    assert parsed.format == "csl-json" and [r.arxiv_id for r in parsed.references] == [
        "2002.00002",
        None,
    ]
    assert parsed.references[1].year == 2019 and len(parsed.problems) == 2

    parsed = bibliography.parse(
        "# my list\n2101.00001\nhttps://arxiv.org/pdf/2102.00002v3.pdf\nnonsense\n"
    )
    assert parsed.format == "ids" and [r.arxiv_id for r in parsed.references] == [
        "2101.00001",
        "2102.00002",
    ]
    assert "nonsense" in parsed.problems[0].message


def test_broken_files_are_reported_not_fatal():
    latin1 = "@misc{x, title={Sch\xf6n}}".encode("latin-1")
    parsed = bibliography.parse(latin1)
    assert parsed.references[0].title == "Schön" and "not UTF-8" in parsed.problems[0].message
    assert bibliography.parse("[not json").problems[0].message.startswith("not valid JSON")
    with pytest.raises(Exception, match="cannot tell the format"):
        bibliography.parse("just some prose\nwith no ids")
    big = (
        "\n".join(f"@misc{{k{i}, title={{Paper {i}}}}}" for i in range(20_000))
        + "\n@misc{open, title={x"
    )
    parsed = bibliography.parse(big)
    assert len(parsed.references) == 20_000 and "unbalanced" in parsed.problems[-1].message


# -- the library service ------------------------------------------------------------------------
@pytest.fixture
def people(db, settings):
    ada = accounts.create_user(db, settings, email="ada@example.org", password=PASSWORD)
    bob = accounts.create_user(db, settings, email="bob@example.org", password=PASSWORD)
    root = accounts.create_user(
        db, settings, email="root@example.org", password=PASSWORD, admin=True
    )
    return ada, bob, root


def topic_vectors(n_topics: int, per_topic: int, *, seed: int = 0, spread: float = 0.35):
    """Unit vectors in `n_topics` tight clusters: (vectors, topic of each)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_topics, 384))
    rows, labels = [], []
    for t in range(n_topics):
        for _ in range(per_topic):
            rows.append(
                centres[t] / np.linalg.norm(centres[t]) + spread * rng.normal(size=384) / 19.6
            )
            labels.append(t)
    m = np.array(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True), labels


@pytest.fixture
def catalogue(db, settings):
    """60 papers on one day in 3 topics of 20, with stored vectors; ids 2511.00001-60."""
    vectors, labels = topic_vectors(3, 20)
    ps = [
        make_paper(i + 1, title=f"Topic {labels[i]} paper {i + 1}", listing_day=DAY)
        for i in range(60)
    ]
    with db.transaction() as conn:
        papers.upsert_many(conn, ps)
        vector_store.save(
            conn,
            settings.embedding_model,
            [(p.arxiv_id, vectors[i].tobytes()) for i, p in enumerate(ps)],
        )
    return {p.arxiv_id: labels[i] for i, p in enumerate(ps)}


def pid(n: int) -> str:
    return f"2511.{n:05d}"


def test_save_dismiss_note_and_collections_are_the_readers_own(db, people, catalogue):
    ada, bob, _root = people
    item = library.save_paper(db, ada, pid(1))
    assert library.save_paper(db, ada, pid(1)).id == item.id  # saving twice changes nothing
    library.set_note(db, ada, item.id, HOSTILE)
    assert library.item(db, ada, item.id).note == HOSTILE  # stored as typed, escaped when shown
    with pytest.raises(NotFound):
        library.item(db, bob, item.id)
    with pytest.raises(NotFound):
        library.set_note(db, bob, item.id, "mine now")
    assert not library.remove_item(db, bob, item.id) and library.items(db, bob) == []
    col = library.create_collection(db, ada, "Reading <group>")
    library.file_item(db, ada, col.id, item.id, on=True)
    with pytest.raises(NotFound):
        library.file_item(db, bob, col.id, item.id, on=True)
    with pytest.raises(NotFound):
        library.public_collection(db, col.id)  # private by default
    library.set_public(db, ada, col.id, True)
    shown, entries = library.public_collection(db, col.id)
    assert [e.arxiv_id for e in entries] == [pid(1)] and entries[0].note == ""  # notes stay private
    with pytest.raises(NotFound):
        library.set_public(db, bob, col.id, False)
    assert library.dismiss(db, ada, pid(2)) and not library.dismiss(db, ada, pid(2))
    assert library.undismiss(db, ada, pid(2))
    library.dismiss(db, ada, pid(3))
    library.save_paper(db, ada, pid(3))  # saving outranks an earlier "not interested"
    assert library.signals(db, ada).dismissed == []
    with pytest.raises(NotFound):
        library.save_paper(db, ada, "2511.99999")


def arxiv_server(*, down: bool = False):
    """A local arXiv stand-in answering id_list queries from recorded responses."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            if down:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = recorded("arxiv_page2.xml" if "2511.14003" in self.path else "arxiv_empty.xml")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/api/query"


@pytest.mark.parametrize("down", [False, True])
def test_import_links_fetches_reports_and_survives_arxiv_down(
    db, settings, people, catalogue, down
):
    ada, bob, _root = people
    server, url = arxiv_server(down=down)
    s = dataclasses.replace(settings, arxiv_api_url=url, arxiv_min_interval=0.0, http_retries=0)
    data = (
        f"@misc{{a, title={{Local copy}}, eprint={{{pid(1)}}}}}\n"
        "@misc{b, title={Fetched}, eprint={2511.14003}}\n"
        "@misc{c, eprint={2511.99998}}\n"
        f"@misc{{d, title={{{HOSTILE}}}, abstract={{no id at all}}}}\n"
        f"@misc{{e, title={{Local copy again}}, eprint={{{pid(1)}v3}}}}\n"
        "@misc{f, author={only an author}}\n"
    )
    try:
        with PoliteClient.from_settings(s) as client:
            report = library.import_references(
                db, s, ada, data, client=client, collection="Imported"
            )
    finally:
        server.shutdown()
        server.server_close()
    assert report.format == "bibtex" and report.merged == 1 and report.skipped == 1
    entries = {e.title: e for e in library.items(db, ada)}
    assert entries[HOSTILE].arxiv_id is None and entries[HOSTILE].abstract == "no id at all"
    local = [e for e in entries.values() if e.arxiv_id == pid(1)]
    assert len(local) == 1 and local[0].title.startswith("Topic")  # the catalogue's title
    if down:
        assert report.pending == 2 and report.fetched == 0  # kept from the file, not failed
        assert {"2511.14003", "2511.99998"} <= {e.arxiv_id for e in entries.values()}
    else:
        assert report.fetched == 1 and report.unknown == 1
        with db.connect() as conn:
            assert papers.get(conn, "2511.14003").title  # now in the catalogue
        assert "2511.99998" not in {e.arxiv_id for e in entries.values()}  # not invented
        assert any(e.status == "unknown" and "2511.99998" in e.message for e in report.entries)
    assert library.items(db, bob) == []


def test_export_bibtex_and_csl_json_round_trip_hostile_values(db, people, catalogue):
    ada, _bob, _root = people
    library.import_references(
        db,
        None,
        ada,
        '[{"title": "Braces } and { \\\\ end", "author": [{"literal": "A } B"}], "note": "x"}]',
    )
    item = library.save_paper(db, ada, pid(2))
    library.set_note(db, ada, item.id, "my } note {")
    bib = library.to_bibtex(library.items(db, ada))
    again = bibliography.parse(bib)
    assert not again.problems and len(again.references) == 2
    csl = json.loads(library.to_csl_json(library.items(db, ada)))
    assert {c["title"] for c in csl} >= {"Braces } and { \\ end"}


# -- the ranking ----------------------------------------------------------------------------------
def test_ranking_learns_from_saves_and_dismissals(db, settings, people, catalogue):
    ada, bob, _root = people
    assert recommend.rank_period(db, settings, ada, DAY, DAY) == []  # cold: nothing to rank by
    for n in (1, 2, 3):  # topic 0
        library.save_paper(db, ada, pid(n))
    picks = recommend.rank_period(db, settings, ada, DAY, DAY, limit=1000)
    assert len(picks) == 57 and not {pid(1), pid(2), pid(3)} & {p.paper.arxiv_id for p in picks}
    top = [catalogue[p.paper.arxiv_id] for p in picks[:17]]
    assert top == [0] * 17
    assert picks[0].reason.startswith("Close to “Topic 0 paper")
    assert recommend.rank_period(db, settings, bob, DAY, DAY) == []  # bob's is his own

    # Liking topic 1 too, then dismissing 5 of its papers: it falls in the top 20.
    for n in (21, 22, 23):
        library.save_paper(db, ada, pid(n))
    before = [
        catalogue[p.paper.arxiv_id]
        for p in recommend.rank_period(db, settings, ada, DAY, DAY, limit=20)
    ]
    for n in range(24, 29):
        library.dismiss(db, ada, pid(n))
    after = [
        catalogue[p.paper.arxiv_id]
        for p in recommend.rank_period(db, settings, ada, DAY, DAY, limit=20)
    ]
    assert after.count(1) <= before.count(1) / 2
    library.undismiss(db, ada, pid(24))  # undo is seen at once
    assert pid(24) in {p.paper.arxiv_id for p in recommend.rank_period(db, settings, ada, DAY, DAY)}


def test_a_kept_listing_window_follows_new_vectors_hidden_papers_and_new_text(
    db, settings, people, catalogue
):
    """Rankings reuse the day's papers read once per process, and see every change at once: a
    paper embedded later, a paper hidden, a paper's new version (re-embedded)."""
    ada, _bob, _root = people
    library.save_paper(db, ada, pid(1))

    def ranked() -> dict[str, recommend.Pick]:
        return {
            p.paper.arxiv_id: p
            for p in recommend.rank_period(db, settings, ada, DAY, DAY, limit=1000)
        }

    assert len(ranked()) == 59 and ranked().keys() == ranked().keys()  # the second from the kept
    late = make_paper(61, title="Topic 0 paper arriving late", listing_day=DAY)
    with db.transaction() as conn:
        papers.upsert_many(conn, [late])
    assert pid(61) not in ranked()  # no vector yet: not rankable
    vector = topic_vectors(3, 20)[0][0]  # topic 0's first paper's vector
    with db.transaction() as conn:
        vector_store.save(conn, settings.embedding_model, [(pid(61), vector.tobytes())])
    assert pid(61) in ranked()
    with db.transaction() as conn:
        papers.set_hidden(conn, pid(2), True)
    assert pid(2) not in ranked()
    with db.transaction() as conn:
        old = papers.get(conn, pid(3))
        papers.upsert_many(
            conn, [dataclasses.replace(old, version=old.version + 1, title="Renamed paper three")]
        )
    with db.connect() as conn:  # new text: the old vector is gone until it is embedded again
        assert not vector_store.vectors_of(conn, settings.embedding_model, [pid(3)])
    assert pid(3) not in ranked()
    with db.transaction() as conn:
        vector_store.save(conn, settings.embedding_model, [(pid(3), vector.tobytes())])
    assert ranked()[pid(3)].paper.title == "Renamed paper three"


def test_a_refit_after_a_dismissal_ranks_as_a_fit_from_scratch(db, settings, people, catalogue):
    ada, _bob, _root = people
    for n in (1, 2, 21):
        library.save_paper(db, ada, pid(n))
    first = recommend.reader(db, settings, ada.id)
    library.dismiss(db, ada, pid(22))
    again = recommend.reader(db, settings, ada.id)
    assert again.terms is first.terms  # only the dismissals were read again
    assert again.dismissed_ids == {pid(22)} and len(again.profile.negatives) == 1
    fresh = recommend.refresh(db, settings, ada.id, stamp=again.stamp)
    found = recommend.candidates(db, settings, DAY, DAY)
    assert recommend.rank(again, found) == recommend.rank(fresh, found)
    library.save_paper(db, ada, pid(3))  # a new positive: everything is read again
    third = recommend.reader(db, settings, ada.id)
    assert third.terms is not again.terms and len(third.positives) == 4


def test_word_weights_of_a_new_day_are_counted_off_the_request_path(db, settings, catalogue):
    try:
        recommend.warm_words(db).join(timeout=120)
        assert recommend.words(db)[0] == DAY
        with db.transaction() as conn:
            papers.upsert_many(conn, [make_paper(99, listing_day=DAY + dt.timedelta(days=1))])
        assert recommend.words(db)[0] == DAY  # at once: the previous day's, while counting
        deadline = time.monotonic() + 120
        while recommend.words(db)[0] != DAY + dt.timedelta(days=1):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        recommend._WARM.discard(id(db))
        recommend._WORDS.pop(id(db), None)


def test_another_readers_library_votes_and_dismissals_never_shape_a_ranking(
    db, settings, people, catalogue
):
    ada, bob, _root = people
    for n in (1, 2, 21):
        library.save_paper(db, ada, pid(n))

    def ranking():
        return [
            (p.paper.arxiv_id, round(p.score, 5), p.reason)
            for p in recommend.rank_period(db, settings, ada, DAY, DAY, limit=1000)
        ]

    alone = ranking()
    library.import_references(
        db, settings, bob, json.dumps([{"title": HOSTILE, "abstract": "Topic 2 " * 20}])
    )
    for n in (41, 42, 43, 44):
        library.save_paper(db, bob, pid(n))
    for n in (3, 4, 5, 22, 23):
        library.dismiss(db, bob, pid(n))
    assert ranking() == alone  # bob's signals change nothing of ada's
    theirs = recommend.rank_period(db, settings, bob, DAY, DAY, limit=1000)
    assert {pid(41), pid(42)} & {a for a, _s, _r in alone}  # bob's saves stay in ada's
    assert not {pid(41), pid(42)} & {p.paper.arxiv_id for p in theirs}
    titles = {f"Topic {catalogue[pid(n)]} paper {n}" for n in (1, 2, 21)}
    assert all(r[r.index("“") + 1 : r.index("”")] in titles for _a, _s, r in alone)
    assert all(HOSTILE not in r for _a, _s, r in alone)


def test_importing_the_same_file_twice_merges_every_entry(db, people, catalogue):
    ada, _bob, _root = people
    ids = "\n".join([pid(1), pid(2), pid(2), pid(3)])
    first = library.import_references(db, None, ada, ids)
    assert (first.added, first.merged) == (3, 1)
    again = library.import_references(db, None, ada, ids)
    assert (again.added, again.merged) == (0, 4)
    assert sorted(i.arxiv_id for i in library.items(db, ada)) == [pid(1), pid(2), pid(3)]


def test_for_you_shows_each_paper_once_and_pages_back(db, settings, people, catalogue):
    ada, _bob, _root = people
    cold = recommend.for_you(db, settings, ada, now=dt.datetime(2025, 11, 21, tzinfo=dt.UTC))
    assert cold.cold
    library.save_paper(db, ada, pid(1))
    first = recommend.for_you(db, settings, ada, now=dt.datetime(2025, 11, 21, tzinfo=dt.UTC))
    assert first.new and len(first.picks) == recommend.PER_VISIT
    second = recommend.for_you(db, settings, ada, now=dt.datetime(2025, 11, 21, 1, tzinfo=dt.UTC))
    assert second.new and len(second.picks) == 59 - recommend.PER_VISIT
    assert not {p.paper.arxiv_id for p in first.picks} & {p.paper.arxiv_id for p in second.picks}
    third = recommend.for_you(db, settings, ada, now=dt.datetime(2025, 11, 21, 2, tzinfo=dt.UTC))
    assert not third.new and third.pages == 2  # nothing new: the latest batch again
    back = recommend.for_you(db, settings, ada, page=1)
    assert [p.paper.arxiv_id for p in back.picks] == [p.paper.arxiv_id for p in first.picks]
    # The API ranks the whole day whatever was seen, library papers left out.
    api = recommend.api_for_you(db, settings, ada, day=DAY, limit=1000)
    assert len(api) == 59


# -- the web ---------------------------------------------------------------------------------------
@pytest.fixture
def site(db, settings, people, catalogue):
    with TestClient(create_app(settings, db=db)) as client:
        yield client


def test_buttons_save_and_dismiss_with_htmx_and_forms(site, db, people):
    ada, _bob, _root = people
    log_in(site)
    page = site.get(f"/papers/{pid(5)}").text
    assert f'action="/papers/{pid(5)}/save"' in page and "Not interested" in page
    token = csrf(site, f"/papers/{pid(5)}")
    r = site.post(
        f"/papers/{pid(5)}/save", data={"csrf_token": token}, headers={"hx-request": "true"}
    )
    assert r.status_code == 200 and "Saved ✓" in r.text and "<html" not in r.text
    assert pid(5) in {e.arxiv_id for e in library.items(db, ada)}
    r = site.post(
        f"/papers/{pid(6)}/not-interested", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "Not interested · undo" in site.get(f"/papers/{pid(6)}").text
    assert site.post(f"/papers/{pid(7)}/save", data={"csrf_token": "forged"}).status_code == 403
    assert "Saved ✓" in site.get(f"/papers?date={DAY}").text  # on the daily cards too
    assert "Sort: for you" in site.get(f"/papers?date={DAY}").text


def test_nobody_else_reads_a_library_notes_feed_or_ranking(site, db, settings, people):
    ada, bob, root = people
    item = library.save_paper(db, ada, pid(1))
    library.set_note(db, ada, item.id, "ada's secret note")
    col = library.create_collection(db, ada, "Private reading")
    library.file_item(db, ada, col.id, item.id, on=True)
    feed_token = library.new_feed_token(db, ada)
    for who in ("bob@example.org", "root@example.org"):  # a reader, and an administrator
        site.cookies.clear()
        log_in(site, who)
        page = site.get("/library").text
        assert "secret note" not in page and "Private reading" not in page
        assert site.get(f"/library?collection={col.id}").status_code == 404
        assert site.get(f"/collections/{col.id}").status_code == 404
        assert "Topic" not in site.get(f"/library/export.bib?collection={col.id}").text
        token = csrf(site, "/library")
        assert (
            site.post(
                f"/library/items/{item.id}/note", data={"note": "x", "csrf_token": token}
            ).status_code
            == 404
        )
        assert (
            site.post(f"/library/items/{item.id}/remove", data={"csrf_token": token}).status_code
            == 404
        )
        assert (
            site.post(
                f"/library/collections/{col.id}/public", data={"csrf_token": token}
            ).status_code
            == 404
        )
        assert site.get(f"/for-you/feed/{feed_token[:-2]}xx.atom").status_code == 404
    assert library.item(db, ada, item.id).note == "ada's secret note"
    # The secret feed works for whoever holds it until revoked.
    assert site.get(f"/for-you/feed/{feed_token}.atom").status_code == 200
    library.revoke_feed_token(db, ada)
    assert site.get(f"/for-you/feed/{feed_token}.atom").status_code == 404
    # The API answers for the token's owner only.
    ada_token = accounts.create_api_token(db, user=ada, name="t")
    bob_token = accounts.create_api_token(db, user=bob, name="t")
    mine = site.get(
        f"/api/for-you?date={DAY}&limit=1000", headers={"Authorization": f"Bearer {ada_token}"}
    )
    theirs = site.get(
        f"/api/for-you?date={DAY}&limit=1000", headers={"Authorization": f"Bearer {bob_token}"}
    )
    assert mine.status_code == 200 and len(mine.json()["papers"]) == 59
    assert {"arxiv_id", "title", "score", "reason"} <= set(mine.json()["papers"][0])
    cold = theirs.json()["papers"]  # bob has no signal: the day's order, nothing of ada's
    assert len(cold) == 60 and cold[0]["reason"].startswith("Trending")
    assert [p["arxiv_id"] for p in cold] != [p["arxiv_id"] for p in mine.json()["papers"]]
    assert site.get(f"/api/for-you?date={DAY}").status_code == 401
    assert (
        site.get(
            f"/api/for-you?date={DAY}&limit=1001", headers={"Authorization": f"Bearer {ada_token}"}
        ).status_code
        == 400
    )


def test_hostile_imports_and_notes_never_reach_a_page_as_markup(site, db, people):
    ada, _bob, _root = people
    log_in(site)
    token = csrf(site, "/library")
    bib = f"@misc{{x, title={{{HOSTILE}}}, author={{{HOSTILE}}}, abstract={{a}}}}\n"
    bib = (bib + "@misc{broken, title={x").encode()
    r = site.post(
        "/library/import",
        data={"csrf_token": token, "collection": HOSTILE},
        files={"file": ("x.bib", bib)},
    )
    assert r.status_code == 200 and "unbalanced" in r.text
    item = library.items(db, ada)[0]
    site.post(f"/library/items/{item.id}/note", data={"note": HOSTILE, "csrf_token": token})
    col = library.collections(db, ada)[0]
    library.set_public(db, ada, col.id, True)
    for path in (
        "/library",
        f"/library?collection={col.id}",
        f"/collections/{col.id}",
        f"/collections/{col.id}/feed.atom",
    ):
        body = site.get(path).text
        assert "<script>window.__pwned" not in body and "<img src=x" not in body, path
    assert "&lt;script&gt;" in site.get("/library").text
    r = site.post(
        "/library/import",
        data={"csrf_token": token},
        files={"file": ("x.txt", b"\x00\x01 nothing")},
    )
    assert r.status_code == 400


# -- the command line -----------------------------------------------------------------------------
def test_cli_imports_exports_recommends_and_prints_a_token(
    db, settings, database_url, people, catalogue, tmp_path
):
    from typer.testing import CliRunner

    from paperfeed.cli import app

    runner = CliRunner()
    base = ["--database-url", database_url]
    ids = tmp_path / "mine.txt"
    ids.write_text(f"{pid(1)}\nhttps://arxiv.org/abs/{pid(2)}v2\nnot-an-id\n")
    r = runner.invoke(
        app,
        [
            *base,
            "library",
            "import",
            "--user",
            "ada@example.org",
            str(ids),
            "--no-fetch",
            "--no-embed",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "2 added" in r.output and "not an arXiv id" in r.output
    r = runner.invoke(app, [*base, "library", "import", "--user", "nobody@example.org", str(ids)])
    assert r.exit_code != 0
    r = runner.invoke(app, [*base, "library", "export", "--user", "ada@example.org"])
    assert r.exit_code == 0 and r.output.count("@misc{") == 2
    r = runner.invoke(
        app, [*base, "library", "export", "--user", "ada@example.org", "--format", "csl-json"]
    )
    assert {c["URL"] for c in json.loads(r.output)} == {
        f"https://arxiv.org/abs/{pid(1)}",
        f"https://arxiv.org/abs/{pid(2)}",
    }
    assert (
        runner.invoke(app, [*base, "library", "export", "--user", "bob@example.org"]).output == ""
    )
    r = runner.invoke(
        app, [*base, "recommend", "--user", "ada@example.org", "--date", str(DAY), "--limit", "5"]
    )
    assert r.exit_code == 0 and "Close to" in r.output and "Topic 0" in r.output
    r = runner.invoke(app, [*base, "users", "token", "ada@example.org"])
    token = r.stdout.strip()
    assert r.exit_code == 0 and re.fullmatch(r"pf_[\w-]+", token)
    assert accounts.user_for_api_token(db, token).email == "ada@example.org"


def test_digest_has_a_personal_section_for_readers_with_a_library(db, settings, people, catalogue):
    from paperfeed import digests
    from paperfeed.models import Preferences

    ada, bob, _root = people
    for n in (1, 2):
        library.save_paper(db, ada, pid(n))
    library.dismiss(db, ada, pid(3))
    composer = digests.Composer(db, settings, now=dt.datetime(2025, 11, 20, 12, tzinfo=dt.UTC))
    mine = composer.compose(Preferences(max_papers=5), user_id=ada.id)
    assert mine.sections[0].title == "For you" and len(mine.sections[0].papers) == 5
    shown = {p.arxiv_id for p in mine.sections[0].papers}
    assert {catalogue[a] for a in shown} == {0} and not shown & {pid(1), pid(2), pid(3)}
    theirs = composer.compose(Preferences(max_papers=5), user_id=bob.id)
    assert "For you" not in [s.title for s in theirs.sections]
    assert "For you" not in [s.title for s in composer.compose(Preferences()).sections]


def test_for_you_page_explains_picks_without_letting_titles_inject_markup(
    site, db, settings, people
):
    ada, _bob, _root = people
    log_in(site)
    cold = site.get("/for-you").text
    assert "Nothing to learn from yet" in cold
    with db.transaction() as conn:
        papers.upsert_many(conn, [make_paper(99, title=HOSTILE, listing_day=DAY)])
        vector = (np.ones(384) / np.sqrt(384)).astype(np.float32)
        vector_store.save(conn, settings.embedding_model, [(pid(99), vector.tobytes())])
    library.save_paper(db, ada, pid(99))
    page = site.get("/for-you").text
    assert "Close to “" in page and "<script>window.__pwned" not in page
    assert "&lt;script&gt;" in page
    ranked = site.get(f"/for-you?date={DAY}").text
    assert "Close to" in ranked and 'class="votes voted"' not in ranked
    top = re.search(r'data-arxiv-id="([^"]+)"', ranked)[1]
    voting.set_vote(db, user=ada, arxiv_id=top, up=True)
    ranked = site.get(f"/for-you?date={DAY}").text  # the reader's own upvote shows on the card
    assert ranked.count('class="votes voted"') == 1 and f'action="/papers/{top}/vote"' in ranked
    site.cookies.clear()
    assert site.get("/for-you", follow_redirects=False).status_code in (303, 401)
