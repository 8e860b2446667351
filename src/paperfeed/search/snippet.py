"""Snippets: the passage of an abstract that best shows why a paper matched, its matched words
between markers.

Computed here rather than by the database (FTS5's snippet(), PostgreSQL's ts_headline), which
re-read each abstract at a third of a millisecond apiece and disagree with each other; a paper
found by meaning alone gets a snippet too when it shares words with the query.
"""

from __future__ import annotations

import functools
import re

MARK_START, MARK_END = "\ue000", "\ue001"  # private-use characters; the caller escapes, then marks
WINDOW = 40  # words shown
_TOKEN = re.compile(r"\w+", re.UNICODE)
_SUFFIX = re.compile(r"(?<=\w{3})(?:ational|ations|ation|ings|ing|ies|ied|es|ed|ly|s)$")


@functools.lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A light stem, so "models" matches "model" and "trained" matches "training"."""
    return _SUFFIX.sub("", word.lower(), count=1)


def snippet(text: str, words: list[str], *, window: int = WINDOW) -> str | None:
    """About `window` words of `text` around the most query words, matched ones marked; None
    when no word matches."""
    wanted = {stem(w) for w in words if w}
    if not wanted or not text:
        return None
    tokens = list(_TOKEN.finditer(text))
    stems = [stem(t.group()) for t in tokens]
    hits = [i for i, s in enumerate(stems) if s in wanted]
    if not hits:
        return None
    best, best_score = 0, -1
    for n, start in enumerate(hits):  # windows that open on a match: the most distinct words win
        seen = set()
        for i in hits[n:]:
            if i >= start + window:
                break
            seen.add(stems[i])
        if len(seen) > best_score:
            best, best_score = start, len(seen)
    first = max(0, min(best - 3, len(tokens) - window))  # a little context before
    last = min(len(tokens), first + window)
    marked = set(hits)
    out, pos = [], tokens[first].start()
    for i in range(first, last):
        t = tokens[i]
        out.append(text[pos : t.start()])
        out.append(f"{MARK_START}{t.group()}{MARK_END}" if i in marked else t.group())
        pos = t.end()
    end = tokens[last - 1].end()
    body = "".join(out).strip()
    return ("…" if first > 0 else "") + body + ("…" if end < len(text.rstrip()) else "")
