"""Email reminders before a session, each sent at most once.

What is due: a session with status "scheduled" whose ``scheduled_at`` is still in the future
and within a lead (STORYTELLER_REMINDER_LEADS, hours, default "24,1") of now. Only the
smallest lead a session is within is due, so a session planned 30 minutes ahead gets the
one-hour reminder and not a late "tomorrow" one as well.

Who: the storyteller (their own sign-in's email, and ``contact_email`` if set) with a link
to their interview, and every coordinator granted to them with a link to the session page.

At most once: before sending, a run claims (session, recipient, lead, scheduled_for) by
inserting a ``reminder_delivery`` row and COMMITTING it; the unique constraint refuses the
same claim from another run (IntegrityError: skipped). Only then is the mail sent and the
row marked "sent" or "failed". A rescheduled session has a new ``scheduled_for`` and so
earns fresh reminders; a cancelled one is not "scheduled" and gets none.

Failures: a failed SMTP send marks the delivery "failed" with the error (and the
``mail_message`` row says the same). The next run tries a failed delivery again while it is
still due, taking it over with an UPDATE ... WHERE status = 'failed' that only one run can
win. A delivery left "sending" (the process died mid-send) is never retried: at most once
matters more than at least once.

This module knows nothing of Flask: it takes a SQLAlchemy session and the config mapping.
Unlike most domain functions it COMMITS, because claiming before sending is the point.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload

from storyteller import mail
from storyteller.calendar_feed import duration_minutes
from storyteller.local_time import format_local
from storyteller.models import (
    ReminderDelivery,
    Session,
    Storyteller,
    StorytellerAccess,
    User,
    utcnow,
)

__all__ = [
    "DueReminder",
    "ReminderReport",
    "Recipient",
    "due_reminders",
    "parse_leads",
    "recipients_for",
    "reminder_message",
    "send_due_reminders",
]


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    is_storyteller: bool  # the storyteller gets the interview link, coordinators the session page


@dataclass(frozen=True)
class DueReminder:
    session: Session
    recipient: Recipient
    lead_hours: int

    @property
    def lead(self) -> str:
        return f"{self.lead_hours}h"


@dataclass
class ReminderReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0


def parse_leads(raw: str | int | None) -> list[int]:
    """'24,1' -> [24, 1] (largest first). Each lead is a whole number of hours above zero."""
    text = str(raw if raw is not None else "24,1")
    leads: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            hours = int(part)
        except ValueError:
            raise ValueError(
                f"STORYTELLER_REMINDER_LEADS must be whole hours separated by commas, not {text!r}"
            ) from None
        if hours <= 0:
            raise ValueError(f"STORYTELLER_REMINDER_LEADS: {hours} is not above zero")
        leads.add(hours)
    return sorted(leads, reverse=True)


def _lead_due(scheduled_at: datetime, now: datetime, leads: list[int]) -> int | None:
    """The smallest lead (hours) the session is within, or None when none is."""
    if scheduled_at <= now:
        return None
    due = None
    for hours in leads:  # largest first: keep narrowing while still within the lead
        if scheduled_at <= now + timedelta(hours=hours):
            due = hours
    return due


def recipients_for(db: DbSession, storyteller: Storyteller) -> list[Recipient]:
    """The storyteller's own address(es), then every granted coordinator; no address twice."""
    found: dict[str, Recipient] = {}

    def add(email: str | None, name: str, is_storyteller: bool) -> None:
        email = (email or "").strip()
        if "@" in email and email.lower() not in found:
            found[email.lower()] = Recipient(email, name, is_storyteller)

    own_user = storyteller.user
    if own_user is not None and own_user.is_active:
        add(own_user.email, own_user.name or storyteller.display_name, True)
    add(storyteller.contact_email, storyteller.display_name, True)
    coordinators = db.scalars(
        select(User)
        .join(StorytellerAccess, StorytellerAccess.user_id == User.id)
        .where(
            StorytellerAccess.storyteller_id == storyteller.id,
            StorytellerAccess.access_level == "coordinator",
            User.is_active.is_(True),
        )
        .order_by(User.email)
    ).all()
    for coordinator in coordinators:
        add(coordinator.email, coordinator.name, False)
    return list(found.values())


def due_reminders(
    db: DbSession, config: Mapping[str, Any], *, now: datetime | None = None
) -> list[DueReminder]:
    """Every (session, recipient, lead) due now, whether or not it was already sent."""
    now = now or utcnow()
    leads = parse_leads(config.get("STORYTELLER_REMINDER_LEADS"))
    if not leads:
        return []
    sessions = db.scalars(
        select(Session)
        .options(joinedload(Session.storyteller).joinedload(Storyteller.user))
        .where(
            Session.status == "scheduled",
            Session.scheduled_at.is_not(None),
            Session.scheduled_at > now,
            Session.scheduled_at <= now + timedelta(hours=leads[0]),
        )
        .order_by(Session.scheduled_at, Session.id)
    ).all()
    due: list[DueReminder] = []
    for session in sessions:
        lead = _lead_due(session.scheduled_at, now, leads)  # type: ignore[arg-type]
        if lead is None:
            continue
        for recipient in recipients_for(db, session.storyteller):
            due.append(DueReminder(session, recipient, lead))
    return due


def _when_words(lead_hours: int) -> str:
    if lead_hours <= 1:
        return "soon"
    if lead_hours <= 24:
        return "coming up"
    return "coming up in the next few days"


def reminder_message(reminder: DueReminder, base_url: str) -> tuple[str, str]:
    """(subject, plain text body) of one reminder: what, when, how long, and a link."""
    session = reminder.session
    storyteller = session.storyteller
    recipient = reminder.recipient
    base = (base_url or "").rstrip("/")
    when = format_local(session.scheduled_at, storyteller.time_zone)
    short_when = format_local(session.scheduled_at, storyteller.time_zone, with_zone=False)
    minutes = duration_minutes(session)
    if recipient.is_storyteller:
        subject = f"Reminder: your Storyteller session “{session.display_name}”, {short_when}"
        link = f"{base}/interview/{session.id}"
        opening = f"Your next Storyteller session is {_when_words(reminder.lead_hours)}."
        closing = (
            "When it is time, open the link above. There is nothing to prepare: "
            "you can pause whenever you like, and everything you write is saved as you go."
        )
    else:
        subject = (
            f"Reminder: {storyteller.display_name}'s session “{session.display_name}”, {short_when}"
        )
        link = f"{base}/sessions/{session.id}"
        opening = (
            f"A session you coordinate with {storyteller.display_name} is "
            f"{_when_words(reminder.lead_hours)}."
        )
        closing = "The session page has everything planned for it."
    body = "\n".join(
        [
            f"Hello {recipient.name},",
            "",
            opening,
            "",
            f"What: {session.display_name}",
            f"      {session.intention}",
            f"When: {when}",
            f"How long: about {minutes} minutes",
            "",
            link,
            "",
            closing,
            "",
            "With warm wishes,",
            "Storyteller",
        ]
    )
    return subject, body


def _already_claimed(db: DbSession, session_ids: list[uuid.UUID]) -> dict[tuple, str]:
    rows = db.execute(
        select(
            ReminderDelivery.session_id,
            ReminderDelivery.recipient,
            ReminderDelivery.lead,
            ReminderDelivery.scheduled_for,
            ReminderDelivery.status,
        ).where(ReminderDelivery.session_id.in_(session_ids))
    ).all()
    return {(r[0], r[1].lower(), r[2], r[3]): r[4] for r in rows}


def _claim(
    db: DbSession,
    *,
    session_id: uuid.UUID,
    scheduled_for: datetime,
    recipient: str,
    lead: str,
    retry: bool,
) -> uuid.UUID | None:
    """Claim one reminder for this run, committed, and return its delivery id (None: taken).

    Every claim starts its transaction with a write, so two runs on SQLite wait for each
    other (busy timeout) instead of failing on a stale read snapshot.
    """
    key = (
        ReminderDelivery.session_id == session_id,
        ReminderDelivery.recipient == recipient,
        ReminderDelivery.lead == lead,
        ReminderDelivery.scheduled_for == scheduled_for,
    )
    if retry:
        taken = db.execute(
            update(ReminderDelivery)
            .where(*key, ReminderDelivery.status == "failed")
            .values(status="sending", error_message=None)
        ).rowcount
        db.commit()
        return db.scalar(select(ReminderDelivery.id).where(*key)) if taken == 1 else None
    delivery_id = uuid.uuid4()
    db.add(
        ReminderDelivery(
            id=delivery_id,
            session_id=session_id,
            recipient=recipient,
            lead=lead,
            scheduled_for=scheduled_for,
            status="sending",
        )
    )
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        return None
    return delivery_id


def _send(
    db: DbSession,
    settings: mail.MailSettings,
    *,
    delivery_id: uuid.UUID,
    session_id: uuid.UUID,
    to: str,
    subject: str,
    body: str,
) -> bool:
    """Send one claimed reminder and record the outcome on its delivery row (committed)."""
    try:
        message = mail.send_mail(
            db,
            settings,
            to=to,
            subject=subject,
            body_text=body,
            kind="reminder",
            session_id=session_id,
        )
    except ValueError as error:  # an address that is not one: nothing was sent
        db.rollback()
        values: dict[str, Any] = {"status": "failed", "error_message": str(error)[:2000]}
    else:
        sent = message.status == "sent"
        values = {
            "status": "sent" if sent else "failed",
            "mail_message_id": message.id,
            "error_message": None if sent else message.error_message,
        }
    db.execute(update(ReminderDelivery).where(ReminderDelivery.id == delivery_id).values(**values))
    db.commit()
    return values["status"] == "sent"


def send_due_reminders(
    db: DbSession, config: Mapping[str, Any], *, now: datetime | None = None
) -> ReminderReport:
    """Send every reminder due now that no run has sent; commits after each step."""
    settings = mail.settings_from_config(config)
    base_url = str(config.get("STORYTELLER_BASE_URL") or "")
    report = ReminderReport()
    due = due_reminders(db, config, now=now)
    # Plain values only from here: a rollback after a lost claim expires the ORM objects.
    work = [(r, r.session.id, r.session.scheduled_at, reminder_message(r, base_url)) for r in due]
    claimed = _already_claimed(db, sorted({session_id for _, session_id, _, _ in work}))
    db.commit()  # end the read transaction before claiming
    for reminder, session_id, scheduled_for, (subject, body) in work:
        to = reminder.recipient.email
        previous = claimed.get((session_id, to.lower(), reminder.lead, scheduled_for))
        if previous is not None and previous != "failed":
            report.skipped += 1
            continue
        delivery_id = _claim(
            db,
            session_id=session_id,
            scheduled_for=scheduled_for,
            recipient=to,
            lead=reminder.lead,
            retry=previous == "failed",
        )
        if delivery_id is None:
            report.skipped += 1
            continue
        sent = _send(
            db,
            settings,
            delivery_id=delivery_id,
            session_id=session_id,
            to=to,
            subject=subject,
            body=body,
        )
        if sent:
            report.sent += 1
        else:
            report.failed += 1
    return report
