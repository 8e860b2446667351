"""Keyword search in the store: FTS5 bm25 on SQLite, weighted tsvector ts_rank on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass

import sqlalchemy as sa

from paperfeed.models import Paper
from paperfeed.store.papers import row_to_paper
from paperfeed.store.tables import papers as T

# Private-use markers around matched words; the service escapes the snippet, then turns them
# into <mark>, so no text from a paper can smuggle markup in.
MARK_START, MARK_END = "\ue000", "\ue001"
# Title matches count most, then authors, then the abstract.
SQLITE_WEIGHTS = (5.0, 1.0, 2.0)  # title, abstract, authors


@dataclass(slots=True)
class Filters:
    """Restrictions on what a search returns."""

    since: dt.date | None = None
    until: dt.date | None = None
    categories: tuple[str, ...] = ()
    has_code: bool = False


def _fts_string(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def fts5_match(terms: list[str], phrases: list[list[str]], authors: list[str]) -> str:
    """An FTS5 MATCH expression made only of quoted strings, so no input is read as syntax."""
    parts = [" AND ".join(_fts_string(" ".join(p)) for p in phrases)] if phrases else []
    if authors:
        parts.append(" AND ".join(f"authors : {_fts_string(a)}" for a in authors))
    if terms:
        parts.append("(" + " OR ".join(_fts_string(t) for t in terms) + ")")
    return " AND ".join(f"({p})" for p in parts if p)


def tsquery(terms: list[str], phrases: list[list[str]]) -> str:
    """A to_tsquery expression from plain words (\\w+ only, so always valid)."""

    def lexeme(w: str) -> str:
        return "'" + w.replace("'", "") + "'"

    parts = [" <-> ".join(lexeme(w) for w in p) for p in phrases]
    if terms:
        parts.append(" | ".join(lexeme(t) for t in terms))
    return " & ".join(f"({p})" for p in parts)


def _filter_sql(dialect: str, f: Filters, params: dict) -> str:
    sql = ""
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
            sql += (" AND EXISTS (SELECT 1 FROM json_array_elements_text(p.categories) c"
                    f" WHERE c IN ({in_list}))")  # fmt: skip
    return sql


_DF_TTL = 600.0  # seconds a document frequency is trusted: it moves slowly as papers arrive
_df_cache: dict[tuple[str, str], tuple[float, int]] = {}


def _frequencies(conn: sa.Connection, words: list[str]) -> tuple[int, dict[str, int]]:
    """(papers, {word: papers containing it}) on PostgreSQL, remembered for a few minutes."""
    now = time.monotonic()
    url = str(conn.engine.url)
    wanted = [
        w for w in ["\x00all", *words] if now - _df_cache.get((url, w), (-1e9, 0))[0] > _DF_TTL
    ]
    for w in wanted:
        if w == "\x00all":
            n = conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one()
        else:
            n = conn.execute(sa.text("SELECT count(*) FROM papers "
                                     "WHERE search_vector @@ to_tsquery('english', :q)"),
                             {"q": tsquery([w], [])}).scalar_one()  # fmt: skip
        _df_cache[(url, w)] = (now, n)
    if len(_df_cache) > 50_000:  # bound the memory of a long-running worker
        _df_cache.clear()
    return _df_cache[(url, "\x00all")][1], {w: _df_cache[(url, w)][1] for w in words}


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


_COLUMNS = ", ".join(f"p.{c.name}" for c in T.c)

ORDERS = {
    "relevance": "score DESC, p.upvotes DESC, p.arxiv_id DESC",
    "upvotes": "p.upvotes DESC, score DESC, p.arxiv_id DESC",
    "date": "p.listing_day DESC, p.published DESC, score DESC, p.arxiv_id DESC",
}


def keyword(
    conn: sa.Connection,
    *,
    terms: list[str],
    phrases: list[list[str]],
    authors: list[str],
    filters: Filters,
    sort: str,
    limit: int,
    offset: int = 0,
) -> list[tuple[Paper, float, str]]:
    """(paper, score, marked snippet) for papers matching the words, best first."""
    params: dict = {"limit": limit, "offset": offset}
    where = _filter_sql(conn.dialect.name, filters, params)
    if conn.dialect.name == "sqlite":
        params["match"] = fts5_match(terms, phrases, authors)
        if not params["match"]:
            return []
        w = ", ".join(str(x) for x in SQLITE_WEIGHTS)
        if filters.since:
            # Hand FTS5 the rowids of the date window: it then scores only those, instead of
            # joining every match to papers to check its day (8x faster for a day's digest).
            where += (
                " AND papers_fts.rowid IN (SELECT rowid FROM papers WHERE listing_day"
                " >= :since" + (" AND listing_day <= :until)" if filters.until else ")")
            )
        sql = f"""
            SELECT {_COLUMNS}, -bm25(papers_fts, {w}) AS score,
                   snippet(papers_fts, 1, '{MARK_START}', '{MARK_END}', '…', 40) AS snip
            FROM papers_fts JOIN papers p ON p.rowid = papers_fts.rowid
            WHERE papers_fts MATCH :match AND p.hidden = 0 {where}
            ORDER BY {ORDERS[sort]} LIMIT :limit OFFSET :offset"""
    else:
        params["tsq"] = tsquery(terms, phrases)
        if not params["tsq"] and not authors:
            return []
        match = "p.search_vector @@ q" if params["tsq"] else "TRUE"
        for i, name in enumerate(authors):
            params[f"author{i}"] = "%" + name.replace("%", "").replace("_", "") + "%"
            where += f" AND p.authors::text ILIKE :author{i}"
        options = f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=40, MinWords=20"
        score = _pg_score(conn, terms, phrases, params)
        sql = f"""
            SELECT {_COLUMNS}, {score} AS score,
                   ts_headline('english', p.abstract, q, '{options}') AS snip
            FROM papers p, to_tsquery('english', :tsq) q
            WHERE {match} AND NOT p.hidden {where}
            ORDER BY {ORDERS[sort]} LIMIT :limit OFFSET :offset"""
    # Typed columns, so timestamps, dates and JSON come back as they do from Core queries.
    stmt = sa.text(sql).columns(*T.c, sa.column("score", sa.Float), sa.column("snip", sa.Text))
    rows = conn.execute(stmt, params)
    return [(row_to_paper(r), float(r.score or 0.0), r.snip or "") for r in rows]
