"""Fetched XML documents: bytes to an element tree, or MalformedFeed saying what they really are."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from paperfeed.errors import MalformedFeed

_DECLARED = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_HTML = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL
)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _html_title(body: bytes) -> str:
    m = _TITLE.search(body[:4096])
    title = " ".join(m[1].decode("utf-8", "replace").split()) if m else ""
    return f' "{title[:80]}"' if title else ""


def parse_xml(body: bytes, *, what: str, root: str) -> ET.Element:
    """The root element, which must be `root` ({ns}tag); else MalformedFeed naming `what`."""
    body = body.removeprefix(b"\xef\xbb\xbf")
    if not body.strip():
        raise MalformedFeed(f"{what} is empty")
    if _HTML.match(body):
        # Proxies and overloaded servers answer 200 with an HTML error page.
        raise MalformedFeed(f"{what} is an HTML page{_html_title(body)}, not XML")
    declared = _DECLARED.match(body)
    encoding = declared[1].decode("ascii").lower().replace("_", "-") if declared else "utf-8"
    if encoding in ("utf-8", "utf8"):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason == "unexpected end of data":
                raise MalformedFeed(f"{what} is truncated (ends inside a character)") from None
            line = body.count(b"\n", 0, exc.start) + 1
            raise MalformedFeed(
                f"{what} is not UTF-8: byte 0x{body[exc.start]:02x} on line {line}"
            ) from None
    # Neither arXiv format declares entities; the parser refuses any declaration, in whatever
    # encoding it comes (a UTF-16 body hides "<!ENTITY" from a byte search), so no expansion
    # bomb and no external entity is ever read.
    parser = DefusedXMLParser(forbid_dtd=False, forbid_entities=True, forbid_external=True)
    try:
        parser.feed(body)
    except DefusedXmlException:
        raise MalformedFeed(f"{what} declares XML entities; refused") from None
    except ET.ParseError as exc:
        raise MalformedFeed(f"{what} is not well-formed XML ({exc})") from None
    try:
        element = parser.close()
    except DefusedXmlException:
        raise MalformedFeed(f"{what} declares XML entities; refused") from None
    except ET.ParseError as exc:
        # Everything fed parsed, yet the document is incomplete: it was cut off.
        raise MalformedFeed(f"{what} is truncated ({exc})") from None
    if element.tag != root:
        raise MalformedFeed(f"{what} has root element {element.tag}, expected {root}")
    return element
