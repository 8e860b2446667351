"""The sources package surface: the Source protocol, lazy exports, and no heavy imports."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import typing

import pytest

import paperfeed.sources as sources

from .recorded import RECORDED, FakeClock, Recorder, polite_client


def test_every_source_has_name_key_and_batches():
    """Each concrete source satisfies the Source protocol's members, with its documented name."""
    clock = FakeClock()
    client = polite_client(Recorder(), clock)
    made = [
        sources.ArxivAPISource(
            client,
            base_url="https://x.test/api",
            category="cs.LG",
            since=dt.date(2025, 11, 1),
            until=dt.date(2025, 11, 2),
        ),
        sources.OAISource(
            client, base_url="https://x.test/oai", set_spec="cs", from_date=dt.date(2025, 11, 1)
        ),
        sources.HFDailySource(RECORDED / "hf_2025-11-20.json"),
        sources.JsonlSource(RECORDED / "papers_mixed.jsonl"),
    ]
    assert [s.name for s in made] == ["arxiv", "oai", "hf-daily", "jsonl"]
    assert [s.key.split(":")[0] for s in made] == ["arxiv", "oai", "hf-daily", "jsonl"]
    assert made[0].key == "arxiv:cs.LG:2025-11-01:2025-11-02"
    assert made[1].key == "oai:cs:2025-11-01:"
    members = set(typing.get_type_hints(sources.Source)) | {"batches"}
    assert all(all(hasattr(s, m) for m in members) for s in made)


def test_unknown_attribute_is_an_attribute_error():
    """The lazy exporter does not swallow typos."""
    with pytest.raises(AttributeError, match="NoSuchSource"):
        sources.NoSuchSource  # noqa: B018


def test_parsing_an_id_does_not_import_httpx():
    """The web layer parses ids on every request; that must not load the HTTP or XML stack."""
    code = (
        "import sys; from paperfeed.sources.arxiv_ids import parse_arxiv_id; "
        "parse_arxiv_id('2511.01234'); "
        "print(sorted(m for m in ('httpx', 'xml.etree.ElementTree') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "is empty"),
        (b"  \n", "is empty"),
        (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>', "entities; refused"),
        # A byte search for "<!ENTITY" misses it in BOM-less UTF-16 (which also passes the UTF-8
        # check, NULs being valid UTF-8); the parser itself must refuse.
        (
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY a "aaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>'.encode("utf-16-le"),
            "entities; refused",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
            "entities; refused",
        ),
        (b"<r><a></r>", "not well-formed XML (mismatched tag"),
        (b"<r><a>text", "truncated"),
        (b"<r>caf\xc3", "truncated (ends inside a character)"),
        (b'<?xml version="1.0" encoding="UTF-8"?><r>caf\xe9</r>', "not UTF-8: byte 0xe9 on line 1"),
        (b"<!-- proxy --><html><body>Bad gateway</body></html>", "HTML page, not XML"),
        (b"<other/>", "has root element other, expected r"),
    ],
)
def test_xml_documents_that_cannot_be_parsed_say_why(body, message):
    """Each way a fetched document can be unusable gets its own reason."""
    from paperfeed.errors import MalformedFeed
    from paperfeed.sources.xmldoc import parse_xml

    with pytest.raises(MalformedFeed, match=re.escape(message)):
        parse_xml(body, what="test document", root="r")


def test_xml_in_a_declared_single_byte_encoding_and_with_a_bom_parses():
    """A document that declares ISO-8859-1 is not held to UTF-8; a UTF-8 BOM is accepted."""
    from paperfeed.sources.xmldoc import parse_xml

    latin = b'<?xml version="1.0" encoding="ISO-8859-1"?><r>caf\xe9</r>'
    assert parse_xml(latin, what="t", root="r").text == "café"
    assert parse_xml(b"\xef\xbb\xbf<r>x</r>", what="t", root="r").text == "x"
