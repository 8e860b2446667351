"""Snippets: the passage of an abstract that best shows why a paper matched, its matched words
between markers.

Computed here rather than by the database (FTS5's snippet(), PostgreSQL's ts_headline), which
re-read each abstract at a third of a millisecond apiece and disagree with each other; a paper
found by meaning alone gets a snippet too when it shares words with the query. A word matches
when it starts with a query word's light stem ("model" finds "models" and "modelling").
"""

from __future__ import annotations

import functools
import re

MARK_START, MARK_END = "\ue000", "\ue001"  # private-use characters; the caller escapes, then marks
WIDTH = 280  # characters shown, about 40 words
_SUFFIX = re.compile(r"(?<=\w{3})(?:ational|ations|ation|ings|ing|ies|ied|es|ed|ly|s)$")


@functools.lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A light stem, so "models" matches "model" and "trained" matches "training"."""
    return _SUFFIX.sub("", word.lower(), count=1)


@functools.lru_cache(maxsize=1024)
def _pattern(stems: tuple[str, ...]) -> re.Pattern:
    words = "|".join(re.escape(s) for s in sorted(stems, key=len, reverse=True))
    return re.compile(rf"\b(?:{words})\w*", re.IGNORECASE)


def snippet(text: str, words: list[str], *, width: int = WIDTH) -> str | None:
    """About `width` characters of `text` around the most query words, matched ones marked;
    None when no word matches."""
    stems = tuple(sorted({stem(w) for w in words if w and len(stem(w)) > 1}))
    if not stems or not text:
        return None
    found = list(_pattern(stems).finditer(text))
    if not found:
        return None
    best, best_score = 0, -1
    for n, m in enumerate(found):  # windows that open on a match: the most distinct words win
        seen = set()
        for f in found[n:]:  # in text order: past the window's end, every later one is too
            if f.end() > m.start() + width:
                break
            seen.add(f.group().lower()[:6])
        if len(seen) > best_score:
            best, best_score = n, len(seen)
    start = max(0, found[best].start() - 30)
    if start:  # begin on a word
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < found[best].start() else found[best].start()
    end = min(len(text), start + width)
    if end < len(text):  # end on a word
        space = text.rfind(" ", start, end)
        end = space if space > found[best].end() else end
    out, pos = [], start
    for m in found:
        if m.start() < start or m.end() > end:
            continue
        out += [text[pos : m.start()], MARK_START, m.group(), MARK_END]
        pos = m.end()
    out.append(text[pos:end])
    body = " ".join("".join(out).split())
    return ("…" if start > 0 else "") + body + ("…" if end < len(text.rstrip()) else "")
