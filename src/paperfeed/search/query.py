"""Search queries as people type them: words, "quoted phrases", author:"Name", arXiv ids."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from paperfeed.sources.arxiv_ids import is_arxiv_id, parse_arxiv_id
from paperfeed.sources.fields import strip_xml_illegal

MAX_QUERY = 300  # characters; longer queries are cut here (documented in docs/search.md)
MAX_TERMS = 32
_AUTHOR = re.compile(r'\bauthor:(?:"([^"]*)"?|([^\s"]+))?', re.IGNORECASE)
_PHRASE = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(slots=True)
class Query:
    """What a query asks for, each part free of any search-engine syntax."""

    text: str  # the (truncated) text as typed
    terms: list[str] = field(default_factory=list)  # lower-case words, any of which may match
    phrases: list[list[str]] = field(default_factory=list)  # word sequences that must appear
    authors: list[str] = field(default_factory=list)  # author names that must appear, as typed
    arxiv_id: str | None = None  # the query is an arXiv id or URL
    prose: str = ""  # the text without author filters and quotes: what gets embedded
    problem: str | None = None  # why nothing can match, e.g. an `author:` with no name

    @property
    def empty(self) -> bool:
        return not (self.terms or self.phrases or self.authors or self.arxiv_id)

    @property
    def words(self) -> list[str]:
        """The words of the prose in the order typed (function words kept): for titles."""
        return _words(self.prose)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)][:MAX_TERMS]


def parse(text: str) -> Query:
    """Split a typed query into its parts; never raises, whatever the input."""
    # Control characters mean nothing in a query and must not be echoed into a page or feed.
    text = strip_xml_illegal(text or "")[:MAX_QUERY]
    q = Query(text=text)
    stripped = text.strip()
    if is_arxiv_id(stripped):
        q.arxiv_id = parse_arxiv_id(stripped)[0]
        return q
    rest = text
    for m in _AUTHOR.finditer(text):
        name = " ".join(_WORD.findall(m.group(1) or m.group(2) or "")[:MAX_TERMS])
        if name:
            q.authors.append(name)
        else:  # `author:` alone, or `author:""`: a filter that names nobody matches nothing
            q.problem = 'author: needs a name, as in author:"Yann LeCun".'

    rest = _AUTHOR.sub(" ", rest)
    q.prose = " ".join(rest.replace('"', " ").split())
    for m in _PHRASE.finditer(rest):
        words = _words(m.group(1))
        if len(words) > 1:
            q.phrases.append(words)
        elif words:
            q.terms.extend(words)
    rest = _PHRASE.sub(" ", rest)
    q.terms.extend(_words(rest))
    terms = list(dict.fromkeys(q.terms))
    content = [t for t in terms if t not in FUNCTION_WORDS]
    q.terms = (content or terms)[:MAX_TERMS]  # a query of function words only keeps them
    return q


# English function words: they match nearly every paper, so as optional query words they only
# cost time (FTS5 scores every paper that has any query word). Phrases keep them.
FUNCTION_WORDS = frozenset(
    "a about above after again against all also am an and any are as at be because been before "  # noqa: SIM905
    "being below between both but by can could did do does doing down during each few for from "
    "further had has have having here how however i if in into is it its itself just may might "
    "more most much must no nor not of off on once only or other our ours out over own per same "
    "should since so some such than that the their them then there these they this those through "
    "thus to too under until up upon very via was we well were what when where which while who "
    "whom why will with within without would yet you your".split()
)
# Words too common in abstracts to say what a paper is about (for "more like this" queries).
STOPWORDS = FUNCTION_WORDS | frozenset(
    "paper propose proposed results show shows use used using new approach method methods "  # noqa: SIM905
    "based novel first two one three work study demonstrate present existing".split()
)


def distinctive_terms(title: str, abstract: str, *, limit: int = MAX_TERMS) -> list[str]:
    """The words that best say what a paper is about, for a "more like this" keyword query:
    its title's words, then the abstract's most repeated ones (no stopwords or numbers)."""

    def useful(w: str) -> bool:
        return len(w) > 2 and w not in STOPWORDS and not w.isdigit()

    title_words = [w for w in (x.lower() for x in _WORD.findall(title)) if useful(w)]
    counts: dict[str, int] = {}
    for w in (x.lower() for x in _WORD.findall(abstract)):
        if useful(w):
            counts[w] = counts.get(w, 0) + 1
    ranked = sorted(counts, key=lambda w: -counts[w])  # stable: ties keep first appearance
    return list(dict.fromkeys([*title_words, *ranked]))[:limit]


def _plain(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def title_match(prose: str, title: str) -> bool:
    """Whether a query is a paper's title, exactly or nearly: the same words, the title's part
    before a colon, or (three words or more) at least 80% of each side's distinct words shared,
    compared by light stem so "models" meets "model"."""
    from paperfeed.search.snippet import stem

    q, t = _plain(prose), _plain(title)
    if not q or not t:
        return False
    if q == t or (len(q) >= 2 and ":" in title and q == _plain(title.split(":", 1)[0])):
        return True
    if len(q) < 3:
        return False
    qs, ts = {stem(w) for w in q}, {stem(w) for w in t}
    shared = len(qs & ts)
    return shared >= 0.8 * len(ts) and shared >= 0.8 * len(qs)
