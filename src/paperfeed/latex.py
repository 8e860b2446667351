"""LaTeX in titles and abstracts: MathML for pages, plain text for feeds, mail and the API.

`$\\alpha$`, `$$...$$`, `\\(...\\)` and `\\[...\\]` are math. latex2mathml turns each into
MathML on the server (browsers render it natively, no script); its output is then rebuilt
element by element from an allow-list, because the converter copies `\\text{<script>}` and
`\\href{javascript:...}` straight through. Anything that does not convert stays as escaped text.
"""

from __future__ import annotations

import functools
import html
import re
import xml.etree.ElementTree as ET

from markupsafe import Markup

MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"
MAX_MATH = 400  # longer formulas stay as text: conversion time grows with them
_TAGS = frozenset(
    [
        "math",
        "mrow",
        "mi",
        "mn",
        "mo",
        "ms",
        "mtext",
        "mspace",
        "msup",
        "msub",
        "msubsup",
        "mfrac",
        "msqrt",
        "mroot",
        "mover",
        "munder",
        "munderover",
        "mtable",
        "mtr",
        "mtd",
        "mstyle",
        "mpadded",
        "mphantom",
        "menclose",
    ]
)
_ATTRIBUTES = frozenset(
    [
        "display",
        "mathvariant",
        "stretchy",
        "fence",
        "separator",
        "lspace",
        "rspace",
        "accent",
        "accentunder",
        "movablelimits",
        "linethickness",
        "columnalign",
        "rowalign",
        "columnspacing",
        "rowspacing",
        "width",
        "height",
        "depth",
        "minsize",
        "maxsize",
        "symmetric",
        "largeop",
        "notation",
        "displaystyle",
        "scriptlevel",
    ]
)
_SAFE_VALUE = re.compile(r"^[\w .%+-]{0,40}$")
# Math spans: $$..$$, \[..\], \(..\), and $..$ whose inner edges are not blank and whose closing
# dollar is not followed by a digit (so "$5 and $10" stays text). \$ is a literal dollar.
_MATH = re.compile(
    r"\$\$(?P<d1>.+?)\$\$"
    r"|\\\[(?P<d2>.+?)\\\]"
    r"|\\\((?P<i1>.+?)\\\)"
    r"|(?<![\\$])\$(?P<i2>[^\s$](?:[^$]*?[^\s\\$])?)\$(?!\d)",
    re.DOTALL,
)


def _segments(text: str):
    """(is_math, display, content, source) pieces of `text`, in order."""
    pos = 0
    for m in _MATH.finditer(text):
        if m.start() > pos:
            yield False, False, text[pos : m.start()], text[pos : m.start()]
        inner = m["d1"] or m["d2"] or m["i1"] or m["i2"]
        if len(inner) > MAX_MATH:
            yield False, False, m.group(0), m.group(0)
        else:
            yield True, bool(m["d1"] or m["d2"]), inner, m.group(0)
        pos = m.end()
    if pos < len(text):
        yield False, False, text[pos:], text[pos:]


@functools.lru_cache(maxsize=8192)
def _mathml_tree(latex: str, display: bool) -> ET.Element | None:
    from latex2mathml.converter import convert

    try:
        out = convert(latex, display="block" if display else "inline")
        return ET.fromstring(out)
    except Exception:  # noqa: BLE001 - any input the converter cannot take stays as text
        return None


def _local(tag: str) -> str:
    return tag[len(MATHML_NS) :] if tag.startswith(MATHML_NS) else tag


def _rebuild(el: ET.Element, out: list[str]) -> None:
    tag = _local(el.tag)
    if tag not in _TAGS:
        return  # unknown elements go with their content: it may be markup in disguise
    attrs = "".join(
        f' {k}="{html.escape(v)}"'
        for k, v in sorted(el.attrib.items())
        if k in _ATTRIBUTES and _SAFE_VALUE.match(v)
    )
    if tag == "math":
        attrs = ' xmlns="http://www.w3.org/1998/Math/MathML"' + attrs
    out.append(f"<{tag}{attrs}>")
    if el.text:
        out.append(html.escape(el.text))
    for child in el:
        _rebuild(child, out)
        if child.tail:
            out.append(html.escape(child.tail))
    out.append(f"</{tag}>")


@functools.lru_cache(maxsize=8192)
def _math_html(latex: str, display: bool) -> str | None:
    tree = _mathml_tree(latex, display)
    if tree is None:
        return None
    out: list[str] = []
    _rebuild(tree, out)
    return "".join(out)


def _plain(text: str) -> bool:
    """No math delimiter at all: the common case, answered without the regular expression."""
    return "$" not in text and "\\(" not in text and "\\[" not in text


def has_math(text: str | None) -> bool:
    """Whether the text holds anything this module treats as math."""
    if not text:
        return False
    return _MATH.search(text) is not None


def to_html(text: str | None) -> Markup:
    """Escaped text with each formula as MathML (its LaTeX kept as the `alttext`)."""
    if not text:
        return Markup("")
    if _plain(text):
        return Markup(html.escape(text, quote=False))
    return _math_text_html(text)


@functools.lru_cache(maxsize=2048)  # a day's titles and abstracts with math, rendered once
def _math_text_html(text: str) -> Markup:
    parts = []
    for is_math, display, content, source in _segments(text):
        rendered = _math_html(content, display) if is_math else None
        if rendered is None:
            parts.append(html.escape(source, quote=False))
        else:
            alt = html.escape(content)
            parts.append(rendered.replace("<math ", f'<math alttext="{alt}" ', 1))
    return Markup("".join(parts))


_SCRIPT = {"msup": "^", "msub": "_"}


def _text_of(el: ET.Element) -> str:
    tag = _local(el.tag)
    if tag not in _TAGS:
        return ""
    kids = [_text_of(c) for c in el]
    if tag in _SCRIPT and len(kids) == 2:
        return kids[0] + _SCRIPT[tag] + _group(kids[1])
    if tag == "msubsup" and len(kids) == 3:
        return kids[0] + "_" + _group(kids[1]) + "^" + _group(kids[2])
    if tag == "mfrac" and len(kids) == 2:
        return _group(kids[0]) + "/" + _group(kids[1])
    if tag == "msqrt":
        return "√" + _group("".join(kids))
    if tag == "mroot" and len(kids) == 2:
        return kids[1] + "√" + _group(kids[0])
    if tag in ("mover", "munder", "munderover") and kids:
        return kids[0]
    if tag == "mo":
        return (
            f" {el.text.strip()} "
            if el.text and el.text.strip() in "→=≤≥<>≈±×"
            else (el.text or "")
        )
    own = el.text or ""
    if tag == "mi" and len(own) > 1:  # \log, \max: words between letters
        own = f" {own} "
    return own + "".join(kids)


def _group(text: str) -> str:
    text = text.strip()
    return text if len(text) <= 1 else f"({text})"


def to_text(text: str | None) -> str:
    """The text with each formula in plain Unicode (`$k \\to \\infty$` -> `k → ∞`)."""
    if not text:
        return text or ""
    if _plain(text):
        return text
    parts = []
    for is_math, display, content, source in _segments(text):
        tree = _mathml_tree(content, display) if is_math else None
        if tree is None:
            parts.append(source)
        else:
            parts.append(" ".join(_text_of(tree).split()))
    return "".join(parts)
