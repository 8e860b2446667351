"""Markup: Markdown written by readers, rendered to HTML that cannot run anything."""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt

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
