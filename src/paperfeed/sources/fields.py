"""Field values as sources carry them: text with hard wraps, padding and stray control characters,
and required fields."""

from __future__ import annotations

import re
from typing import Any

from paperfeed.errors import InvalidInput

# What XML 1.0 cannot carry (C0 controls but tab, newline and return; lone surrogates; U+FFFE and
# U+FFFF): a feed holding one is not XML at all, so no stored text may hold one.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Text as stored also loses DEL and the C1 controls: no title needs them, and a terminal obeys
# them (U+009B opens a control sequence just as ESC [ does).
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def strip_xml_illegal(text: str) -> str:
    """`text` without the characters XML 1.0 forbids."""
    return XML_ILLEGAL.sub("", text)


def has_unprintable(text: str) -> bool:
    """Whether `text` holds a character clean_text drops (one fast scan)."""
    return _UNPRINTABLE.search(text) is not None


def clean_text(value: Any) -> str | None:
    """Whitespace runs collapsed to one space (arXiv hard-wraps) and control characters dropped;
    None for empty or non-text."""
    if not isinstance(value, str):
        return None
    return " ".join(_UNPRINTABLE.sub("", value).split()) or None


def required_text(value: Any, name: str) -> str:
    """clean_text, but InvalidInput("missing <name>") when there is nothing."""
    text = clean_text(value)
    if text is None:
        raise InvalidInput(f"missing {name}")
    return text
