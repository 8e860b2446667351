"""Keyword search on SQLite FTS5 and PostgreSQL full text: matching, filters, sorts, snippets,
the index following upserts, and hostile queries that must never fail."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperfeed import search
from paperfeed.cli import app
from paperfeed.store import papers
from paperfeed.web import create_app

from .conftest import make_paper


@pytest.fixture
def corpus(db):
    rows = [
        make_paper(
            1,
            title="TIES-Merging: Resolving Interference When Merging Models",
            abstract="Merging fine-tuned models loses accuracy because of sign conflicts "
            "between parameters; we trim, elect signs and merge.",
            authors=["Prateek Yadav", "Colin Raffel"],
            upvotes=50,
            code_url="https://github.com/prateeky2806/ties-merging",
            categories=["cs.LG"],
            listing_day=dt.date(2025, 11, 18),
        ),
        make_paper(
            2,
            title="Diffusion Models for Video Generation",
            abstract="We make videos with latent diffusion <b>and</b> <script>x</script>.",
            authors=["Ada Lovelace"],
            upvotes=5,
            categories=["cs.CV"],
            listing_day=dt.date(2025, 11, 20),
        ),
        make_paper(
            3,
            title="Model merging survey",
            abstract="A survey of merging methods for large language models.",
            authors=["Yann LeCun"],
            upvotes=80,
            categories=["cs.CL", "cs.LG"],
            listing_day=dt.date(2025, 11, 21),
        ),
    ]
    with db.transaction() as conn:
        papers.upsert_many(conn, rows)
    return db


def ids(results):
    return [h.paper.arxiv_id[-1] for h in results.hits]


def test_words_rank_title_matches_first(corpus):
    r = search.search(corpus, "merging models sign conflicts", mode="keyword")
    assert ids(r)[0] == "1" and "3" in ids(r) and r.notice is None


def test_phrase_author_and_id(corpus):
    assert ids(search.search(corpus, '"sign conflicts"', mode="keyword")) == ["1"]
    assert ids(search.search(corpus, 'merging author:"Yann LeCun"', mode="keyword")) == ["3"]
    jump = search.search(corpus, "https://arxiv.org/abs/2511.00002v1")
    assert jump.jump == "2511.00002" and ids(jump) == ["2"]


def test_filters_and_sorts(corpus):
    s = lambda q, **kw: ids(search.search(corpus, q, mode="keyword", **kw))  # noqa: E731
    assert s("merging", has_code=True) == ["1"]
    assert s("merging", categories=["cs.CL"]) == ["3"]
    assert s("merging", since=dt.date(2025, 11, 19)) == ["3"]
    assert s("merging", until=dt.date(2025, 11, 19)) == ["1"]
    assert s("merging", sort="upvotes") == ["3", "1"]
    assert s("merging", sort="date") == ["3", "1"]


def test_date_window_finds_papers_inserted_out_of_order(db):
    """A short window bounds the keyword search to its papers' rowid range: a window whose
    papers were inserted around another day's (a back-fill) still finds all of its own and
    nothing of the day in between; a window with no papers finds nothing."""
    day, other = dt.date(2025, 11, 18), dt.date(2025, 11, 19)
    with db.transaction() as conn:
        for n, listed in ((1, day), (2, other), (3, day)):
            papers.upsert_many(
                conn, [make_paper(n, title=f"Sparse attention {n}", listing_day=listed)]
            )
    s = lambda **kw: sorted(ids(search.search(db, "sparse attention", mode="keyword", **kw)))  # noqa: E731
    assert s(since=day, until=day) == ["1", "3"]
    assert s(since=other, until=other) == ["2"]
    assert s(since=day) == ["1", "2", "3"]
    assert s(since=dt.date(2025, 12, 1)) == []
    assert s(since=dt.date(2020, 1, 1)) == ["1", "2", "3"]  # a wide window, ranked without bounds


def test_snippets_mark_terms_and_escape_html(corpus):
    (hit,) = search.search(corpus, "latent diffusion", mode="keyword").hits
    assert "<mark>latent</mark>" in hit.snippet
    # PostgreSQL's headline drops tag-like text, SQLite keeps it escaped: no live tag either way.
    assert "<" not in hit.snippet.replace("<mark>", "").replace("</mark>", "")


def test_index_follows_upserts_and_hides(corpus):
    with corpus.transaction() as conn:
        papers.upsert(
            conn,
            make_paper(
                2, version=2, title="Completely renamed work", abstract="Nothing about video now."
            ),
        )
        papers.set_hidden(conn, "2511.00003", True)
    assert ids(search.search(corpus, "renamed", mode="keyword")) == ["2"]
    assert ids(search.search(corpus, "diffusion", mode="keyword")) == []
    assert "3" not in ids(search.search(corpus, "survey merging", mode="keyword"))


def test_other_modes_fall_back_with_a_notice(corpus):
    r = search.search(corpus, "merging")
    assert r.mode == "keyword" and "not available" in r.notice and ids(r)


HOSTILE = [
    '"',
    '"""',
    "*",
    "-",
    ":",
    "NEAR(a b)",
    "AND OR NOT",
    'a" OR 1=1 --',
    "'; DROP TABLE papers; --",
    "😀🔥",
    "title:merging",
    "^",
    "(((",
    "x" * 10_000,
    "merging " * 2000,
    "\x00\x01",
    "author:",
    'author:""',
]


def _mentions(paper, words) -> bool:
    from paperfeed.search.snippet import stem

    text = " ".join([paper.title, paper.abstract, *paper.authors]).lower()
    return any(stem(w) in text for w in words)


@pytest.mark.parametrize("q", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_return_results_or_nothing(corpus, settings, q):
    """Whatever is typed: no error, no syntax read from it, and every hit has one of the
    query's words (a query read as `*` or `NEAR` would list unrelated papers); an `author:`
    naming nobody finds nothing and says so."""
    r = search.search(corpus, q, mode="keyword")
    assert len(r.query.text) <= search.MAX_QUERY
    words = [*r.query.terms, *(w for p in r.query.phrases for w in p)]
    assert all(_mentions(h.paper, words) for h in r.hits), (q, ids(r))
    if q.startswith("author:"):
        assert r.hits == [] and "needs a name" in r.notice
    if q.startswith("merging "):
        assert sorted(ids(r)) == ["1", "3"]  # a long query is cut, not refused
    with TestClient(create_app(settings, db=corpus)) as c:
        api = c.get("/api/search", params={"q": q})
        page = c.get("/search", params={"q": q}, follow_redirects=False)
    assert api.status_code == 200 and page.status_code in (200, 303)
    assert [h["paper"]["arxiv_id"][-1] for h in api.json()["hits"]] == ids(r) or not words
    assert "<script>" not in page.text.replace("<script>x</script>", "")


def test_authors_match_by_family_name_initials_and_accents(db):
    """`author:` matches through the indexed author table: family name alone, full name,
    initials and accents, but not a different given name or a name in the abstract."""
    rows = [
        make_paper(1, title="One", authors=["Sanja Fidler", "Jun Gao"]),
        make_paper(2, title="Two", authors=["S. Fidler"]),
        make_paper(3, title="Three", authors=["Anna Fidler"]),
        make_paper(4, title="Four", authors=["José Núñez-García"], abstract="Thanks to Fidler."),
        make_paper(
            5, title="Five", authors=["Yann LeCun", "Jun Gao"], listing_day=dt.date(2025, 11, 22)
        ),
    ]
    with db.transaction() as conn:
        papers.upsert_many(conn, rows)
    s = lambda q: sorted(ids(search.search(db, q, mode="keyword")))  # noqa: E731
    assert s("author:Fidler") == ["1", "2", "3"]
    assert s('author:"Sanja Fidler"') == ["1", "2"]
    assert s('author:"S Fidler"') == ["1", "2"]
    assert s('author:"Anna Fidler"') == ["3"]
    assert s('author:"jose nunez garcia"') == ["4"]
    assert s("author:García") == ["4"]
    assert s('author:"Sanja Fidler" author:"Jun Gao"') == ["1"]
    assert s("one author:Fidler") == ["1"]
    r = search.search(db, 'author:"Nobody Known"', mode="keyword")
    assert r.hits == [] and "Nobody Known".lower() in r.notice.lower()
    from paperfeed.store import authors

    with db.connect() as conn:
        assert authors.papers_of(conn, "Jun Gao") == ["2511.00005", "2511.00001"]  # newest first
        assert authors.coauthors(conn, "Jun Gao") == [("Sanja Fidler", 1), ("Yann LeCun", 1)]
        assert authors.display_name(conn, "jose nunez-garcia") == "José Núñez-García"
        assert authors.count_papers(conn, "Fidler") == 3 and not authors.known(conn, "")
    with db.transaction() as conn:  # a new version with other authors moves the rows
        papers.upsert(conn, make_paper(2, version=2, title="Two", authors=["Ada Lovelace"]))
        papers.set_hidden(conn, "2511.00001", True)
    assert s('author:"Sanja Fidler"') == [] and s("author:Lovelace") == ["2"]


def test_bad_filters_give_an_empty_page_with_a_notice(corpus, settings):
    """Contradictory dates, unknown categories and authors: nothing, and a notice saying why,
    never an error and never the unfiltered matches."""
    day = dt.date(2025, 11, 20)
    r = search.search(corpus, "merging", since=day, until=day - dt.timedelta(days=3))
    assert r.hits == [] and "ends before it starts" in r.notice
    r = search.search(corpus, "merging", categories=["nope.XX"])
    assert r.hits == [] and "nope.XX" in r.notice
    with TestClient(create_app(settings, db=corpus)) as c:
        api = c.get(
            "/api/search", params={"q": "merging", "since": "2025-11-20", "until": "2025-11-01"}
        )
        assert api.status_code == 200 and api.json()["hits"] == [] and api.json()["notice"]
        page = c.get("/search", params={"q": "author:<script>alert(1)</script>"})
        assert page.status_code == 200 and "<script>alert" not in page.text
        assert "has an author named" in page.text  # the notice, not just the empty page


def test_web_surfaces(corpus, settings, database_url):
    with TestClient(create_app(settings, db=corpus)) as c:
        page = c.get("/search", params={"q": "merging", "sort": "upvotes"})
        assert page.status_code == 200 and page.text.index("2511.00003") < page.text.index(
            "2511.00001"
        )
        assert 'name="q"' in c.get("/papers?date=2025-11-20").text  # a search box on every page
        jump = c.get("/search", params={"q": "2511.00001"}, follow_redirects=False)
        assert jump.status_code == 303 and jump.headers["location"] == "/papers/2511.00001"
        assert c.get("/search", params={"q": ""}, follow_redirects=False).status_code == 303
        api = c.get(
            "/api/search", params={"q": "merging", "category": "cs.LG,cs.CL", "has_code": "true"}
        ).json()
        assert [h["paper"]["arxiv_id"] for h in api["hits"]] == ["2511.00001"]
        empty = c.get("/api/search", params={"q": "  "}).json()
        assert [h["paper"]["arxiv_id"] for h in empty["hits"]] == ["2511.00003"]  # latest day
        assert c.get("/api/search", params={"q": "x", "sort": "nope"}).status_code == 400
        assert c.get("/api/search", params={"q": "x", "since": "2025-99-01"}).status_code == 400
    out = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["--database-url", database_url, "search", "merging", "--limit", "2"]
    )
    assert out.exit_code == 0 and "2511.00001" in out.output


def test_rare_words_weigh_more_than_common_ones(db):
    """Ranking has an inverse document frequency on both databases: a paper matching the rare
    word of a query beats one repeating the common word (PostgreSQL's ts_rank alone has none)."""
    rows = [
        make_paper(i, title=f"Language model number {i}", abstract="A model of models.")
        for i in range(1, 30)
    ]
    rows.append(make_paper(40, title="Some title", abstract="A quantum thing with one model."))
    rows.append(make_paper(41, title="Model model model", abstract="Model models modelled model."))
    with db.transaction() as conn:
        papers.upsert_many(conn, rows)
    r = search.search(db, "model quantum", mode="keyword")
    assert r.hits[0].paper.arxiv_id == "2511.00040"


def test_distinctive_terms_pick_what_a_paper_is_about():
    from paperfeed.search.query import distinctive_terms

    terms = distinctive_terms(
        "TIES-Merging: Resolving Interference",
        "We merge models. Merging models with sign conflicts; the sign "
        "election trims the updates of 2 models.",
    )
    assert terms[:4] == ["ties", "merging", "resolving", "interference"]
    assert terms[4] == "models" and "sign" in terms and "the" not in terms and "2" not in terms


def test_fusion_favours_papers_both_rankings_agree_on():
    """With the usual constant (60) a paper third in both rankings beats one first in only one;
    a small constant lets a single first place win."""
    keyword = [("x", 9.0), ("w", 5.0), ("y", 4.0)]
    semantic = [("z", 0.9), ("v", 0.8), ("y", 0.7)]
    assert search.fuse(keyword, semantic)[0][0] == "y"
    assert search.fuse(keyword, semantic) == search.fuse(keyword, semantic, k=search.RRF_K)
    assert [i for i, _s in search.fuse(keyword, semantic, k=0)][:2] == ["x", "z"]


def test_fusion_counts_an_unembedded_paper_by_its_keyword_rank_and_pins_titles():
    """A paper with no vector yet is missing from the semantic ranking whatever it is about:
    it counts its keyword rank twice, so with nothing embedded hybrid is keyword search; pinned
    title matches come first."""
    keyword = [("a", 3.0), ("b", 2.0), ("c", 1.0)]
    semantic = [("b", 0.9), ("c", 0.8)]
    assert search.fuse(keyword, semantic)[0][0] == "b"  # a has no semantic support
    assert search.fuse(keyword, semantic, unembedded={"a"})[0][0] == "a"
    assert [i for i, _s in search.fuse(keyword, [], unembedded={"a", "b", "c"})] == ["a", "b", "c"]
    pinned = search.fuse(keyword, semantic, pinned=["c", "z"])
    assert [i for i, _s in pinned] == ["c", "z", "b", "a"]


def test_snippet_marks_word_forms_and_picks_the_densest_passage():
    from paperfeed.search.snippet import MARK_END, MARK_START, snippet

    text = (
        "Filler words come first here. " * 20 + "We train models; the trained model merges "
        "checkpoints. " + "More filler follows after that. " * 20
    )
    s = snippet(text, ["training", "models", "merging"])
    assert s.startswith("…") and s.endswith("…") and len(s) < 400
    for word in ("train", "models", "trained", "model", "merges"):
        assert f"{MARK_START}{word}{MARK_END}" in s
    assert snippet(text, ["quantum"]) is None and snippet("", ["x"]) is None
    html = search.mark(snippet("<b>Latent</b> diffusion & <script>", ["latent"]))
    assert html == "&lt;b&gt;<mark>Latent</mark>&lt;/b&gt; diffusion &amp; &lt;script&gt;"


def test_common_words_give_way_to_rare_ones_within_the_budget(db, monkeypatch):
    """With a budget of 5 scored matches: a query with a rare word drops the common one (only
    papers with the rare word come back); a query of common words only needs them all."""
    from paperfeed.store import search as store

    rows = [
        make_paper(i, title=f"Language model {i}", abstract="Plain words.") for i in range(1, 21)
    ]
    rows += [
        make_paper(30, title="Vision model", abstract="Cameras."),
        make_paper(31, title="Quantum annealing", abstract="Qubits, no models here."),
    ]
    with db.transaction() as conn:
        papers.upsert_many(conn, rows)
    monkeypatch.setitem(store.POSTINGS_BUDGET, db.engine.dialect.name, 5)
    rare = search.search(db, "model quantum", mode="keyword").hits
    assert [h.paper.arxiv_id for h in rare] == ["2511.00031"]
    common = {
        h.paper.arxiv_id for h in search.search(db, "language model", mode="keyword", limit=50).hits
    }
    assert common <= {f"2511.{i:05d}" for i in range(1, 21)}  # papers with both words
    # PostgreSQL ranks only the newest `budget` of them; FTS5 ranks them all cheaply.
    assert len(common) == (5 if db.engine.dialect.name == "postgresql" else 20)
    monkeypatch.setitem(store.POSTINGS_BUDGET, db.engine.dialect.name, 10_000)
    assert len(search.search(db, "language model", mode="keyword", limit=50).hits) == 22


def test_a_full_frequency_cache_is_cleared_without_losing_the_search(corpus, monkeypatch):
    """A long-running worker's document-frequency cache is bounded: once full it is cleared,
    and the search that found it full still gets its counts (it read a cleared cache before)."""
    from paperfeed.store import search as store

    full = {("elsewhere", str(i)): (0.0, 1) for i in range(50_001)}
    monkeypatch.setattr(store, "_df_cache", full)
    assert ids(search.search(corpus, "merging sign conflicts", mode="keyword"))[0] == "1"
    assert len(store._df_cache) < 10


def test_cli_filters_hold_and_bad_ones_say_why(corpus, database_url):
    """The terminal gets the same exact filters and notices as the page and the API; a hostile
    title is printed as text, not read as Rich markup."""
    with corpus.transaction() as conn:
        papers.upsert(conn, make_paper(4, title="[bold red]Merging[/] markup", authors=["X Y"]))
    run = lambda *a: CliRunner(env={"COLUMNS": "200"}).invoke(  # noqa: E731
        app, ["--database-url", database_url, "search", *a, "--mode", "keyword"]
    )
    by = run('merging author:"Yann LeCun"')
    assert by.exit_code == 0 and "2511.00003" in by.output and "2511.00001" not in by.output
    cat = run("merging", "--category", "cs.CL", "--since", "2025-11-19")
    assert "2511.00003" in cat.output and "2511.00001" not in cat.output
    nobody = run("merging author:Nobody")
    assert "No paper matches." in nobody.output and "Nobody" in nobody.output
    backwards = run("merging", "--since", "2025-11-20", "--until", "2025-11-01")
    assert backwards.exit_code == 0 and "ends before it starts" in backwards.output
    assert "[bold red]Merging[/] markup" in run("markup").output


def _rum_corpus(db) -> None:
    topics = ["graph", "quantum", "protein", "vision", "speech", "robot"]
    rows = []
    for i in range(1, 61):
        a, b = topics[i % 6], topics[(i * 5) % 7 % 6]
        rows.append(
            make_paper(
                i,
                title=f"{a.title()} learning with {b} models {i}",
                abstract=f"We study {a} {'and ' + b if i % 3 else ''} data; models of {a}.",
                upvotes=i % 4,
            )
        )
    with db.transaction() as conn:
        papers.upsert_many(conn, rows)
        papers.set_hidden(conn, "2511.00007", True)


RUM_QUERIES = [
    "quantum",
    "graph protein",
    "vision speech robot",
    '"graph learning" protein',
    "speech quantum",
    "nothingmatches",
]


def test_postgresql_ranks_alike_with_the_rum_index_and_without_it(db, monkeypatch):
    """Where the RUM extension is installed, migration 0010 indexes the search column with it and
    relevance searches rank their candidates from it; a database without that index (the
    extension absent, or the index dropped) falls back to GIN and ts_rank. On a catalogue whose
    matches all fit in RUM's depth, both give the same papers in the same order, hidden papers
    left out, and filtered or sorted searches keep working."""
    from paperfeed.store import rum
    from paperfeed.store import search as store

    if db.engine.dialect.name != "postgresql":
        pytest.skip("RUM is a PostgreSQL index access method")
    # Counts another test cached for this (reused) schema would skew the weights.
    monkeypatch.setattr(store, "_df_cache", {})
    _rum_corpus(db)
    with db.connect() as conn:
        available = conn.exec_driver_sql(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'rum'"
        ).scalar()
    rum.forget()
    with db.connect() as conn:
        assert (rum.operator(conn) is not None) == bool(available)

    def rankings():
        return {
            q: [
                (h.paper.arxiv_id, round(h.score, 9))
                for h in search.search(db, q, mode="keyword").hits
            ]
            for q in RUM_QUERIES
        }

    with_rum = rankings()
    assert with_rum["quantum"] and with_rum["graph protein"] and not with_rum["nothingmatches"]
    assert all("2511.00007" not in [i for i, _s in r] for r in with_rum.values())
    with db.transaction() as conn:
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_papers_search_rum")
    rum.forget()
    with db.connect() as conn:
        assert rum.operator(conn) is None
    assert rankings() == with_rum
    dated = search.search(db, "quantum", mode="keyword", sort="date", since=dt.date(2020, 1, 1))
    assert {h.paper.arxiv_id for h in dated.hits} == {i for i, _s in with_rum["quantum"]}
    rum.forget()


def test_rum_ranking_reads_only_the_best_of_each_word(db, monkeypatch):
    """With more matches than a page needs, the RUM path ranks the best of each word and
    re-scores them by IDF-weighted ts_rank: the page it returns is the GIN path's page."""
    from paperfeed.store import rum
    from paperfeed.store import search as store

    if db.engine.dialect.name != "postgresql":
        pytest.skip("RUM is a PostgreSQL index access method")
    # Counts another test cached for this (reused) schema would skew the weights.
    monkeypatch.setattr(store, "_df_cache", {})
    rum.forget()
    with db.connect() as conn:
        if rum.operator(conn) is None:
            pytest.skip("the RUM extension is not installed on this PostgreSQL")
    _rum_corpus(db)
    queries = [*RUM_QUERIES, "models quantum"]  # "models" is in every paper: more than 23
    pages = {q: ids(search.search(db, q, mode="keyword", limit=3)) for q in queries}
    with db.transaction() as conn:
        conn.exec_driver_sql("DROP INDEX ix_papers_search_rum")
    rum.forget()
    assert {q: ids(search.search(db, q, mode="keyword", limit=3)) for q in queries} == pages
    rum.forget()
