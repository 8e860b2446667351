"""Keyword search in the store: FTS5 bm25 on SQLite, IDF-weighted tsvector ts_rank on PostgreSQL
(its candidates read from the RUM index in rank order where there is one, `store/rum.py`);
and the exact checks every search mode's candidates pass (filters, phrases, authors, hidden)."""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass

import sqlalchemy as sa

from paperfeed.store import authors as author_store
from paperfeed.store import rum
from paperfeed.store.tables import papers as T

# Title matches count most, then authors, then the abstract.
SQLITE_WEIGHTS = (5.0, 1.0, 2.0)  # title, abstract, authors


@dataclass(slots=True)
class Filters:
    """Restrictions on what a search returns."""

    since: dt.date | None = None
    until: dt.date | None = None
    categories: tuple[str, ...] = ()
    has_code: bool = False

    @property
    def contradictory(self) -> bool:
        """The date range ends before it starts: nothing can match."""
        return bool(self.since and self.until and self.until < self.since)


def _fts_string(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def fts5_match(terms: list[str], phrases: list[list[str]], *, all_terms: bool = False) -> str:
    """An FTS5 MATCH expression made only of quoted strings, so no input is read as syntax.
    Phrases must appear in the title or the abstract; words may match any column."""
    parts = []
    if phrases:
        parts.append(
            " AND ".join("{title abstract} : " + _fts_string(" ".join(p)) for p in phrases)
        )
    if terms:
        joiner = " AND " if all_terms else " OR "
        parts.append("(" + joiner.join(_fts_string(t) for t in terms) + ")")
    return " AND ".join(f"({p})" for p in parts if p)


def tsquery(terms: list[str], phrases: list[list[str]], *, all_terms: bool = False) -> str:
    """A to_tsquery expression from plain words (\\w+ only, so always valid). Phrases must
    appear in the title or the abstract (weights A and B)."""

    def lexeme(w: str) -> str:
        return "'" + w.replace("'", "").replace("\\", "") + "'"

    parts = [" <-> ".join(lexeme(w) + ":AB" for w in p) for p in phrases]
    if terms:
        parts.append((" & " if all_terms else " | ").join(lexeme(t) for t in terms))
    return " & ".join(f"({p})" for p in parts)


def _filter_sql(dialect: str, f: Filters, params: dict) -> str:
    sql = " AND 1 = 0" if f.contradictory else ""
    if f.since:
        sql += " AND p.listing_day >= :since"
        params["since"] = f.since
    if f.until:
        sql += " AND p.listing_day <= :until"
        params["until"] = f.until
    if f.has_code:
        sql += " AND p.code_url IS NOT NULL"
    if f.categories:
        names = {f"cat{i}": c for i, c in enumerate(f.categories[:20])}
        params.update(names)
        in_list = ", ".join(f":{k}" for k in names)
        if dialect == "sqlite":
            sql += f" AND EXISTS (SELECT 1 FROM json_each(p.categories) WHERE value IN ({in_list}))"
        else:
            sql += (
                " AND EXISTS (SELECT 1 FROM json_array_elements_text(p.categories) c"
                f" WHERE c IN ({in_list}))"
            )
    return sql


_DF_TTL = 600.0  # seconds a document frequency is trusted: it moves slowly as papers arrive
_df_cache: dict[tuple[str, str], tuple[float, int]] = {}


def _frequencies(conn: sa.Connection, words: list[str]) -> tuple[int, dict[str, int]]:
    """(papers, {word: papers containing it, counted up to just past the budget}),
    remembered for a few minutes. Counting stops there: past it a word is common either way,
    and counting every match of "model" in a million papers would cost more than the search."""
    now = time.monotonic()
    url = str(conn.engine.url)
    found: dict[str, int] = {}  # read once, so another thread's clearing cannot lose a value
    for w in ["\x00all", *words]:
        hit = _df_cache.get((url, w))
        if hit is not None and now - hit[0] <= _DF_TTL:
            found[w] = hit[1]
    if len(_df_cache) > 50_000:  # bound the memory of a long-running worker
        _df_cache.clear()
    cap = {"cap": budget(conn) + 1}
    for w in ["\x00all", *words]:
        if w in found:
            continue
        if w == "\x00all":
            n = _paper_count(conn)
        elif conn.dialect.name == "sqlite":
            n = conn.execute(
                sa.text(
                    "SELECT count(*) FROM (SELECT 1 FROM papers_fts "
                    "WHERE papers_fts MATCH :q LIMIT :cap)"
                ),
                {"q": _fts_string(w), **cap},
            ).scalar_one()
        else:
            n = conn.execute(
                sa.text(
                    "SELECT count(*) FROM (SELECT 1 FROM papers WHERE "
                    "search_vector @@ to_tsquery('english', :q) LIMIT :cap) m"
                ),
                {"q": tsquery([w], []), **cap},
            ).scalar_one()
        found[w] = n
        _df_cache[(url, w)] = (now, n)
    return found["\x00all"], {w: found[w] for w in words}


def paper_count(conn: sa.Connection) -> int:
    """How many papers there are, remembered with the document frequencies (ten minutes)."""
    return _frequencies(conn, [])[0]


# Matches a query may score: about 5 ms of FTS5 bm25, or 50 ms of PostgreSQL's ts_rank per word.
POSTINGS_BUDGET = {"sqlite": 20_000, "postgresql": 5_000}


def budget(conn: sa.Connection) -> int:
    """How many matches a keyword search may score on this database."""
    return POSTINGS_BUDGET.get(conn.dialect.name, 5_000)


def _paper_count(conn: sa.Connection) -> int:
    """How many papers there are: PostgreSQL's own estimate when it has one (exact counting
    reads the whole table)."""
    if conn.dialect.name == "postgresql":
        estimate = conn.execute(
            sa.text("SELECT reltuples::bigint FROM pg_class WHERE oid = 'papers'::regclass")
        ).scalar()
        if estimate and estimate > 0:
            return int(estimate)
    return conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one()


def prune(conn: sa.Connection, terms: list[str]) -> tuple[list[str], bool]:
    """The optional words worth matching, and whether all of them must match.

    Both engines score every paper that has any optional word, so one word found in most papers
    makes a query scan most of the catalogue. The most common words add least to a ranking
    (their inverse document frequency is lowest), so they are left out, most common first,
    until the rest match at most `budget` papers; when even the rarest word alone matches
    more, papers must have every word.
    """
    if len(terms) < 2:
        return terms, False
    _total, df = _frequencies(conn, terms)
    kept = sorted(terms, key=lambda t: df[t])
    while len(kept) > 1 and sum(df[t] for t in kept) > budget(conn):
        kept.pop()
    if df[kept[0]] > budget(conn):
        return terms, True
    return [t for t in terms if t in kept], False


def _pg_score(conn: sa.Connection, terms: list[str], phrases: list[list[str]], params) -> str:
    """A BM25-like score for PostgreSQL: each word's ts_rank weighted by its inverse document
    frequency (ts_rank alone has none, so common words would count as much as rare ones)."""
    words = list(dict.fromkeys([*terms, *(w for p in phrases for w in p)]))
    if not words:
        return "0.0"
    total, df = _frequencies(conn, words)

    def idf(w: str) -> float:
        return math.log(1 + (total - df[w] + 0.5) / (df[w] + 0.5))

    parts = []
    for i, w in enumerate(terms):
        params[f"w{i}"], params[f"idf{i}"] = tsquery([w], []), idf(w)
        parts.append(f":idf{i} * ts_rank(p.search_vector, to_tsquery('english', :w{i}), 1)")
    for i, phrase in enumerate(phrases):
        params[f"ph{i}"], params[f"phidf{i}"] = tsquery([], [phrase]), sum(map(idf, phrase))
        parts.append(f":phidf{i} * ts_rank(p.search_vector, to_tsquery('english', :ph{i}), 1)")
    return "(" + " + ".join(parts) + ")"


ORDERS = {
    "relevance": "score DESC, p.upvotes DESC, p.arxiv_id DESC",
    "upvotes": "p.upvotes DESC, score DESC, p.arxiv_id DESC",
    "date": "p.listing_day DESC, p.published DESC, score DESC, p.arxiv_id DESC",
}


@dataclass(slots=True)
class Words:
    """What a keyword search matches: optional words (all of them with `all_terms`), required
    phrases and author names."""

    terms: list[str]
    phrases: list[list[str]]
    authors: list[str]
    all_terms: bool = False


def _author_sql(conn: sa.Connection, names: list[str], params: dict) -> str:
    """Conditions that hold when paper `p` has every one of these authors (index reads)."""
    sql = ""
    for i, name in enumerate(names):
        author = author_store.resolve(conn, name)
        if not author.key:
            return " AND 1 = 0"
        sql += " AND " + author_store.condition(author, params, i)
    return sql


NARROW_DAYS = 62  # a date window this short holds few papers (two months: ~50k at arXiv's pace)


def _narrow(filters: Filters) -> bool:
    """Whether the filters confine a search to a short window of listing days."""
    if filters.since is None:
        return False
    until = filters.until or dt.datetime.now(dt.UTC).date()
    return (until - filters.since).days <= NARROW_DAYS


def _prepare(conn: sa.Connection, words: Words, filters: Filters, params: dict):
    """(FROM/WHERE clause, score expression) of a keyword search, or None when nothing can
    match; fills `params`."""
    where = _filter_sql(conn.dialect.name, filters, params)
    where += _author_sql(conn, words.authors, params)
    narrow = _narrow(filters)
    # A short date window already bounds how many papers are scored (a digest's day, say);
    # papers that must have every word are few enough already.
    if words.all_terms:
        terms, all_terms = words.terms, True
    else:
        terms, all_terms = (words.terms, False) if narrow else prune(conn, words.terms)
    if conn.dialect.name == "sqlite":
        params["match"] = fts5_match(terms, words.phrases, all_terms=all_terms)
        if not params["match"]:
            if not words.authors:
                return None
            # Authors alone: their papers, newest first (every score is equal).
            return f"FROM papers p WHERE p.hidden = 0 {where}", "0.0"
        if narrow:
            # Bound FTS5 to the rowid range of the date window: it then walks only that slice
            # of each word's postings (papers of a day were inserted together, so the range is
            # tight). A list of rowids would be worse than none: FTS5 restarts the query for
            # each one (a day's digest search: 31 ms with the list, 10 ms without, 0.9 ms so).
            # Finding the range reads the window's index entries, hence only short windows.
            window = "FROM papers WHERE listing_day >= :since" + (
                " AND listing_day <= :until" if filters.until else ""
            )
            where += (
                f" AND papers_fts.rowid >= (SELECT min(rowid) {window})"
                f" AND papers_fts.rowid <= (SELECT max(rowid) {window})"
            )
        w = ", ".join(str(x) for x in SQLITE_WEIGHTS)
        source = f"""FROM papers_fts JOIN papers p ON p.rowid = papers_fts.rowid
            WHERE papers_fts MATCH :match AND p.hidden = 0 {where}"""
        return source, f"-bm25(papers_fts, {w})"
    params["tsq"] = tsquery(terms, words.phrases, all_terms=all_terms)
    if not params["tsq"] and not words.authors:
        return None
    match = "p.search_vector @@ q" if params["tsq"] else "TRUE"
    source = f"""FROM papers p, to_tsquery('english', :tsq) q
        WHERE {match} AND NOT p.hidden {where}"""
    single = len(terms) == 1 and not narrow
    common = all_terms or (single and _frequencies(conn, terms)[1][terms[0]] > budget(conn))
    if common and not words.phrases and not words.authors:
        # Only common words: ranking every match (tens of thousands at a million papers) costs
        # PostgreSQL seconds, so rank the newest `budget` of them, found by walking the
        # listing index, where common words are dense.
        params["cap"] = budget(conn)
        source = f"""FROM (SELECT p.arxiv_id, p.search_vector, p.upvotes, p.listing_day,
                p.published {source} ORDER BY p.listing_day DESC LIMIT :cap) p"""
    return source, _pg_score(conn, terms, words.phrases, params)


def _rum_ranking(
    conn: sa.Connection, words: Words, terms: list[str], *, limit: int, offset: int
) -> list[tuple[str, float]]:
    """The relevance ranking of `ranking` from the RUM index, for optional `terms` (as `prune`
    kept them) and the phrases: the best matches of each word by RUM's rank (of the whole
    query when it has a phrase), then those few re-scored by the IDF-weighted `ts_rank` of
    `_pg_score`. Both paths score the same words; RUM spares reading every match from the
    table and ranking it there (up to the budget's 5,000 papers per query)."""
    terms = list(dict.fromkeys(terms))
    if words.phrases or len(terms) < 2:
        queries = [tsquery(terms, words.phrases)]
    else:
        # One word at a time: RUM's own rank weighs every word alike, and a paper in the final
        # top few is among the best of at least one of its words almost always.
        queries = [tsquery([t], []) for t in terms]
    depth = (limit + offset) * 6 // 5 + 20  # a margin for hidden papers, as on SQLite
    found = rum.best(conn, [q for q in queries if q], k=depth)
    if not found:
        return []
    params: dict = {"limit": limit, "offset": offset}
    params.update({f"id{i}": a for i, a in enumerate(found)})
    ids = ", ".join(f":id{i}" for i in range(len(found)))
    score = _pg_score(conn, terms, words.phrases, params)
    sql = f"""SELECT p.arxiv_id, {score} AS score FROM papers p
        WHERE p.arxiv_id IN ({ids}) AND NOT p.hidden
        ORDER BY {ORDERS["relevance"]} LIMIT :limit OFFSET :offset"""
    return [(r[0], float(r[1] or 0.0)) for r in conn.execute(sa.text(sql), params)]


def ranking(
    conn: sa.Connection, words: Words, *, filters: Filters, sort: str, limit: int, offset: int = 0
) -> list[tuple[str, float]]:
    """(arxiv id, score) of papers matching the words, best first: no rows are read."""
    plain = filters == Filters() and sort == "relevance" and not words.authors
    if plain and not words.all_terms and rum.operator(conn):
        # Filters, other orders and authors keep the GIN path: they bound or reorder the
        # matches, which RUM's rank order cannot take into account. So do queries of common
        # words only (every word required): RUM reads every posting of the words it ranks
        # (170 ms for the 34,570 papers with "language" and "model" of 80,000, growing with the
        # catalogue), while the newest matches (the GIN path) cost the same at any size.
        terms, all_terms = prune(conn, words.terms)
        if not all_terms and (terms or words.phrases):
            return _rum_ranking(conn, words, terms, limit=limit, offset=offset)
    params: dict = {"limit": limit, "offset": offset}
    prepared = _prepare(conn, words, filters, params)
    if prepared is None:
        return []
    source, score = prepared
    if conn.dialect.name == "sqlite" and plain:
        # The best matches by bm25 alone, then looked up to drop hidden papers: FTS5 ranks
        # without touching the papers table, which is most of the cost when many papers match.
        over = (limit + offset) * 6 // 5 + 20  # a margin for hidden papers
        top = conn.execute(
            sa.text(
                f"SELECT rowid, {score} AS score FROM papers_fts WHERE "
                "papers_fts MATCH :match ORDER BY score DESC LIMIT :over"
            ),
            {"match": params["match"], "over": over},
        ).all()
        rows = {
            r.rowid: r
            for r in conn.execute(
                sa.select(T.c.arxiv_id, T.c.upvotes, sa.column("rowid")).where(
                    sa.column("rowid").in_([r[0] for r in top]), T.c.hidden == sa.false()
                )
            )
        }
        found = sorted(
            (
                (rows[r[0]].arxiv_id, float(r[1] or 0.0), rows[r[0]].upvotes)
                for r in top
                if r[0] in rows
            ),
            reverse=True,
        )
        found.sort(key=lambda x: (-x[1], -x[2]))  # stable: ties stay in descending id order
        if len(found) >= limit + offset or len(top) < over:  # a full page, or every match
            return [(i, sc) for i, sc, _u in found[offset : offset + limit]]
        # Hidden papers took places among the best: rank every match instead.
    sql = f"SELECT p.arxiv_id, {score} AS score {source} ORDER BY {ORDERS[sort]} "
    sql += "LIMIT :limit OFFSET :offset"
    return [(r[0], float(r[1] or 0.0)) for r in conn.execute(sa.text(sql), params)]


WINDOW_VECTORS = 5_000  # a window with at most this many embedded papers is ranked exactly


def window_vectors(
    conn: sa.Connection, model: str, filters: Filters
) -> list[tuple[str, bytes]] | None:
    """(id, vector) of every visible embedded paper the filters allow, when they confine a
    search to a short date window of at most WINDOW_VECTORS of them; otherwise None.

    The nearest papers of the whole catalogue rarely include a day's papers, so a search of
    one day (a digest's topic) ranks that day's vectors exactly instead."""
    if not _narrow(filters):
        return None
    params: dict = {"model": model, "cap": WINDOW_VECTORS + 1}
    where = _filter_sql(conn.dialect.name, filters, params)
    hidden = "p.hidden = 0" if conn.dialect.name == "sqlite" else "NOT p.hidden"
    sql = f"""SELECT p.arxiv_id, v.vector FROM papers p JOIN paper_vectors v
        ON v.arxiv_id = p.arxiv_id AND v.model = :model WHERE {hidden} {where} LIMIT :cap"""
    rows = [(r[0], r[1]) for r in conn.execute(sa.text(sql), params)]
    return rows if len(rows) <= WINDOW_VECTORS else None


def matching(
    conn: sa.Connection, arxiv_ids: list[str], filters: Filters, words: Words | None = None
) -> set[str]:
    """Those of these papers that are not hidden, pass the filters and, with `words`, have its
    phrases and authors: the same conditions as a keyword search, checked paper by paper."""
    if not arxiv_ids:
        return set()
    params: dict = {f"id{i}": a for i, a in enumerate(arxiv_ids)}
    ids = ", ".join(f":id{i}" for i in range(len(arxiv_ids)))
    where = _filter_sql(conn.dialect.name, filters, params)
    if words is not None:
        where += _author_sql(conn, words.authors, params)
        if words.phrases and conn.dialect.name == "sqlite":
            params["phrases"] = fts5_match([], words.phrases)
            where += (
                " AND EXISTS (SELECT 1 FROM papers_fts WHERE papers_fts MATCH :phrases"
                " AND papers_fts.rowid = p.rowid)"
            )
        elif words.phrases:
            params["phrases"] = tsquery([], words.phrases)
            where += " AND p.search_vector @@ to_tsquery('english', :phrases)"
    hidden = "p.hidden = 0" if conn.dialect.name == "sqlite" else "NOT p.hidden"
    sql = f"SELECT p.arxiv_id FROM papers p WHERE p.arxiv_id IN ({ids}) AND {hidden} {where}"
    return {r[0] for r in conn.execute(sa.text(sql), params)}


def visible(conn: sa.Connection, arxiv_ids: list[str], filters: Filters) -> set[str]:
    """Those of these papers that are not hidden and pass the filters."""
    return matching(conn, arxiv_ids, filters)


def title_candidates(
    conn: sa.Connection, words: list[str], filters: Filters, *, limit: int = 20
) -> dict[str, str]:
    """{id: title} of visible papers whose title holds every one of these words (in any order),
    shortest title first; the filters apply. A probe for a title a query names: the caller
    decides which of them the query really is. Cheaper than a phrase of the whole query, which
    reads the postings of its every function word."""
    if not words:
        return {}
    params: dict = {"limit": limit}
    where = _filter_sql(conn.dialect.name, filters, params)
    if conn.dialect.name == "sqlite":
        params["match"] = "title : (" + " AND ".join(_fts_string(w) for w in words) + ")"
        sql = f"""SELECT p.arxiv_id, p.title FROM papers_fts
            JOIN papers p ON p.rowid = papers_fts.rowid
            WHERE papers_fts MATCH :match AND p.hidden = 0 {where}
            ORDER BY length(p.title), p.arxiv_id LIMIT :limit"""
    else:

        def lexeme(w: str) -> str:
            return "'" + w.replace("'", "").replace("\\", "") + "':A"

        params["tsq"] = " & ".join(lexeme(w) for w in words)
        sql = f"""SELECT p.arxiv_id, p.title FROM papers p
            WHERE p.search_vector @@ to_tsquery('english', :tsq) AND NOT p.hidden {where}
            ORDER BY length(p.title), p.arxiv_id LIMIT :limit"""
        if rum.operator(conn):
            # RUM checks the title weight of every word in the index, so only true matches
            # reach the table; GIN must re-read every paper with all the words, and the planner,
            # expecting many, reads the whole table instead (over a second at 80,000 papers).
            return _with_index_scan(conn, sql, params)
    return {r[0]: r[1] for r in conn.execute(sa.text(sql), params)}


def _with_index_scan(conn: sa.Connection, sql: str, params: dict) -> dict[str, str]:
    """The ids and titles `sql` selects, read by a plain index scan (neither the whole table
    nor a bitmap to re-check), the planner's other choices put back afterwards."""
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    try:
        return {r[0]: r[1] for r in conn.execute(sa.text(sql), params)}
    finally:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = on")
        conn.exec_driver_sql("SET LOCAL enable_bitmapscan = on")


def titles(conn: sa.Connection, arxiv_ids: list[str]) -> dict[str, str]:
    """{id: title} of these papers."""
    if not arxiv_ids:
        return {}
    rows = conn.execute(sa.select(T.c.arxiv_id, T.c.title).where(T.c.arxiv_id.in_(arxiv_ids)))
    return {r.arxiv_id: r.title for r in rows}


def known_category(conn: sa.Connection, category: str) -> bool:
    """Whether any paper is filed under this category (a scan: ask only when a search with
    the category found nothing)."""
    if conn.dialect.name == "sqlite":
        sql = "SELECT 1 FROM papers p, json_each(p.categories) c WHERE c.value = :c LIMIT 1"
    else:
        sql = """SELECT 1 FROM papers p WHERE p.primary_category = :c
            OR p.categories::jsonb ? :c LIMIT 1"""
    return conn.execute(sa.text(sql), {"c": category}).first() is not None
