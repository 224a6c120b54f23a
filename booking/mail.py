"""Outgoing e-mail over SMTP (or to the log, for the demo)."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from email import encoders
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

from flask import current_app

from . import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    """A file for a mail; ``params`` go on its Content-Type (method=REQUEST)."""

    filename: str
    data: bytes
    mimetype: str = "application/octet-stream"
    params: dict[str, str] = field(default_factory=dict)


def _header(value: str) -> str | Header:
    # A line break in a header value would start a header of its own.
    if "\r" in value or "\n" in value:
        raise ValueError("a mail header cannot contain a line break")
    return value if value.isascii() else Header(value, "utf-8")


def _message(
    to: str,
    subject: str,
    text: str,
    html: str | None,
    attachments: list[Attachment] | None,
) -> Message:
    """The MIME message, built with the classic ``email.mime`` classes: the
    ``EmailMessage`` API parses every header it sets again, which made up a
    third of a confirmation mail's CPU (bench/README.md, "Mail cost")."""
    body: Message = MIMEText(text, "plain", "utf-8")
    if html:
        body = MIMEMultipart("alternative", _subparts=[body])
        body.attach(MIMEText(html, "html", "utf-8"))
    if attachments:
        body = MIMEMultipart("mixed", _subparts=[body])
        for attachment in attachments:
            maintype, _, subtype = attachment.mimetype.partition("/")
            part = MIMEBase(maintype, subtype, **attachment.params)
            part.set_payload(attachment.data)
            encoders.encode_base64(part)
            part.add_header(
                "Content-Disposition", "attachment", filename=attachment.filename
            )
            body.attach(part)
    sender_name, sender = parseaddr(current_app.config["MAIL_FROM"])
    body["From"] = formataddr((sender_name, sender), "utf-8")
    body["To"] = _header(to)
    body["Subject"] = _header(subject)
    body["Date"] = formatdate(localtime=False)
    # With the domain given, make_msgid does no DNS lookup of this host.
    body["Message-ID"] = make_msgid(
        domain=sender.rpartition("@")[2] or "landdesk.invalid"
    )
    return body


def send_mail(
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    attachments: list[Attachment] | None = None,
) -> None:
    """Send one mail. Raises ValueError for a header with a line break,
    OSError or smtplib.SMTPException when the server fails."""
    config = current_app.config
    message = _message(to, subject, text, html, attachments)
    url = config["MAIL_URL"]
    if url == "console":
        log.warning(
            "mail (MAIL_URL=console, not sent) to %s: %s\n%s", to, subject, text
        )
        return
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps", "smtp+starttls"):
        raise RuntimeError(f"unsupported MAIL_URL scheme: {parts.scheme}")
    smtp_class = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    try:
        with smtp_class(parts.hostname, parts.port or 25, timeout=10) as smtp:
            if parts.scheme == "smtp+starttls":
                smtp.starttls()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException):
        metrics.MAILS_FAILED.inc()
        raise
