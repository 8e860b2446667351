"""The arXiv API (Atom): a category's submissions over a date range, page by page, and one paper."""

from __future__ import annotations

import datetime as dt
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator

from paperfeed.errors import InvalidInput, MalformedFeed, NotFound
from paperfeed.models import Batch, Paper, Rejected
from paperfeed.sources.arxiv_ids import parse_arxiv_id
from paperfeed.sources.fields import clean_text, required_text
from paperfeed.sources.http import PoliteClient
from paperfeed.sources.links import find_links
from paperfeed.sources.record import make_paper, primary_of
from paperfeed.sources.schedule import listing_day
from paperfeed.sources.xmldoc import parse_xml

log = logging.getLogger(__name__)

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
    "arxiv": "http://arxiv.org/schemas/atom",
}
ERROR_IDS = ("http://arxiv.org/api/errors", "https://arxiv.org/api/errors")
MAX_PAGE = 2000  # arXiv refuses larger pages
EMPTY_PAGE_RETRIES = 2


def _timestamp(text: str | None, what: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{what} {text.strip()[:40]!r} is not a timestamp") from None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def parse_feed(body: bytes) -> tuple[ET.Element, int | None]:
    """The Atom root and its opensearch totalResults; MalformedFeed for anything else."""
    root = parse_xml(body, what="arXiv API response", root=f"{{{NS['atom']}}}feed")
    for entry in root.findall("atom:entry", NS):
        if (entry.findtext("atom:id", "", NS) or "").startswith(ERROR_IDS):
            message = clean_text(entry.findtext("atom:summary", "", NS)) or "unknown error"
            raise MalformedFeed(f"arXiv API error: {message}")
    total = root.findtext("opensearch:totalResults", None, NS)
    return root, int(total) if total and total.strip().isdigit() else None


def entry_to_paper(entry: ET.Element) -> Paper:
    """A Paper from one Atom <entry>; raises InvalidInput naming what is missing or wrong."""
    arxiv_id, version = parse_arxiv_id(entry.findtext("atom:id", "", NS) or "")
    title = required_text(entry.findtext("atom:title", None, NS), "title")
    abstract = required_text(entry.findtext("atom:summary", None, NS), "abstract")
    authors = [
        name
        for a in entry.findall("atom:author", NS)
        if (name := clean_text(a.findtext("atom:name", None, NS)))
    ]
    primary_el = entry.find("arxiv:primary_category", NS)
    primary = primary_el.get("term") if primary_el is not None else None
    categories = [t for c in entry.findall("atom:category", NS) if (t := c.get("term"))]
    primary = clean_text(primary)
    if primary:
        categories = [primary] + [c for c in categories if c != primary]
    published = _timestamp(entry.findtext("atom:published", None, NS), "published")
    comment = clean_text(entry.findtext("arxiv:comment", None, NS))
    code_url, project_url = find_links(abstract, comment)
    return make_paper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=abstract,
        authors=authors,
        version=version,
        primary_category=primary or primary_of(categories),
        categories=categories,
        comment=comment,
        journal_ref=clean_text(entry.findtext("arxiv:journal_ref", None, NS)),
        doi=clean_text(entry.findtext("arxiv:doi", None, NS)),
        published=published,
        updated=_timestamp(entry.findtext("atom:updated", None, NS), "updated"),
        listing_day=listing_day(published) if published else None,
        code_url=code_url,
        project_url=project_url,
    )


def parse_entries(root: ET.Element) -> tuple[list[Paper], list[Rejected]]:
    """Every entry of a feed as a Paper, or Rejected with the reason."""
    papers, rejected = [], []
    for i, entry in enumerate(root.findall("atom:entry", NS), start=1):
        try:
            papers.append(entry_to_paper(entry))
        except InvalidInput as exc:
            ref = (entry.findtext("atom:id", "", NS) or "").rsplit("/", 1)[-1] or f"entry {i}"
            rejected.append(Rejected(ref, str(exc)))
    return papers, rejected


class ArxivAPISource:
    """A category's submissions between two days, from the arXiv API, oldest first."""

    name = "arxiv"

    def __init__(
        self,
        client: PoliteClient,
        *,
        base_url: str,
        category: str,
        since: dt.date,
        until: dt.date | None = None,
        page_size: int = 100,
    ) -> None:
        if not category or any(ch in category for ch in " :()[]\"'"):
            raise InvalidInput(f"not an arXiv category: {category!r} (e.g. cs.LG)")
        self.client = client
        self.base_url = base_url
        self.category = category
        self.since = since
        self.until = until or dt.datetime.now(dt.UTC).date()
        if self.until < self.since:
            raise InvalidInput("--until is before --since")
        self.page_size = max(1, min(page_size, MAX_PAGE))
        self.key = f"arxiv:{category}:{since.isoformat()}:{self.until.isoformat()}"

    def query(self, start: int) -> dict[str, str | int]:
        """The API parameters for the page starting at `start`."""
        span = f"[{self.since:%Y%m%d}0000 TO {self.until:%Y%m%d}2359]"
        return {
            "search_query": f"cat:{self.category} AND submittedDate:{span}",
            "sortBy": "submittedDate",
            "sortOrder": "ascending",
            "start": start,
            "max_results": self.page_size,
        }

    def batches(self, cursor: str | None = None) -> Iterator[Batch]:
        """One batch per API page; the cursor is the next page's start offset."""
        start = int(cursor) if cursor and cursor.isdigit() else 0
        empty_tries = 0
        while True:
            response = self.client.get(self.base_url, params=self.query(start))
            root, total = parse_feed(response.content)
            papers, rejected = parse_entries(root)
            count = len(papers) + len(rejected)
            if count == 0 and total is not None and start < total:
                # arXiv now and then answers a page empty although more results exist; asking
                # again usually helps, and a total it cannot serve must not block the harvest.
                empty_tries += 1
                if empty_tries <= EMPTY_PAGE_RETRIES:
                    log.warning(
                        "arXiv returned an empty page at %d of %d; asking again", start, total
                    )
                    continue
                missing = Rejected(
                    f"results {start + 1}-{total}",
                    f"arXiv answered {empty_tries} times with an empty page at {start} of {total}; "
                    "the rest of the range was not fetched",
                )
                yield Batch([], [missing], None, total)
                return
            if count == 0:
                yield Batch([], [], None, total)
                return
            empty_tries = 0
            start += count
            done = total is None or start >= total
            yield Batch(papers, rejected, None if done else str(start), total)
            if done:
                return


def fetch_one(client: PoliteClient, *, base_url: str, arxiv_id: str) -> Paper:
    """The latest version of one paper from the arXiv API; NotFound if arXiv has none."""
    plain_id, _version = parse_arxiv_id(arxiv_id)
    response = client.get(base_url, params={"id_list": plain_id, "max_results": 1})
    root, _total = parse_feed(response.content)
    papers, rejected = parse_entries(root)
    if papers:
        return papers[0]
    if rejected:
        raise NotFound(f"arXiv has no usable record for {plain_id}: {rejected[0].reason}")
    raise NotFound(f"arXiv has no paper {plain_id}")


def fetch_many(
    client: PoliteClient, *, base_url: str, arxiv_ids: list[str], batch: int = 100
) -> Iterator[tuple[list[Paper], list[str]]]:
    """Papers for many ids, `batch` per request: (found, ids arXiv has no paper for) per request.
    Network failures propagate (SourceUnavailable) so the caller decides what waits."""
    for at in range(0, len(arxiv_ids), batch):
        part = arxiv_ids[at : at + batch]
        response = client.get(
            base_url, params={"id_list": ",".join(part), "max_results": len(part)}
        )
        root, _total = parse_feed(response.content)
        papers, _rejected = parse_entries(root)
        found = {p.arxiv_id for p in papers}
        yield [p for p in papers if p.arxiv_id in set(part)], [i for i in part if i not in found]
