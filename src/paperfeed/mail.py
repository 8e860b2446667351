"""Mail: composing and sending messages through SMTP, or to the log in development.

Every message goes to exactly one address, in its normalised form (addresses.normalize): the
To header is built from that address's parts, never parsed from text, and the SMTP envelope
names that one recipient whatever the header says.
"""

from __future__ import annotations

import binascii
import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formataddr, make_msgid

from paperfeed import addresses
from paperfeed.config import Settings
from paperfeed.errors import ConfigError, InvalidInput

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Message:
    """One outgoing mail: a plain-text body and an optional HTML alternative."""

    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


# Headers whose value is a list of <URI> (RFC 2369, RFC 8058): mail providers read them raw, so
# they must never become an RFC 2047 encoded word, which is how the email package folds a long
# line without spaces.
RAW_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post", "list-id", "list-help"})
MAX_LINE = 998  # RFC 5322's hard limit on a header line


class _Policy(EmailPolicy):
    """The default policy, except that RAW_HEADERS are written as given, on one line."""

    def fold(self, name, value):
        if name.lower() in RAW_HEADERS:
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name, value):
        if name.lower() in RAW_HEADERS:
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


POLICY = _Policy()


# One lower-case ASCII dot-atom address: the common case, checked in a microsecond where the
# full normalisation takes 150 (a digest run checks every recipient).
_ATOM = r"[a-z0-9!#$%&'*+/^_`{|}~-]+"  # atext less "=" and "?", which encoded words need
_PLAIN = re.compile(rf"{_ATOM}(\.{_ATOM})*@[a-z0-9-]+(\.[a-z0-9-]+)+")


def _one_address(address: str) -> bool:
    return bool(_PLAIN.fullmatch(address)) or addresses.is_normalized(address)


def recipient(address: str) -> Address:
    """The one recipient of a message; InvalidInput unless `address` is one normalised address."""
    if not _one_address(address):
        raise InvalidInput("a message goes to exactly one plain, normalised address")
    local, _, domain = address.rpartition("@")
    return Address(username=local, domain=domain)


def build(settings: Settings, message: Message) -> EmailMessage:
    """The RFC 5322 message; refuses header injection through any field and any recipient but
    one plain address."""
    for value in (message.to, message.subject, *message.headers.values()):
        if "\r" in value or "\n" in value:
            raise InvalidInput("line breaks are not allowed in mail headers")
    for name, value in message.headers.items():
        if name.lower() in RAW_HEADERS and (
            not value.isascii() or len(name) + 2 + len(value) > MAX_LINE
        ):
            raise InvalidInput(f"the {name} header must be ASCII and fit on one line")
    msg = EmailMessage(policy=POLICY)
    msg["From"] = formataddr((settings.site_name, settings.mail_from))
    msg["To"] = recipient(message.to)
    msg["Subject"] = message.subject
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    for name, value in message.headers.items():
        msg[name] = value
    if message.html:
        msg["MIME-Version"] = "1.0"
        msg.make_alternative()
        msg.attach(_text_part(message.text, "plain"))
        msg.attach(_text_part(message.html, "html"))
    else:
        msg.set_content(message.text)
    return msg


def _text_part(body: str, subtype: str) -> EmailMessage:
    """A UTF-8 text part, quoted-printable. Encoded by binascii (C): the email package's own
    encoder is pure Python and tries base64 as well, 1.7 ms of a digest's 4 ms to build."""
    part = EmailMessage()
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    if not body.endswith("\n"):
        body += "\n"
    part.set_payload(binascii.b2a_qp(body.encode(), istext=True).decode("ascii"))
    return part


def send(settings: Settings, message: Message) -> None:
    """Deliver through the configured backend: `smtp`, or `console` (the log) for development."""
    msg = build(settings, message)
    if settings.mail_backend == "console":
        log.warning(
            "mail (console backend, not sent) to %s: %s\n%s",
            message.to,
            message.subject,
            message.text,
        )
        return
    if settings.mail_backend != "smtp":
        raise ConfigError(f"unknown mail_backend {settings.mail_backend!r}: console or smtp")
    with connect(settings) as smtp:
        smtp.send_message(msg, to_addrs=[message.to])


def _single_to(msg: EmailMessage) -> str:
    found = msg.get_all("To") or []
    targets = [a.addr_spec for header in found for a in getattr(header, "addresses", ())]
    if len(targets) != 1 or not _one_address(targets[0]):
        raise smtplib.SMTPRecipientsRefused({str(targets): (553, b"not exactly one recipient")})
    return targets[0]


# --- mail outside the request -------------------------------------------------------------------

Defer = Callable[..., object]


def at_once(job: Callable[..., object], *args) -> None:
    """Run a mail job now: the default, for the CLI. The web passes its background tasks
    instead, so no answer waits for the mail server, and none is slower for a known address."""
    job(*args)


def deliver(settings: Settings, message: Message) -> None:
    """`send`, for a job that runs after the reader was answered: a failure is logged, since
    nobody is left to tell."""
    try:
        send(settings, message)
    except Exception:  # noqa: BLE001 - a background job has nobody else to tell
        log.exception("could not send %r to one reader", message.subject)


def connect(settings: Settings) -> smtplib.SMTP:
    """An SMTP connection set up as the settings say (SSL, STARTTLS, login)."""
    timeout = settings.http_timeout
    if settings.smtp_security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        if settings.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    if settings.smtp_user:
        smtp.login(settings.smtp_user, settings.smtp_password)
    return smtp


def permanent(exc: Exception) -> bool:
    """Whether a delivery error is the server's final word for that address (a 5xx reply)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _msg in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return False  # our From address was refused: a configuration problem, not the reader's
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return False


class Mailer:
    """Delivers many messages over one SMTP connection, reconnecting after a drop; or, with the
    console backend, writes them to the log."""

    def __init__(self, settings: Settings) -> None:
        if settings.mail_backend not in ("console", "smtp"):
            raise ConfigError(f"unknown mail_backend {settings.mail_backend!r}: console or smtp")
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: Message | EmailMessage) -> None:
        """Hand one message to the server; raises smtplib/OSError errors as they come. A message
        that is not for exactly one plain address is refused like a 5xx for that address."""
        to = message.to if isinstance(message, Message) else _single_to(message)
        try:
            msg = build(self.settings, message) if isinstance(message, Message) else message
        except InvalidInput as exc:
            raise smtplib.SMTPRecipientsRefused({to: (553, str(exc).encode())}) from None
        if self.settings.mail_backend == "console":
            log.warning("mail (console backend, not sent) to %s: %s", msg["To"], msg["Subject"])
            return
        if self._smtp is None:
            self._smtp = connect(self.settings)
        try:
            self._smtp.send_message(msg, to_addrs=[to])
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is closing the connection
                self.close()
            raise
        except smtplib.SMTPRecipientsRefused:
            raise  # refused for that address; the connection stays usable
        except OSError:
            self.close()  # the connection is gone: the next message opens a new one
            raise

    def close(self) -> None:
        """Say goodbye to the server, ignoring a connection that is already gone."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except OSError:
                smtp.close()

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
