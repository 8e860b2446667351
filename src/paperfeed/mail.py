"""Mail: composing and sending messages through SMTP, or to the log in development."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

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


def build(settings: Settings, message: Message) -> EmailMessage:
    """The RFC 5322 message; refuses header injection through any field."""
    for value in (message.to, message.subject, *message.headers.values()):
        if "\r" in value or "\n" in value:
            raise InvalidInput("line breaks are not allowed in mail headers")
    msg = EmailMessage()
    msg["From"] = formataddr((settings.site_name, settings.mail_from))
    msg["To"] = message.to
    msg["Subject"] = message.subject
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    for name, value in message.headers.items():
        msg[name] = value
    msg.set_content(message.text)
    if message.html:
        msg.add_alternative(message.html, subtype="html")
    return msg


def send(settings: Settings, message: Message) -> None:
    """Deliver through the configured backend: `smtp`, or `console` (the log) for development."""
    msg = build(settings, message)
    if settings.mail_backend == "console":
        log.warning("mail (console backend, not sent) to %s: %s\n%s", message.to,
                    message.subject, message.text)  # fmt: skip
        return
    if settings.mail_backend != "smtp":
        raise ConfigError(f"unknown mail_backend {settings.mail_backend!r}: console or smtp")
    with connect(settings) as smtp:
        smtp.send_message(msg)


def connect(settings: Settings) -> smtplib.SMTP:
    """An SMTP connection set up as the settings say (SSL, STARTTLS, login)."""
    timeout = settings.http_timeout
    if settings.smtp_security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout,
            context=ssl.create_default_context(),
        )  # fmt: skip
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        if settings.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    if settings.smtp_user:
        smtp.login(settings.smtp_user, settings.smtp_password)
    return smtp
