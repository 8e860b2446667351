"""Email addresses: the one function every address field goes through, and the key a rate limit
counts an address under.

An address field takes exactly one plain addr-spec (name@example.org). Everything RFC 5322 would
also let a mail header carry -- display names, comments, groups, lists, quoted local parts,
encoded words -- is refused with a message saying which, because each of them once let one form
field reach two mailboxes or count as a different address than the one it delivers to.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from paperfeed.errors import InvalidInput

MAX_LENGTH = 254  # RFC 5321's path limit, less the angle brackets; the stored column holds 320
MAX_LOCAL = 64  # RFC 5321, in octets
MAX_INPUT = 1000  # longer input is not an address; refuse it before parsing it
EXAMPLE = "enter one email address like name@example.org"
_ENCODED_WORD = re.compile(r"=\?.*\?=", re.S)


def normalize(raw: str | None) -> str:
    """The canonical form of one address (lower-cased, ASCII domain); InvalidInput otherwise.

    Two inputs that reach the same mailbox by our rules give the same string, so it serves as
    the unique key of accounts and subscriptions and as the key of every rate limit.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidInput(EXAMPLE)
    if len(text) > MAX_INPUT:
        raise InvalidInput(f"that is not an email address: at most {MAX_LENGTH} characters")
    _refuse_header_syntax(text)
    try:
        info = validate_email(
            text,
            check_deliverability=False,  # no DNS in a request; the confirmation mail checks it
            allow_smtputf8=True,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            allow_empty_local=False,
        )
    except EmailNotValidError as exc:
        raise InvalidInput(f"{exc} ({EXAMPLE})") from None
    local = info.local_part
    if len(local.encode()) > MAX_LOCAL:
        raise InvalidInput(f"the part before the @ is too long: at most {MAX_LOCAL} bytes")
    if unicodedata.normalize("NFKC", local) != local:
        # Full-width or other compatibility letters look like plain ones: one form only.
        raise InvalidInput(
            "the part before the @ has full-width or compatibility characters: "
            "type it with plain letters"
        )
    address = f"{local}@{info.ascii_domain}".lower()
    if len(address) > MAX_LENGTH:
        raise InvalidInput(f"that address is too long: at most {MAX_LENGTH} characters")
    return address


def _refuse_header_syntax(text: str) -> None:
    # Checked before the validator so the reader learns what was wrong, not just "invalid".
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise InvalidInput(f"an email address cannot contain control characters ({EXAMPLE})")
    if "<" in text or ">" in text:
        raise InvalidInput(f"enter the address alone, without a name or <brackets> ({EXAMPLE})")
    if ":" in text:
        raise InvalidInput(f"address groups (name:...;) are not allowed ({EXAMPLE})")
    if "," in text or ";" in text:
        raise InvalidInput(f"enter exactly one address, not a list ({EXAMPLE})")
    if "(" in text or ")" in text:
        raise InvalidInput(f"(comments) are not allowed in an email address ({EXAMPLE})")
    if '"' in text:
        raise InvalidInput(f'"quoted" addresses are not accepted ({EXAMPLE})')
    if _ENCODED_WORD.search(text):
        raise InvalidInput(f"encoded words (=?...?=) are not allowed in an address ({EXAMPLE})")


def echo(raw: str | None) -> str:
    """What was typed, safe to show back in the form that refused it: printable characters
    only (no NUL or escape), at most 320."""
    return "".join(c for c in (raw or "") if c.isprintable())[:320]


def limit_key(address: str) -> str:
    """The rate-limit key of a normalised address: hashed, since a key holds 200 characters."""
    return "email:" + hashlib.sha256(address.encode()).hexdigest()[:32]


def is_normalized(address: str) -> bool:
    """Whether `address` is exactly one address in its canonical form."""
    try:
        return normalize(address) == address
    except InvalidInput:
        return False
