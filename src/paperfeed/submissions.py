"""Submissions: a reader brings a paper from arXiv onto today's list."""

from __future__ import annotations

from dataclasses import replace

from paperfeed import feeds
from paperfeed.config import Settings
from paperfeed.errors import Conflict, InvalidInput
from paperfeed.models import Paper, User
from paperfeed.sources.arxiv_api import fetch_one
from paperfeed.sources.arxiv_ids import parse_arxiv_id
from paperfeed.sources.http import PoliteClient
from paperfeed.store import Database
from paperfeed.store import papers as store


def submit(
    db: Database, settings: Settings, *, user: User, ref: str, client: PoliteClient
) -> Paper:
    """Fetch the paper an arXiv id or URL names and list it today, "submitted by" `user`.

    InvalidInput for something that is not an arXiv id, Conflict when the paper is already
    here, NotFound when arXiv has no such paper.
    """
    try:
        arxiv_id, _version = parse_arxiv_id(ref)
    except InvalidInput as exc:
        raise InvalidInput(f"{exc}") from None
    with db.connect() as conn:
        known = store.get_many(conn, [arxiv_id]).get(arxiv_id)
    if known is not None:
        raise Conflict(f"{arxiv_id} is already here: /papers/{arxiv_id}")
    paper = fetch_one(client, base_url=settings.arxiv_api_url, arxiv_id=arxiv_id)
    paper = replace(paper, listing_day=feeds.today())
    with db.transaction() as conn:
        if store.upsert(conn, paper) != "new":
            raise Conflict(f"{arxiv_id} is already here: /papers/{arxiv_id}")
        store.set_submitter(conn, paper.arxiv_id, user.id)
        return store.get(conn, paper.arxiv_id)
