"""A reader's library: saving and removing papers, "not interested" and its undo, notes,
collections (private unless made public), import of bibliographies and export as BibTeX and
CSL-JSON. Every call acts for one reader, on that reader's rows only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable

from paperfeed import accounts, feeds
from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, NotFound, PaperfeedError
from paperfeed.models import Collection, LibraryItem, Paper, Reference, User
from paperfeed.sources import bibliography
from paperfeed.sources.arxiv_api import fetch_many
from paperfeed.sources.arxiv_ids import parse_arxiv_id
from paperfeed.sources.http import PoliteClient
from paperfeed.store import Database
from paperfeed.store import library as store
from paperfeed.store import papers as paper_store
from paperfeed.store import reading as reading_store
from paperfeed.store import votes as vote_store

log = logging.getLogger(__name__)
MAX_NOTE = 10_000
MAX_COLLECTION_NAME = 120
MAX_IMPORT_BYTES = 60 * 1024 * 1024


def _paper_id(ref: str) -> str:
    try:
        return parse_arxiv_id(ref)[0]
    except InvalidInput:
        raise NotFound(f"no paper {ref[:60]!r}") from None


# -- saving and feedback ------------------------------------------------------------------------
def save_paper(db: Database, user: User, arxiv_id: str, *, source: str = "web") -> LibraryItem:
    """Save a catalogue paper; saving it again changes nothing. NotFound for unknown papers."""
    paper_id = _paper_id(arxiv_id)
    with db.transaction() as conn:
        paper = paper_store.get(conn, paper_id)
        ref = Reference(
            title=paper.title,
            abstract=paper.abstract,
            authors=list(paper.authors)[:200],
            arxiv_id=paper.arxiv_id,
            doi=paper.doi,
            year=paper.published.year if paper.published else None,
            venue=paper.journal_ref,
        )
        item_id, _new = store.save(conn, user.id, ref, source=source)
        store.undismiss(conn, user.id, paper_id)  # saving outranks an earlier "not interested"
        return store.get(conn, user.id, item_id)


def unsave_paper(db: Database, user: User, arxiv_id: str) -> bool:
    paper_id = _paper_id(arxiv_id)
    with db.transaction() as conn:
        return store.remove_paper(conn, user.id, paper_id)


def remove_item(db: Database, user: User, item_id: int) -> bool:
    with db.transaction() as conn:
        return store.remove(conn, user.id, item_id)


def dismiss(db: Database, user: User, arxiv_id: str) -> bool:
    """ "Not interested": a negative signal (a saved paper stays saved; unsave it first)."""
    paper_id = _paper_id(arxiv_id)
    with db.transaction() as conn:
        paper_store.get(conn, paper_id)
        return store.dismiss(conn, user.id, paper_id)


def undismiss(db: Database, user: User, arxiv_id: str) -> bool:
    paper_id = _paper_id(arxiv_id)
    with db.transaction() as conn:
        return store.undismiss(conn, user.id, paper_id)


@dataclasses.dataclass(slots=True)
class PaperState:
    """What a card shows for a signed-in reader."""

    saved: set[str]
    dismissed: set[str]


def state_among(db: Database, user: User | None, arxiv_ids: list[str]) -> PaperState:
    if user is None or not arxiv_ids:
        return PaperState(set(), set())
    with db.connect() as conn:
        return PaperState(
            store.saved_among(conn, user.id, arxiv_ids),
            store.dismissed_among(conn, user.id, arxiv_ids),
        )


def set_note(db: Database, user: User, item_id: int, note: str) -> LibraryItem:
    note = bibliography.clean_field(note.replace("\r\n", "\n"), MAX_NOTE) if note else ""
    with db.transaction() as conn:
        store.set_note(conn, user.id, item_id, note)
        return store.get(conn, user.id, item_id)


def items(
    db: Database, user: User, *, collection_id: int | None = None, limit=None, offset: int = 0
) -> list[LibraryItem]:
    with db.connect() as conn:
        if collection_id is not None:
            store.get_collection(conn, user.id, collection_id)
        return store.items(conn, user.id, collection_id=collection_id, limit=limit, offset=offset)


def item(db: Database, user: User, item_id: int) -> LibraryItem:
    with db.connect() as conn:
        return store.get(conn, user.id, item_id)


@dataclasses.dataclass(slots=True)
class Signals:
    """Everything the reader's model learns from, for the library page."""

    saved: int
    upvoted: list[tuple[str, str]]  # (arxiv id, title)
    dismissed: list[tuple[str, str]]


def signals(db: Database, user: User) -> Signals:
    with db.connect() as conn:
        saved = store.count(conn, user.id)
        dismissed = store.dismissed(conn, user.id)
        found = paper_store.get_many(conn, [a for a, _t in dismissed])
        upvoted = [(p.arxiv_id, p.title) for p in vote_store.papers_of(conn, user.id, limit=1000)]
    return Signals(
        saved,
        upvoted,
        [(a, found[a].title if a in found else a) for a, _t in dismissed],
    )


# -- collections --------------------------------------------------------------------------------
def _collection_name(name: str) -> str:
    name = bibliography.clean_field(name, MAX_COLLECTION_NAME)
    if not name:
        raise InvalidInput("a collection needs a name")
    return name


def create_collection(db: Database, user: User, name: str) -> Collection:
    with db.transaction() as conn:
        cid = store.create_collection(conn, user.id, _collection_name(name))
        return store.get_collection(conn, user.id, cid)


def collections(db: Database, user: User) -> list[Collection]:
    with db.connect() as conn:
        return store.collections(conn, user.id)


def collection(db: Database, user: User, collection_id: int) -> Collection:
    with db.connect() as conn:
        return store.get_collection(conn, user.id, collection_id)


def public_collection(db: Database, collection_id: int) -> tuple[Collection, list[LibraryItem]]:
    """A collection its owner made public, with its entries (notes left out: they stay private)."""
    with db.connect() as conn:
        col = store.public_collection(conn, collection_id)
        entries = store.items(conn, col.user_id, collection_id=col.id)
    for entry in entries:
        entry.note = ""
        entry.collections = []
    return col, entries


def set_public(db: Database, user: User, collection_id: int, public: bool) -> None:
    with db.transaction() as conn:
        store.set_public(conn, user.id, collection_id, public)


def delete_collection(db: Database, user: User, collection_id: int) -> bool:
    with db.transaction() as conn:
        return store.delete_collection(conn, user.id, collection_id)


def file_item(db: Database, user: User, collection_id: int, item_id: int, *, on: bool) -> None:
    with db.transaction() as conn:
        if on:
            store.file_item(conn, user.id, collection_id, item_id)
        else:
            store.unfile_item(conn, user.id, collection_id, item_id)


# -- import -------------------------------------------------------------------------------------
@dataclasses.dataclass(slots=True)
class EntryReport:
    entry: int  # position in the file; 0 for the file as a whole
    status: str  # added, merged, skipped, unknown, pending
    message: str


@dataclasses.dataclass(slots=True)
class ImportReport:
    format: str
    added: int = 0
    merged: int = 0
    skipped: int = 0
    fetched: int = 0
    unknown: int = 0
    pending: int = 0  # arXiv ids kept from the file because arXiv could not be reached
    entries: list[EntryReport] = dataclasses.field(default_factory=list)


def import_references(
    db: Database,
    settings: Settings,
    user: User,
    data: bytes | str,
    *,
    client: PoliteClient | None = None,
    collection: str | None = None,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a bibliography into the reader's library.

    Entries with an arXiv id link to the catalogue paper; ids the catalogue lacks are fetched from
    arXiv with `client` (politely, 100 per request). If arXiv cannot be reached the entry is kept
    as the file describes it and reported as pending; an id arXiv does not know is reported and
    dropped from the entry (kept on its title if it has one). Duplicates merge. Nothing here
    raises for one bad entry.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"the file is over {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    parsed = bibliography.parse(data)
    report = ImportReport(parsed.format)
    for p in parsed.problems:
        report.entries.append(EntryReport(p.entry, "skipped" if p.entry else "note", p.message))
        report.skipped += p.entry > 0 and "skipped" in p.message
    refs = list(zip(parsed.positions, parsed.references, strict=True))
    if on_total:
        on_total(len(refs))
    wanted = sorted({r.arxiv_id for _n, r in refs if r.arxiv_id})
    with db.connect() as conn:
        known = {}
        for at in range(0, len(wanted), 500):
            known.update(paper_store.get_many(conn, wanted[at : at + 500]))
    missing = [a for a in wanted if a not in known]
    unknown: set[str] = set()
    unreachable: set[str] = set()
    if missing and client is not None:
        try:
            for found, absent in fetch_many(
                client, base_url=settings.arxiv_api_url, arxiv_ids=missing
            ):
                with db.transaction() as conn:
                    paper_store.upsert_many(conn, found)
                known.update((p.arxiv_id, p) for p in found)
                report.fetched += len(found)
                unknown.update(absent)
        except PaperfeedError as exc:  # arXiv down, an error page: the rest waits
            log.warning("arXiv fetch during import failed: %s", exc)
            unreachable = {a for a in missing if a not in known and a not in unknown}
    else:
        unreachable = set(missing)
    ready: list[tuple[int, Reference, str]] = []
    for n, ref in refs:
        if ref.arxiv_id in unknown:
            report.unknown += 1
            report.entries.append(EntryReport(n, "unknown", f"arXiv has no paper {ref.arxiv_id}"))
            ref.arxiv_id = None
            if not ref.title:
                continue
        paper = known.get(ref.arxiv_id) if ref.arxiv_id else None
        if paper is not None:
            ref.title = paper.title
            ref.abstract = ref.abstract or paper.abstract
            ref.authors = ref.authors or list(paper.authors)[:200]
            ref.year = ref.year or (paper.published.year if paper.published else None)
        elif ref.arxiv_id in unreachable:
            if not ref.title:
                ref.title = ref.arxiv_id
            report.pending += 1
            report.entries.append(
                EntryReport(
                    n,
                    "pending",
                    f"{ref.arxiv_id} is not in the catalogue and arXiv could not be asked: "
                    "kept as the file describes it",
                )
            )
        key = ref.key()
        if key is None:
            report.skipped += 1
            report.entries.append(EntryReport(n, "skipped", "nothing to identify it by"))
            continue
        ready.append((n, ref, key))
    with db.transaction() as conn:
        col_id = (
            store.create_collection(conn, user.id, _collection_name(collection))
            if collection
            else None
        )
        # The first entry of each new key is added in bulk; the rest (duplicates, entries the
        # reader has) merge one by one, in the file's order, after them.
        keys, ids = store.known_keys(conn, user.id)
        first: list[tuple[int, Reference, str]] = []
        later: list[tuple[int, Reference, str]] = []
        for n, ref, key in ready:
            if key in keys or (ref.arxiv_id and ref.arxiv_id in ids):
                later.append((n, ref, key))
            else:
                first.append((n, ref, key))
            keys.add(key)
            if ref.arxiv_id:
                ids.add(ref.arxiv_id)
        added = store.add_many(conn, user.id, [(k, r) for _n, r, k in first], source=parsed.format)
        later += [e for e in first if e[2] not in added]  # a concurrent save got there first
        later.sort(key=lambda e: e[0])
        results = [(n, added[key], True) for n, _r, key in first if key in added]
        for n, ref, _key in later:
            item_id, new = store.save(conn, user.id, ref, source=parsed.format)
            results.append((n, item_id, new))
        for n, item_id, new in results:
            if col_id is not None:
                store.file_item(conn, user.id, col_id, item_id)
            if new:
                report.added += 1
            else:
                report.merged += 1
                report.entries.append(EntryReport(n, "merged", "a duplicate: merged"))
            if on_progress:
                on_progress(1)
    report.entries.sort(key=lambda e: e.entry)
    return report


# -- export -------------------------------------------------------------------------------------
def _bib_escape(value: str) -> str:
    # Braces must balance in BibTeX; a reader's text must never end the field early.
    value = value.replace("\\", "\\textbackslash ").replace("{", "\\{").replace("}", "\\}")
    for c in "&%$#_":
        value = value.replace(c, "\\" + c)
    return value


def _bib_key(entry: LibraryItem, taken: set[str]) -> str:
    surname = (
        re.sub(r"[^A-Za-z]", "", (entry.authors[0].split(",")[0].split() or [""])[-1])
        if entry.authors
        else ""
    )
    word = next((w for w in re.findall(r"[A-Za-z]{4,}", entry.title)), "paper")
    base = f"{surname.lower() or 'anon'}{entry.year or ''}{word.lower()}"[:60]
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}{n}"
    taken.add(key)
    return key


def to_bibtex(entries: list[LibraryItem]) -> str:
    out: list[str] = []
    taken: set[str] = set()
    for e in entries:
        fields = [("title", e.title), ("author", " and ".join(e.authors))]
        if e.year:
            fields.append(("year", str(e.year)))
        if e.venue:
            fields.append(("journal", e.venue))
        if e.doi:
            fields.append(("doi", e.doi))
        if e.arxiv_id:
            fields += [
                ("eprint", e.arxiv_id),
                ("archivePrefix", "arXiv"),
                ("url", f"https://arxiv.org/abs/{e.arxiv_id}"),
            ]
        if e.abstract:
            fields.append(("abstract", e.abstract))
        if e.note:
            fields.append(("note", e.note))
        body = ",\n".join(f"  {k} = {{{_bib_escape(v)}}}" for k, v in fields if v)
        kind = "misc" if e.arxiv_id or not e.venue else "article"
        out.append(f"@{kind}{{{_bib_key(e, taken)},\n{body}\n}}\n")
    return "\n".join(out)


def to_csl_json(entries: list[LibraryItem]) -> str:
    items = []
    for e in entries:
        item: dict = {"id": e.arxiv_id or f"item-{e.id}", "type": "article", "title": e.title}
        if e.authors:
            item["author"] = [{"literal": a} for a in e.authors]
        if e.year:
            item["issued"] = {"date-parts": [[e.year]]}
        if e.abstract:
            item["abstract"] = e.abstract
        if e.doi:
            item["DOI"] = e.doi
        if e.arxiv_id:
            item["URL"] = f"https://arxiv.org/abs/{e.arxiv_id}"
            item["number"] = f"arXiv:{e.arxiv_id}"
        if e.venue:
            item["container-title"] = e.venue
        if e.note:
            item["note"] = e.note
        items.append(item)
    return json.dumps(items, ensure_ascii=False, indent=2)


# -- the private feed token ---------------------------------------------------------------------
def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_feed_token(db: Database, user: User) -> str:
    """A new secret for the reader's private feed URL; the old one stops working."""
    token = secrets.token_urlsafe(24)
    with db.transaction() as conn:
        reading_store.set_feed_token(conn, user.id, _hash(token))
    return token


def revoke_feed_token(db: Database, user: User) -> None:
    with db.transaction() as conn:
        reading_store.set_feed_token(conn, user.id, None)


def has_feed(db: Database, user: User) -> bool:
    with db.connect() as conn:
        return reading_store.has_feed_token(conn, user.id)


def user_for_feed(db: Database, token: str) -> int:
    if not token or len(token) > 100:
        raise NotFound("no such feed")
    with db.connect() as conn:
        return reading_store.user_for_feed(conn, _hash(token))


def card_marks(
    db: Database, user: User, start: dt.date, end: dt.date
) -> tuple[set[str], set[str], set[str]]:
    """(upvoted, saved, dismissed) papers of a reader among those listed start..end."""
    with db.connect() as conn:
        return store.marks_between(conn, user.id, start, end)


def reader_by_email(db: Database, email: str) -> User:
    """The account of an address, for the command line; NotFound otherwise."""
    return accounts.user_by_email(db, email)


def marks(db: Database, user: User) -> tuple[set[str], set[str]]:
    """(saved, dismissed) arXiv ids of a reader, for the buttons on cards."""
    with db.connect() as conn:
        return store.saved_ids(conn, user.id), {a for a, _t in store.dismissed(conn, user.id)}


def latest_listing_day(db: Database) -> dt.date | None:
    """The newest listing day with papers (tomorrow's included: arXiv lists ahead of UTC)."""
    with db.connect() as conn:
        return paper_store.latest_day(conn, on_or_before=feeds.today() + dt.timedelta(days=1))


def papers_of(db: Database, entries: list[LibraryItem]) -> list[Paper]:
    """The catalogue papers of library entries, in their order (entries without one left out)."""
    with db.connect() as conn:
        found = paper_store.get_many(conn, [e.arxiv_id for e in entries if e.arxiv_id])
    return [found[e.arxiv_id] for e in entries if e.arxiv_id in found]
