"""arXiv OAI-PMH: bulk and incremental harvests in the `arXiv` metadata format."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from paperfeed.errors import InvalidInput, MalformedFeed
from paperfeed.models import Batch, Paper, Rejected
from paperfeed.sources.arxiv_ids import parse_arxiv_id
from paperfeed.sources.fields import clean_text, required_text
from paperfeed.sources.http import PoliteClient
from paperfeed.sources.links import find_links
from paperfeed.sources.record import make_paper, primary_of
from paperfeed.sources.schedule import listing_day
from paperfeed.sources.xmldoc import parse_xml

NS = {"oai": "http://www.openarchives.org/OAI/2.0/", "arxiv": "http://arxiv.org/OAI/arXiv/"}
# The format gives the v1 date without a time; noon US/Eastern is the middle of the working day.
_ASSUMED_TIME = dt.time(12, 0, tzinfo=ZoneInfo("America/New_York"))


def _date(text: str | None, what: str) -> dt.date | None:
    if not text or not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} {text.strip()[:40]!r} is not a date") from None


def _author(el: ET.Element) -> str | None:
    parts = [
        clean_text(el.findtext("arxiv:forenames", None, NS)),
        clean_text(el.findtext("arxiv:keyname", None, NS)),
        clean_text(el.findtext("arxiv:suffix", None, NS)),
    ]
    return " ".join(p for p in parts if p) or None


def record_to_paper(meta: ET.Element) -> Paper:
    """A Paper from one <arXiv> metadata element; raises InvalidInput naming the problem."""
    arxiv_id, version = parse_arxiv_id(meta.findtext("arxiv:id", "", NS) or "")
    title = required_text(meta.findtext("arxiv:title", None, NS), "title")
    abstract = required_text(meta.findtext("arxiv:abstract", None, NS), "abstract")
    created = _date(meta.findtext("arxiv:created", None, NS), "created")
    updated = _date(meta.findtext("arxiv:updated", None, NS), "updated")
    categories = (meta.findtext("arxiv:categories", "", NS) or "").split()
    comment = clean_text(meta.findtext("arxiv:comments", None, NS))
    code_url, project_url = find_links(abstract, comment)
    authors = [a for el in meta.findall("arxiv:authors/arxiv:author", NS) if (a := _author(el))]

    def utc(day: dt.date | None) -> dt.datetime | None:
        return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) if day else None

    return make_paper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=abstract,
        authors=authors,
        version=version,
        primary_category=primary_of(categories),
        categories=categories,
        comment=comment,
        journal_ref=clean_text(meta.findtext("arxiv:journal-ref", None, NS)),
        doi=clean_text(meta.findtext("arxiv:doi", None, NS)),
        published=utc(created),
        updated=utc(updated),
        listing_day=listing_day(dt.datetime.combine(created, _ASSUMED_TIME)) if created else None,
        code_url=code_url,
        project_url=project_url,
    )


def parse_page(body: bytes) -> Batch:
    """One ListRecords response as a Batch whose cursor is the resumption token."""
    root = parse_xml(body, what="OAI-PMH response", root=f"{{{NS['oai']}}}OAI-PMH")
    error = root.find("oai:error", NS)
    if error is not None:
        code = error.get("code", "unknown")
        if code == "noRecordsMatch":  # the protocol's way of saying "an empty list"
            return Batch([], [], None, 0)
        raise MalformedFeed(f"OAI-PMH error {code}: {clean_text(error.text) or 'no message'}")
    listing = root.find("oai:ListRecords", NS)
    if listing is None:
        raise MalformedFeed("OAI-PMH response has no ListRecords element")
    papers, rejected = [], []
    for i, record in enumerate(listing.findall("oai:record", NS), start=1):
        header = record.find("oai:header", NS)
        ref = (header.findtext("oai:identifier", "", NS) if header is not None else "") or (
            f"record {i}"
        )
        if header is not None and header.get("status") == "deleted":
            continue
        meta = record.find("oai:metadata/arxiv:arXiv", NS)
        if meta is None:
            rejected.append(Rejected(ref, "no arXiv metadata in record"))
            continue
        try:
            papers.append(record_to_paper(meta))
        except InvalidInput as exc:
            rejected.append(Rejected(ref, str(exc)))
    token_el = listing.find("oai:resumptionToken", NS)
    token = clean_text(token_el.text) if token_el is not None else None
    size = token_el.get("completeListSize") if token_el is not None else None
    total = int(size) if size and size.isdigit() else None
    return Batch(papers, rejected, token, total)


class OAISource:
    """An OAI-PMH ListRecords harvest; the cursor is the resumption token."""

    name = "oai"

    def __init__(
        self,
        client: PoliteClient,
        *,
        base_url: str,
        set_spec: str | None = None,
        from_date: dt.date | None = None,
        until: dt.date | None = None,
    ) -> None:
        if from_date and until and until < from_date:
            raise InvalidInput("--until is before --from")
        self.client = client
        self.base_url = base_url
        self.set_spec = set_spec
        self.from_date = from_date
        self.until = until
        self.key = (
            f"oai:{set_spec or '*'}:{from_date.isoformat() if from_date else ''}:"
            f"{until.isoformat() if until else ''}"
        )

    def first_query(self) -> dict[str, str]:
        """The opening ListRecords request."""
        params = {"verb": "ListRecords", "metadataPrefix": "arXiv"}
        if self.set_spec:
            params["set"] = self.set_spec
        if self.from_date:
            params["from"] = self.from_date.isoformat()
        if self.until:
            params["until"] = self.until.isoformat()
        return params

    def batches(self, cursor: str | None = None) -> Iterator[Batch]:
        """One batch per response, following resumption tokens to the end."""
        token = cursor
        while True:
            # With a token the protocol allows no other arguments.
            params = (
                {"verb": "ListRecords", "resumptionToken": token} if token else self.first_query()
            )
            response = self.client.get(self.base_url, params=params)
            batch = parse_page(response.content)
            yield batch
            if not batch.cursor:
                return
            token = batch.cursor
