"""Search queries as people type them: words, "quoted phrases", author:"Name", arXiv ids."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from paperfeed.sources.arxiv_ids import is_arxiv_id, parse_arxiv_id

MAX_QUERY = 300  # characters; longer queries are cut here (documented in docs/search.md)
MAX_TERMS = 32
_AUTHOR = re.compile(r'\bauthor:(?:"([^"]*)"|(\S+))', re.IGNORECASE)
_PHRASE = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(slots=True)
class Query:
    """What a query asks for, each part free of any search-engine syntax."""

    text: str  # the (truncated) text as typed
    terms: list[str] = field(default_factory=list)  # lower-case words, any of which may match
    phrases: list[list[str]] = field(default_factory=list)  # word sequences that must appear
    authors: list[str] = field(default_factory=list)  # author names that must appear
    arxiv_id: str | None = None  # the query is an arXiv id or URL

    @property
    def empty(self) -> bool:
        return not (self.terms or self.phrases or self.authors or self.arxiv_id)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)][:MAX_TERMS]


def parse(text: str) -> Query:
    """Split a typed query into its parts; never raises, whatever the input."""
    text = (text or "")[:MAX_QUERY]
    q = Query(text=text)
    stripped = text.strip()
    if is_arxiv_id(stripped):
        q.arxiv_id = parse_arxiv_id(stripped)[0]
        return q
    rest = text
    for m in _AUTHOR.finditer(text):
        name = " ".join(_words(m.group(1) or m.group(2) or ""))
        if name:
            q.authors.append(name)
    rest = _AUTHOR.sub(" ", rest)
    for m in _PHRASE.finditer(rest):
        words = _words(m.group(1))
        if len(words) > 1:
            q.phrases.append(words)
        elif words:
            q.terms.extend(words)
    rest = _PHRASE.sub(" ", rest)
    q.terms.extend(_words(rest))
    q.terms = list(dict.fromkeys(q.terms))[:MAX_TERMS]
    return q
