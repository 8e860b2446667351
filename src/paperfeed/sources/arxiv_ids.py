"""arXiv identifiers: parsing the forms people paste (ids, versions, prefixes, abs/pdf URLs)."""

from __future__ import annotations

import re

from paperfeed.errors import InvalidInput

_NEW = r"\d{4}\.\d{4,5}"
_OLD = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
_ID = re.compile(
    rf"^(?:arxiv:)?(?:https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)?"
    rf"(?P<id>{_NEW}|{_OLD})(?:v(?P<version>\d+))?(?:\.pdf)?/?$",
    re.IGNORECASE,
)
FORMS = "2511.01234, 2511.01234v2, arXiv:2511.01234, hep-th/9901001 or an arxiv.org abs/pdf URL"


def parse_arxiv_id(text: str) -> tuple[str, int | None]:
    """(id without version, version or None); raises InvalidInput for anything else."""
    m = _ID.match(text.strip()) if len(text) < 200 else None
    if m is None:
        raise InvalidInput(f"not an arXiv id: {text[:60]!r} (expected {FORMS})")
    arxiv_id = m["id"]
    if "/" in arxiv_id:  # old-style archive names are lower case, subject classes upper
        archive, number = arxiv_id.split("/")
        head, _, sub = archive.partition(".")
        arxiv_id = f"{head.lower()}{'.' + sub.upper() if sub else ''}/{number}"
    version = int(m["version"]) if m["version"] else None
    return arxiv_id, version


def is_arxiv_id(text: str) -> bool:
    """Whether `text` parses as an arXiv id or URL."""
    try:
        parse_arxiv_id(text)
    except InvalidInput:
        return False
    return True
