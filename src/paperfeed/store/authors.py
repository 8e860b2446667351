"""Authors: who wrote which paper, looked up by a normalised name.

Every author of every paper has a row in `paper_authors` (paper, position, name as listed, its
normalised key, and the key's last word, the family name), written by `papers.upsert_many` and
for older databases by migration 0007. Search's `author:` filter and the author pages use the
lookups here; both are index reads on SQLite and PostgreSQL.

How a typed name matches (the rule is `Author.matches`):
- one word (`author:LeCun`): any author whose family name, or whole name, is that word;
- several (`author:"Yann LeCun"`, `author:"Y. LeCun"`): the family name must be the last word,
  the first given name must agree with the author's first, and every later one with a later
  one of the author's, in order; an initial agrees with any name that starts with it.
Names compare by `name_key`: case, accents and punctuation do not matter.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from paperfeed.models import Paper
from paperfeed.store.tables import paper_authors as A

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
MAX_KEY = 300  # characters of a key; longer names are cut (the column's width)


def name_key(name: str) -> str:
    """The one normalised form of a person's name: lower case (casefolded), accents removed,
    punctuation and hyphens as spaces. "Lúcia Fernández-Núñez" -> "lucia fernandez nunez"."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_WORD.findall(text.casefold()))[:MAX_KEY]


def _names(key: str) -> list[str]:
    words = key.split()
    while len(words) > 1 and words[-1] in _SUFFIXES:
        words.pop()
    return words


def last_key(key: str) -> str:
    """The family name of a normalised name: its last word, skipping "Jr", "III" and the like."""
    words = _names(key)
    return words[-1] if words else ""


def rows_of(papers: Iterable[Paper]) -> list[dict]:
    """The `paper_authors` rows of these papers."""
    rows = []
    for p in papers:
        for position, name in enumerate(p.authors):
            key = name_key(name)
            if key:
                rows.append(
                    {
                        "arxiv_id": p.arxiv_id,
                        "position": position,
                        "name": name,
                        "name_key": key,
                        "last_key": last_key(key)[:MAX_KEY],
                    }
                )
    return rows


def replace(conn: sa.Connection, papers: list[Paper]) -> None:
    """Write these papers' author rows anew (their authors were added or changed)."""
    if not papers:
        return
    ids = [p.arxiv_id for p in papers]
    for i in range(0, len(ids), 500):
        conn.execute(sa.delete(A).where(A.c.arxiv_id.in_(ids[i : i + 500])))
    rows = rows_of(papers)
    if rows:
        conn.execute(sa.insert(A), rows)


def _initial_agrees(given: str, stored: str) -> bool:
    if len(given) == 1 or len(stored) == 1:
        return given[0] == stored[0]
    return given == stored


@dataclass(frozen=True, slots=True)
class Author:
    """A typed author name, ready to match: its key, and the full keys it resolved to (None
    while unresolved, or for a one-word name, which matches by family name alone)."""

    key: str
    keys: tuple[str, ...] | None = None

    @property
    def family(self) -> str:
        return last_key(self.key)

    @property
    def single(self) -> bool:
        return len(self.key.split()) == 1

    def matches(self, stored_key: str) -> bool:
        """Whether an author listed under `stored_key` is the person this name means."""
        if stored_key == self.key:
            return True
        if last_key(stored_key) != self.family:
            return False
        if self.single:
            return True
        given = _names(self.key)[:-1]
        names = _names(stored_key)[:-1]
        # The first given names agree; each later one agrees with a later stored one, in
        # order ("Yann LeCun" is "Yann A. LeCun", "Yang Liu" is not "Yu Yang Liu").
        if not names or not _initial_agrees(given[0], names[0]):
            return not given and not names
        at = 1
        for g in given[1:]:
            while at < len(names) and not _initial_agrees(g, names[at]):
                at += 1
            if at == len(names):
                return False
            at += 1
        return True


def resolve(conn: sa.Connection, name: str) -> Author:
    """The typed name, with the full names it matches among stored authors (an index read)."""
    author = Author(name_key(name))
    if not author.key or author.single:
        return author
    stored = conn.execute(
        sa.select(A.c.name_key)
        .where(sa.or_(A.c.last_key == author.family, A.c.name_key == author.key))
        .distinct()
    ).scalars()
    keys = tuple(sorted(k for k in stored if author.matches(k)))
    return Author(author.key, keys)


def condition(author: Author, params: dict, n: int) -> str:
    """SQL that holds when the paper `p` has this author; binds its values into `params` under
    names ending in `n`."""
    where = _row(author, params, n)
    return f"p.arxiv_id IN (SELECT a.arxiv_id FROM paper_authors a WHERE {where})"


def _row(author: Author, params: dict, n: int) -> str:
    """SQL that holds when the `paper_authors` row `a` is this author."""
    if author.single:
        params[f"alast{n}"] = author.key
        where = f"(a.last_key = :alast{n} OR a.name_key = :alast{n})"
    elif author.keys is None:
        raise ValueError("resolve() a name of several words before matching it")
    else:
        if not author.keys:
            return "1 = 0"
        names = {f"akey{n}_{i}": k for i, k in enumerate(author.keys)}
        params.update(names)
        where = f"a.name_key IN ({', '.join(':' + k for k in names)})"
    return where


def _visible(conn: sa.Connection) -> str:
    return "p.hidden = 0" if conn.dialect.name == "sqlite" else "NOT p.hidden"


def papers_of(conn: sa.Connection, name: str, *, limit: int = 50, offset: int = 0) -> list[str]:
    """Ids of the visible papers by this author, newest first (listing day, then publication)."""
    author = resolve(conn, name)
    if not author.key:
        return []
    params: dict = {"limit": limit, "offset": offset}
    sql = f"""SELECT p.arxiv_id FROM papers p WHERE {_visible(conn)}
        AND {condition(author, params, 0)}
        ORDER BY p.listing_day DESC, p.published DESC, p.arxiv_id DESC
        LIMIT :limit OFFSET :offset"""
    return [r[0] for r in conn.execute(sa.text(sql), params)]


def count_papers(conn: sa.Connection, name: str) -> int:
    """How many visible papers this author has."""
    author = resolve(conn, name)
    if not author.key:
        return 0
    params: dict = {}
    sql = f"SELECT count(*) FROM papers p WHERE {_visible(conn)} AND {condition(author, params, 0)}"
    return conn.execute(sa.text(sql), params).scalar_one()


def coauthors(conn: sa.Connection, name: str, *, limit: int = 20) -> list[tuple[str, int]]:
    """(name as most often listed, papers together) of this author's co-authors, most shared
    papers first; visible papers only."""
    author = resolve(conn, name)
    if not author.key:
        return []
    params: dict = {"limit": limit}
    mine = (
        f"SELECT p.arxiv_id FROM papers p WHERE {_visible(conn)} AND {condition(author, params, 0)}"
    )
    rows = conn.execute(
        sa.text(
            f"""SELECT o.name_key, min(o.name) AS name, count(DISTINCT o.arxiv_id) AS n
            FROM paper_authors o WHERE o.arxiv_id IN ({mine})
            GROUP BY o.name_key ORDER BY n DESC, o.name_key LIMIT :over"""
        ),
        {**params, "over": limit + 50},
    ).all()
    out = [(r.name, r.n) for r in rows if not author.matches(r.name_key)]
    return out[:limit]


def known(conn: sa.Connection, name: str) -> bool:
    """Whether any visible paper has an author of this name."""
    return bool(papers_of(conn, name, limit=1))


def display_name(conn: sa.Connection, name: str) -> str | None:
    """The name as most often listed among this author's papers, or None when unknown."""
    author = resolve(conn, name)
    if not author.key:
        return None
    params: dict = {}
    sql = f"""SELECT a.name, count(*) AS n FROM paper_authors a JOIN papers p
        ON p.arxiv_id = a.arxiv_id WHERE {_visible(conn)}
        AND {_row(author, params, 0)}
        GROUP BY a.name ORDER BY n DESC, a.name LIMIT 1"""
    row = conn.execute(sa.text(sql), params).first()
    return row.name if row else None


__all__ = [
    "Author",
    "coauthors",
    "condition",
    "count_papers",
    "display_name",
    "known",
    "last_key",
    "name_key",
    "papers_of",
    "replace",
    "resolve",
    "rows_of",
]
