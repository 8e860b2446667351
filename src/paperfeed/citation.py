"""Citations: a paper as a BibTeX entry."""

from __future__ import annotations

import re
import unicodedata

from paperfeed.models import Paper


def _key_part(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]", "", ascii_text)


def _braced(text: str) -> str:
    # Unbalanced braces would break the entry; everything else (LaTeX included) stays as written.
    text = " ".join(text.split())
    return text if text.count("{") == text.count("}") else text.replace("{", "").replace("}", "")


def bibtex_key(paper: Paper) -> str:
    """A citation key like `vaswani2017attention`."""
    last = _key_part(paper.authors[0].split()[-1]).lower() if paper.authors else "anon"
    year = paper.published.year if paper.published else ""
    words = [w for w in (_key_part(w).lower() for w in paper.title.split()) if len(w) > 3]
    return f"{last or 'anon'}{year}{words[0] if words else ''}"


def bibtex(paper: Paper) -> str:
    """The paper as an arXiv-style @misc BibTeX entry."""
    fields = [
        ("title", _braced(paper.title)),
        ("author", " and ".join(_braced(a) for a in paper.authors) or "Anonymous"),
        ("year", str(paper.published.year) if paper.published else None),
        ("eprint", paper.arxiv_id),
        ("archivePrefix", "arXiv"),
        ("primaryClass", paper.primary_category),
        ("doi", paper.doi),
        ("url", paper.abs_url),
    ]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@misc{{{bibtex_key(paper)},\n{body}\n}}"
