"""Markup: Markdown written by readers, rendered to HTML that cannot run anything."""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from paperfeed.sources.fields import XML_ILLEGAL

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "hr",
    "h3",
    "h4",
    "del",
    "sup",
    "sub",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}


@functools.cache
def _markdown() -> MarkdownIt:
    # Raw HTML in the source is shown as text; nh3 then enforces the allow-list regardless.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("strikethrough")


def render(source: str) -> str:
    """Sanitised HTML for a Markdown text: no scripts, no event handlers, only safe links."""
    html = _markdown().render(source)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener ugc",
    )


def finalize(value: object) -> object:
    """Jinja's `finalize` for every page and mail: what a template prints loses the characters
    XML forbids (NUL, other C0 controls, ESC, lone surrogates, U+FFFE/U+FFFF), wherever the value
    came from: a stored title, an echoed query, a setting."""
    if isinstance(value, str) and XML_ILLEGAL.search(value):
        cleaned = XML_ILLEGAL.sub("", value)
        return Markup(cleaned) if isinstance(value, Markup) else cleaned
    return value
