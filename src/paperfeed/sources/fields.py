"""Field values as sources carry them: text with hard wraps and padding, and required fields."""

from __future__ import annotations

from typing import Any

from paperfeed.errors import InvalidInput


def clean_text(value: Any) -> str | None:
    """Whitespace runs collapsed to one space (arXiv hard-wraps); None for empty or non-text."""
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def required_text(value: Any, name: str) -> str:
    """clean_text, but InvalidInput("missing <name>") when there is nothing."""
    text = clean_text(value)
    if text is None:
        raise InvalidInput(f"missing {name}")
    return text
