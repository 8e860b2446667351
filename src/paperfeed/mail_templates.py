"""Mail templates: the Jinja2 environment of the digest and confirmation mails (no I/O but
reading the template files)."""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

from paperfeed import latex
from paperfeed.markup import finalize
from paperfeed.sources.links import safe_url

TEMPLATES = Path(__file__).parent / "templates" / "mail"


def paragraph(text: str, limit: int = 600) -> str:
    """An abstract as one paragraph, LaTeX as plain text, cut at a word near `limit` characters."""
    flat = " ".join(latex.to_text(text or "").split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


@functools.cache
def environment() -> jinja2.Environment:
    """The environment: HTML templates autoescaped, text templates not."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
    )
    env.filters["paragraph"] = paragraph
    env.filters["safe_url"] = safe_url
    return env


def render_text(template: str, **context) -> str:
    """A mail template rendered."""
    return environment().get_template(template).render(**context)
