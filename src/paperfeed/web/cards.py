"""Cards: the shared HTML of paper cards, rendered once per catalogue change, and the listing
pages built from them with each reader's state laid over.

A card's HTML depends on the paper's content, its upvote count, its submitter's display name,
and, for a signed-in reader, three yes/no marks (upvoted, saved, not interested) and the
session's CSRF token. Cards are cached by everything but the token: (id, the catalogue's
content version, upvotes, submitter name, marks). Rendered for the cache, the CSRF fields hold
a slot, raw `<pf-csrf>`, where the reader's token goes when the page is put together; no escaped
value can contain a raw `<`, so no paper text can fake the slot. A card is kept already split at
its slots, so a page is one join with the token (searching 800 KB of cards for 900 slots on every
request cost more than the rest of the page). A vote moves the catalogue version but not the
content version: only the voted card is rendered anew.

The order, counts and navigation of a page (a `feeds.Lineup`) are kept per URL and catalogue
version; a reader's marks are read per request for the page's ids only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from markupsafe import Markup, escape

from paperfeed import accounts, feeds, library, voting
from paperfeed.feeds import Lineup, Period, Stamp
from paperfeed.models import Paper, User
from paperfeed.web import auth
from paperfeed.web.cache import Lru

CSRF_SLOT = "<pf-csrf>"
CSRF_SLOT_BYTES = CSRF_SLOT.encode()
CARDS = Markup("<pf-cards>")  # where a page's cards go: no escaped value holds a raw "<"
CARDS_SLOT = str(CARDS).encode()
SEPARATOR = Markup("<!--pf-card-->")
CARDS_PER_PAGE = 16  # card cache entries per response cache entry


class _Anyone:
    """The `current_user` of cards rendered for any signed-in reader: true, and nothing else."""

    def __bool__(self) -> bool:
        return True


_ANYONE = _Anyone()


def _csrf_slot(_request: Any = None) -> Markup:
    return Markup(CSRF_SLOT)


@dataclass(frozen=True, slots=True)
class Marks:
    """One reader's marks among a page's papers."""

    voted: set[str]
    saved: set[str]
    dismissed: set[str]


NO_MARKS = Marks(set(), set(), set())


def marks_in(request: Request, reader: User | None, period: Period) -> Marks:
    """The reader's upvotes, saved and dismissed papers among those of the period."""
    if reader is None:
        return NO_MARKS
    return Marks(*library.card_marks(request.app.state.db, reader, period.start, period.end))


def lineup(
    request: Request, stamp: Stamp, period: Period, *, limit: int, cursor: str | None
) -> tuple[Lineup, dict[int, str]]:
    """The page's lineup and its submitters' display names, kept per URL and catalogue version;
    its count and arrows are kept per period and content version, so after a vote only the
    narrow rows are read again."""
    today = feeds.today()
    key = (today, request.url.path, request.url.query, stamp.version)
    lineups: Lru = request.app.state.lineups
    found = lineups.get(key)
    if found is None:
        db = request.app.state.db
        frame_key = ("frame", today, period, stamp.content)
        frame = lineups.get(frame_key)
        if frame is None:
            frame = feeds.frame(db, period, on=today)
            lineups.put(frame_key, frame)
        made = feeds.lineup(db, period, limit=limit, cursor=cursor, on=today, known=frame)
        names = accounts.display_names(db, {e.submitted_by for e in made.entries})
        found = (made, names)
        lineups.put(key, found)
    return found


def with_cards(response: Response, cards: bytes) -> Response:
    """A page rendered with `CARDS` in place of its cards, with the cards put in."""
    body = bytes(response.body).replace(CARDS_SLOT, cards, 1)
    response.body = body
    response.headers["content-length"] = str(len(body))
    return response


def render_cards(
    request: Request,
    stamp: Stamp,
    entries: Iterable[feeds.Entry],
    submitters: dict[int, str],
    *,
    signed_in: bool,
    marks: Marks = NO_MARKS,
    after: list[Markup] | None = None,
) -> bytes:
    """The cards of these entries as UTF-8, in order, from the cache where it has them;
    `after`, row for row, is HTML put after each card (a for-you pick's reason)."""
    cache: Lru = request.app.state.cards
    content = stamp.content
    voted, saved, dismissed = marks.voted, marks.saved, marks.dismissed
    keys = [
        (
            e.arxiv_id,
            content,
            e.upvotes,
            submitters.get(e.submitted_by) if e.submitted_by is not None else None,
            (e.arxiv_id in voted, e.arxiv_id in saved, e.arxiv_id in dismissed)
            if signed_in
            else None,
        )
        for e in entries
    ]
    html = cache.get_many(keys)
    missing = [i for i, card in enumerate(html) if card is None]
    if missing:
        _fill(request, keys, html, missing, submitters, signed_in=signed_in)
    token = str(escape(auth.csrf_token(request))).encode() if signed_in else b""
    pieces: list[bytes] = []
    for i, card in enumerate(html):
        pieces.append(card[0])
        for rest in card[1:]:  # the token where each slot was
            pieces.append(token)
            pieces.append(rest)
        if after is not None and after[i]:
            pieces.append(str(after[i]).encode())
    return b"".join(pieces)


def render_papers(
    request: Request, reader: User, papers: list[Paper], *, after: list[Markup] | None = None
) -> bytes:
    """Cards of these papers for a signed-in reader, in this order (a ranking's, not a
    listing's), from the card cache, with the reader's marks; `after` as in render_cards."""
    if not papers:
        return b""
    db = request.app.state.db
    stamp = feeds.catalog_stamp(db)
    ids = [p.arxiv_id for p in papers]
    state = library.state_among(db, reader, ids)
    marks = Marks(voting.voted_among(db, reader, ids), state.saved, state.dismissed)
    entries = [feeds.Entry(p.arxiv_id, p.upvotes or 0, p.submitted_by) for p in papers]
    submitters = accounts.display_names(db, {p.submitted_by for p in papers})
    return render_cards(
        request, stamp, entries, submitters, signed_in=True, marks=marks, after=after
    )


def _fill(
    request: Request,
    keys: list[tuple],
    html: list[tuple[bytes, ...] | None],
    missing: list[int],
    submitters: dict[int, str],
    *,
    signed_in: bool,
) -> None:
    """Render the missing cards in one template pass and keep them."""
    found: dict[str, Paper] = feeds.papers_by_id(
        request.app.state.db, [keys[i][0] for i in missing]
    )
    todo = [i for i in missing if keys[i][0] in found]
    items = []
    for i in todo:
        state = keys[i][4] or (False, False, False)
        items.append((found[keys[i][0]], *state))
    template = request.app.state.templates.env.get_template("_cards.html")
    rendered = template.render(
        items=items,
        separator=SEPARATOR,
        submitters=submitters,
        current_user=_ANYONE if signed_in else None,
        csrf=_csrf_slot,
        request=None,
    ).split(SEPARATOR)
    cache: Lru = request.app.state.cards
    for i, text in zip(todo, rendered, strict=False):
        paper = found[keys[i][0]]
        card = tuple(text.encode().split(CSRF_SLOT_BYTES))
        html[i] = card
        # A paper changed since the lineup was read shows its current count: not kept.
        if paper.upvotes == keys[i][2]:
            cache.put(keys[i], card)
    for i in missing:
        if html[i] is None:
            html[i] = (b"",)  # hidden or deleted since the lineup was read
