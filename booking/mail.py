"""Outgoing e-mail over SMTP (or to the log, for the demo)."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from flask import current_app

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    """A file for a mail; ``params`` go on its Content-Type (method=REQUEST)."""

    filename: str
    data: bytes
    mimetype: str = "application/octet-stream"
    params: dict[str, str] = field(default_factory=dict)


def send_mail(
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    attachments: list[Attachment] | None = None,
) -> None:
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    for attachment in attachments or ():
        maintype, _, subtype = attachment.mimetype.partition("/")
        message.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
            params=dict(attachment.params),
        )
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
    with smtp_class(parts.hostname, parts.port or 25, timeout=10) as smtp:
        if parts.scheme == "smtp+starttls":
            smtp.starttls()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(message)
