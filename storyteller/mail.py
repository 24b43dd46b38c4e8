"""Sending email: real SMTP in production, the outbox (a table shown on /outbox) in development.

Every message, sent or not, is a ``mail_message`` row, so an operator can see what went out
and what failed. ``send_mail`` flushes the row; it never commits.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from typing import Any

from sqlalchemy.orm import Session as DbSession

from storyteller.models import MailMessage, utcnow

__all__ = ["MailError", "MailSettings", "send_mail", "settings_from_config"]


class MailError(RuntimeError):
    """The SMTP server refused or could not be reached; the row says why."""


@dataclass(frozen=True)
class MailSettings:
    backend: str  # "smtp" or "outbox"
    sender: str
    host: str | None = None
    port: int = 587
    username: str | None = None
    password: str | None = None
    tls: str = "starttls"  # starttls / ssl / none
    timeout: float = 20.0


def settings_from_config(config: Mapping[str, Any]) -> MailSettings:
    backend = str(config.get("MAIL_BACKEND") or "outbox")
    if backend not in ("smtp", "outbox"):
        raise ValueError(f"MAIL_BACKEND must be 'smtp' or 'outbox', not {backend!r}")
    if backend == "smtp" and not config.get("SMTP_HOST"):
        raise ValueError("MAIL_BACKEND is 'smtp' but SMTP_HOST is not set")
    tls = str(config.get("SMTP_TLS") or "starttls")
    if tls not in ("starttls", "ssl", "none"):
        raise ValueError(f"SMTP_TLS must be starttls, ssl or none, not {tls!r}")
    return MailSettings(
        backend=backend,
        sender=str(config.get("MAIL_FROM") or "Storyteller <storyteller@localhost>"),
        host=config.get("SMTP_HOST"),
        port=int(config.get("SMTP_PORT") or 587),
        username=config.get("SMTP_USERNAME"),
        password=config.get("SMTP_PASSWORD"),
        tls=tls,
        timeout=float(config.get("SMTP_TIMEOUT") or 20),
    )


def _valid_address(address: str) -> str:
    name, email = parseaddr(address or "")
    if "@" not in email or any(c in email for c in "\r\n "):
        raise ValueError(f"not an email address: {address!r}")
    return formataddr((name, email)) if name else email


def _message(settings: MailSettings, row: MailMessage) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Message-ID"] = make_msgid(idstring=str(row.id), domain="storyteller")
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    return message


def _deliver(settings: MailSettings, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    if settings.tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host or "", settings.port, timeout=settings.timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.host or "", settings.port, timeout=settings.timeout)
    with client:
        if settings.tls == "starttls":
            client.starttls(context=context)
        if settings.username:
            client.login(settings.username, settings.password or "")
        client.send_message(message)


def send_mail(
    db: DbSession,
    settings: MailSettings,
    *,
    to: str,
    subject: str,
    body_text: str,
    body_html: str | None = None,
    kind: str | None = None,
    session_id: uuid.UUID | None = None,
    raise_on_failure: bool = False,
) -> MailMessage:
    """Send one message (or keep it in the outbox) and return its row.

    With SMTP, a failure is recorded on the row (status "failed", the error) and, when
    ``raise_on_failure``, raised as MailError after the row is flushed.
    """
    row = MailMessage(
        to_address=_valid_address(to),
        subject=" ".join(subject.split())[:300],
        body_text=body_text,
        body_html=body_html,
        backend=settings.backend,
        status="sending" if settings.backend == "smtp" else "queued",
        kind=kind,
        session_id=session_id,
    )
    db.add(row)
    db.flush()
    if settings.backend == "outbox":
        row.status = "sent"
        row.sent_at = utcnow()
        db.flush()
        return row
    try:
        _deliver(settings, _message(settings, row))
    except (OSError, smtplib.SMTPException) as error:
        row.status = "failed"
        row.error_message = f"{type(error).__name__}: {error}"[:2000]
        db.flush()
        if raise_on_failure:
            raise MailError(row.error_message) from error
        return row
    row.status = "sent"
    row.sent_at = utcnow()
    db.flush()
    return row
