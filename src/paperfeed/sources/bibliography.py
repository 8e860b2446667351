"""Bibliographies: BibTeX, RIS, CSL-JSON and plain lists of arXiv ids or URLs, read into
References with a report per entry that could not be read. No database here.

The format is told by the content, never by the file name. Reading is forgiving: an entry with
unbalanced braces, a broken line or no usable field is reported and the rest still read; bytes
that are not UTF-8 are read as Windows-1252 (what older reference managers write), reported once.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata

from paperfeed.errors import InvalidInput
from paperfeed.models import Reference
from paperfeed.sources.arxiv_ids import is_arxiv_id, parse_arxiv_id

FORMATS = ("bibtex", "ris", "csl-json", "ids")
MAX_FIELD = 20_000  # characters kept of any one field (an abstract is ~1,500)
MAX_TITLE = 1_000

_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf)/|arxiv[:\s]\s*|10\.48550/arxiv\.)"
    r"(\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?",
    re.IGNORECASE,
)
_BARE_NEW_ID = re.compile(r"^\d{4}\.\d{4,5}(?:v\d+)?$")
_DOI = re.compile(r"10\.\d{4,9}/\S+")


@dataclasses.dataclass(slots=True)
class Problem:
    """An entry that could not be read (or was read only in part): where, and why."""

    entry: int  # 1-based position in the file (0: the file as a whole)
    message: str


@dataclasses.dataclass(slots=True)
class Parsed:
    format: str
    references: list[Reference]
    problems: list[Problem]
    positions: list[int]  # entry number of each reference, for reports


def decode(data: bytes | str) -> tuple[str, list[Problem]]:
    if isinstance(data, str):
        return data, []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    for encoding in ("utf-16",) if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ():
        try:
            return data.decode(encoding), []
        except UnicodeDecodeError:
            pass
    text = data.decode("cp1252", errors="replace")
    return text, [Problem(0, "the file is not UTF-8: read as Windows-1252, check accents")]


def detect(text: str) -> str:
    """Which of FORMATS `text` is; InvalidInput when none."""
    head = text.lstrip()[:5000]
    if head.startswith(("[", "{")):
        return "csl-json"
    if re.search(r"^\s*TY  - ", head, re.MULTILINE):
        return "ris"
    if re.search(r"@\s*[A-Za-z]+\s*[{(]", head):
        return "bibtex"
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    if lines and any(is_arxiv_id(line.split()[0]) for line in lines[:50]):
        return "ids"
    raise InvalidInput(
        "cannot tell the format: expected BibTeX, RIS, CSL-JSON or a list of arXiv ids or URLs"
    )


def parse(data: bytes | str) -> Parsed:
    """Read a bibliography of any supported format."""
    text, problems = decode(data)
    fmt = detect(text)
    reader = {"bibtex": _bibtex, "ris": _ris, "csl-json": _csl_json, "ids": _ids}[fmt]
    refs, more, positions = reader(text)
    return Parsed(fmt, refs, problems + more, positions)


# -- cleaning -----------------------------------------------------------------------------------
_TEX_ACCENTS = {
    '"': "\u0308",
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "c": "\u0327",
    "v": "\u030c",
    "u": "\u0306",
    "H": "\u030b",
}
_TEX_SYMBOLS = {"ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "l": "ł", "L": "Ł", "i": "ı"}


def _untex(value: str) -> str:
    def accent(m: re.Match) -> str:
        return unicodedata.normalize("NFC", m[2] + _TEX_ACCENTS[m[1]])

    value = re.sub(r"\\([\"'`^~=.])\s*\{?\s*([A-Za-z])\s*\}?", accent, value)
    value = re.sub(r"\\([cvuH])\s*\{\s*([A-Za-z])\s*\}", accent, value)
    value = re.sub(r"\\(ss|ae|AE|o|O|l|L|i)\b\s*", lambda m: _TEX_SYMBOLS[m[1]], value)
    value = re.sub(r"\\(?:emph|textit|textbf|mathrm|mathbf|textsc|texttt|url)\s*\{", "{", value)
    value = value.replace("\\&", "&").replace("\\%", "%").replace("\\_", "_").replace("~", " ")
    value = value.replace("{", "").replace("}", "")
    return clean_field(value)


def clean_field(value, limit: int = MAX_FIELD) -> str:
    if value is None:
        return ""
    text = " ".join(str(value).split())
    if not text.isprintable():
        # Control characters never belong in a title or a note; they can hide text in a
        # terminal. (Checked character by character only when there is one: it is slow.)
        text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text[:limit]


def _year(value) -> int | None:
    m = re.search(r"\b(1[5-9]\d\d|2\d\d\d)\b", str(value or ""))
    return int(m[1]) if m else None


def _arxiv_from(*values) -> str | None:
    for value in values:
        if not value:
            continue
        text = str(value).strip()
        if _BARE_NEW_ID.match(text) or is_arxiv_id(text):
            try:
                return parse_arxiv_id(text)[0]
            except InvalidInput:
                pass
        m = _ARXIV_IN_TEXT.search(text)
        if m:
            try:
                return parse_arxiv_id(m[1])[0]
            except InvalidInput:
                continue
    return None


def _doi(value) -> str | None:
    m = _DOI.search(str(value or ""))
    if not m:
        return None
    doi = m[0].rstrip(".,;}")[:300]
    return None if doi.lower().startswith("10.48550/arxiv.") else doi


def _finish(ref: Reference, n: int, problems: list[Problem]) -> Reference | None:
    ref.title = ref.title[:MAX_TITLE]
    if not ref.arxiv_id and not ref.title and not ref.doi:
        problems.append(Problem(n, "neither an arXiv id, a DOI nor a title: skipped"))
        return None
    if not ref.arxiv_id and not ref.title:
        problems.append(Problem(n, "a DOI but no title or arXiv id: skipped"))
        return None
    return ref


# -- BibTeX -------------------------------------------------------------------------------------
_ENTRY_START = re.compile(r"@\s*([A-Za-z]+)\s*([{(])")


def _bib_value(body: str, at: int) -> tuple[str, int]:
    """One field value starting at `at`: {...} (nested), "..." or a bare word; # joins parts."""
    parts: list[str] = []
    while True:
        while at < len(body) and body[at].isspace():
            at += 1
        if at >= len(body):
            break
        c = body[at]
        if c == "{":
            depth, start, close = 0, at, -1
            for m in _BRACES.finditer(body, at):
                if m.group() == "{":
                    depth += 1
                elif m.group() == "}":
                    depth -= 1
                    if depth == 0:
                        close = m.start()
                        break
            if close < 0:
                raise InvalidInput("unbalanced braces")
            parts.append(body[start + 1 : close])
            at = close + 1
        elif c == '"':
            end, depth = at + 1, 0
            while end < len(body):
                if body[end] == "{":
                    depth += 1
                elif body[end] == "}":
                    depth -= 1
                elif body[end] == '"' and depth == 0 and body[end - 1] != "\\":
                    break
                end += 1
            if end >= len(body):
                raise InvalidInput("an unterminated quoted value")
            parts.append(body[at + 1 : end])
            at = end + 1
        else:
            bare = re.match(r"[^,#\s}]+", body[at:])
            word = bare[0] if bare else ""
            parts.append(word)
            at += max(len(word), 1)
        while at < len(body) and body[at].isspace():
            at += 1
        if at < len(body) and body[at] == "#":
            at += 1
            continue
        break
    return "".join(parts), at


def _bib_fields(body: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    at = body.find(",")  # after the citation key
    if at < 0:
        return fields
    at += 1
    while at < len(body):
        m = re.compile(r"\s*([A-Za-z][\w\-:.]*)\s*=\s*").match(body, at)
        if not m:
            nxt = body.find(",", at)
            if nxt < 0:
                break
            at = nxt + 1
            continue
        value, at = _bib_value(body, m.end())
        fields.setdefault(m[1].lower(), value)
        while at < len(body) and body[at] in " \t\r\n,":
            at += 1
    return fields


_BRACES = re.compile(r"\\.|[{}]", re.DOTALL)
_SCAN = re.compile(r"\\.|[{})]|\n@", re.DOTALL)  # what can open, close or end an entry


def _entry_end(text: str, start: int, closer: str) -> int:
    """Index just past the entry whose opening delimiter is at `start`; -1 when it never closes
    (a new entry starting a line at the entry's top level means this one was left open)."""
    braces = 0
    for m in _SCAN.finditer(text, start + 1):
        token = m.group()
        if token[0] == "\\":
            continue
        if token == "{":
            braces += 1
        elif token == "}":
            if braces == 0 and closer == "}":
                return m.end()
            braces -= 1
        elif token == ")":
            if braces == 0 and closer == ")":
                return m.end()
        elif braces == 0 and _ENTRY_START.match(text, m.start() + 1):
            return -1
    return -1


def _bibtex(text: str):
    refs: list[Reference] = []
    problems: list[Problem] = []
    positions: list[int] = []
    at, n = 0, 0
    while True:
        m = _ENTRY_START.search(text, at)
        if not m:
            break
        kind = m[1].lower()
        if kind in ("comment", "preamble", "string"):
            end = _entry_end(text, m.end() - 1, "}" if m[2] == "{" else ")")
            at = end if end > 0 else m.end()
            continue
        n += 1
        end = _entry_end(text, m.end() - 1, "}" if m[2] == "{" else ")")
        if end < 0:
            problems.append(Problem(n, "unbalanced braces: entry skipped"))
            at = m.end()
            continue
        body = text[m.end() : end - 1]
        at = end
        try:
            fields = _bib_fields(body)
        except InvalidInput as exc:
            problems.append(Problem(n, f"{exc}: entry skipped"))
            continue
        authors = [_untex(a) for a in re.split(r"\s+and\s+", fields.get("author", "")) if a.strip()]
        eprint = fields.get("eprint", "")
        prefix = fields.get("archiveprefix", fields.get("eprinttype", "")).lower()
        arxiv = _arxiv_from(
            eprint if (prefix in ("", "arxiv") and eprint) else None,
            fields.get("journal"),
            fields.get("url"),
            fields.get("doi"),
            fields.get("note"),
            fields.get("howpublished"),
        )
        ref = Reference(
            title=_untex(fields.get("title", ""))[:MAX_TITLE],
            abstract=_untex(fields.get("abstract", "")),
            authors=[a[:200] for a in authors[:200]],
            arxiv_id=arxiv,
            doi=_doi(fields.get("doi")),
            year=_year(fields.get("year") or fields.get("date")),
            venue=_untex(fields.get("journal") or fields.get("booktitle") or "")[:300] or None,
        )
        if (done := _finish(ref, n, problems)) is not None:
            refs.append(done)
            positions.append(n)
    if n == 0 and not refs:
        problems.append(Problem(0, "no BibTeX entries found"))
    return refs, problems, positions


# -- RIS ----------------------------------------------------------------------------------------
_RIS_LINE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")


def _ris(text: str):
    refs: list[Reference] = []
    problems: list[Problem] = []
    positions: list[int] = []
    n = 0
    fields: dict[str, list[str]] | None = None
    last = None

    def close() -> None:
        nonlocal fields
        if fields is None:
            return
        get = lambda *tags: next((fields[t][0] for t in tags if fields.get(t)), "")  # noqa: E731
        every = [v for values in fields.values() for v in values]
        ref = Reference(
            title=clean_field(get("TI", "T1", "CT", "BT"), MAX_TITLE),
            abstract=clean_field(get("AB", "N2")),
            authors=[clean_field(a, 200) for t in ("AU", "A1", "A2") for a in fields.get(t, [])][
                :200
            ],
            arxiv_id=_arxiv_from(*fields.get("UR", []), *fields.get("DO", []), *every),
            doi=_doi(get("DO")),
            year=_year(get("PY", "Y1", "DA")),
            venue=clean_field(get("JO", "JF", "T2", "J2"), 300) or None,
        )
        if (done := _finish(ref, n, problems)) is not None:
            refs.append(done)
            positions.append(n)
        fields = None

    for raw in text.splitlines():
        line = raw.rstrip("\r")
        m = _RIS_LINE.match(line)
        if not m:
            if fields is not None and last and line.strip():  # a wrapped value
                fields[last][-1] += " " + line.strip()
            continue
        tag, value = m[1], (m[2] or "").strip()
        if tag == "TY":
            if fields is not None:
                problems.append(Problem(n, "no ER line before the next entry: read as is"))
                close()
            n += 1
            fields, last = {}, None
        elif tag == "ER":
            close()
        elif fields is not None:
            fields.setdefault(tag, []).append(value)
            last = tag
    if fields is not None:
        problems.append(Problem(n, "the file ends inside an entry: read as is"))
        close()
    return refs, problems, positions


# -- CSL-JSON -----------------------------------------------------------------------------------
def _csl_json(text: str):
    refs: list[Reference] = []
    problems: list[Problem] = []
    positions: list[int] = []
    try:
        data = json.loads(text)
    except ValueError as exc:
        return [], [Problem(0, f"not valid JSON: {str(exc)[:120]}")], []
    if isinstance(data, dict):
        data = data.get("items", [data]) if "items" in data else [data]
    if not isinstance(data, list):
        return [], [Problem(0, "CSL-JSON must be a list of items")], []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            problems.append(Problem(n, "not an object: skipped"))
            continue
        authors = []
        for a in item.get("author") or []:
            if isinstance(a, dict):
                name = a.get("literal") or " ".join(
                    str(a.get(k, "")) for k in ("given", "family") if a.get(k)
                )
                if name:
                    authors.append(clean_field(name, 200))
        issued = item.get("issued")
        year = None
        if isinstance(issued, dict):
            parts = issued.get("date-parts")
            if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
                year = _year(parts[0][0])
            year = year or _year(issued.get("raw") or issued.get("literal"))
        ref = Reference(
            title=clean_field(item.get("title"), MAX_TITLE),
            abstract=clean_field(item.get("abstract")),
            authors=authors[:200],
            arxiv_id=_arxiv_from(
                item.get("arxiv") or item.get("arXiv ID"),
                item.get("number")
                if str(item.get("number", "")).lower().startswith("arxiv")
                else None,
                item.get("URL"),
                item.get("DOI"),
                item.get("note"),
                item.get("id") if isinstance(item.get("id"), str) else None,
            ),
            doi=_doi(item.get("DOI")),
            year=year,
            venue=clean_field(item.get("container-title"), 300) or None,
        )
        if (done := _finish(ref, n, problems)) is not None:
            refs.append(done)
            positions.append(n)
    return refs, problems, positions


# -- plain lists of ids or URLs -----------------------------------------------------------------
def _ids(text: str):
    refs: list[Reference] = []
    problems: list[Problem] = []
    positions: list[int] = []
    n = 0
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        n += 1
        token = line.split()[0]
        arxiv = _arxiv_from(token)
        if arxiv is None:
            problems.append(Problem(n, f"not an arXiv id or URL: {clean_field(token, 60)!r}"))
            continue
        refs.append(Reference(arxiv_id=arxiv))
        positions.append(n)
    return refs, problems, positions
