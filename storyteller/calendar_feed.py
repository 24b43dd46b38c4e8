"""The calendar of sessions: what is coming up, the iCalendar (.ics) file, and feed tokens.

* ``upcoming`` lists what a user may see (authz.storyteller_ids_visible_to): the sessions
  already under way (in progress or paused) and the scheduled ones still ahead, grouped by
  day in each storyteller's own time zone.
* ``build_ics`` turns sessions into one VCALENDAR with the ``icalendar`` library: one VEVENT
  per session with a stable UID (``<session id>@<host>``), start and end in UTC (end = start
  + the planned duration, 60 minutes when none is planned), STATUS CONFIRMED or CANCELLED,
  LAST-MODIFIED, a reminder alarm, and a SEQUENCE that counts the times the session was
  rescheduled or cancelled (events ``session.rescheduled`` / ``session.cancelled``), so a
  calendar app replaces its old copy.
* A feed token lets a calendar app fetch one user's sessions without a cookie. It is the
  user's id and an HMAC (itsdangerous) of the id and the time the password last changed,
  keyed with SECRET_KEY: unguessable, nothing stored, and revoked by changing the password
  (or by deactivating the account).
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import icalendar
from itsdangerous import Signer
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload

from storyteller.authz import storyteller_ids_visible_to
from storyteller.local_time import to_local, zone
from storyteller.models import Event, Session, User, utcnow

__all__ = [
    "DEFAULT_DURATION_MINUTES",
    "Day",
    "Upcoming",
    "build_ics",
    "feed_token",
    "feed_user",
    "ics_sessions",
    "sequence_numbers",
    "upcoming",
]

DEFAULT_DURATION_MINUTES = 60
UNDER_WAY = ("in_progress", "paused")
FEED_PAST_DAYS = 90  # the .ics keeps recent sessions, so calendar apps keep their history
FEED_EVENT_TYPES = ("session.rescheduled", "session.cancelled")
ALARM_MINUTES = 30
PRODID = "-//Storyteller//Storyteller sessions//EN"
_FEED_SALT = "storyteller.calendar-feed"


# ---- Upcoming sessions -------------------------------------------------------------


@dataclass
class Day:
    """One day of the calendar: the date as the storytellers of its sessions live it."""

    day: date
    sessions: list[Session] = field(default_factory=list)


@dataclass
class Upcoming:
    under_way: list[Session]  # started and not finished yet (in progress or paused)
    days: list[Day]  # scheduled sessions still ahead, by local day

    @property
    def is_empty(self) -> bool:
        return not self.under_way and not self.days


def duration_minutes(session: Session) -> int:
    return session.scheduled_duration_minutes or DEFAULT_DURATION_MINUTES


def ends_at(session: Session) -> datetime | None:
    if session.scheduled_at is None:
        return None
    return session.scheduled_at + timedelta(minutes=duration_minutes(session))


def clock(session: Session) -> str:
    """The time of day a session starts, in its storyteller's zone: '10:30 (Europe/Dublin)'."""
    zone_name = session.storyteller.time_zone
    local = to_local(session.scheduled_at, zone_name)
    return f"{local:%H:%M} ({zone(zone_name).key})" if local else ""


def _visible(user: User, storyteller_id: uuid.UUID | None) -> list:
    conditions = [Session.storyteller_id.in_(storyteller_ids_visible_to(user))]
    if storyteller_id is not None:
        conditions.append(Session.storyteller_id == storyteller_id)
    return conditions


def upcoming(
    db: DbSession,
    user: User,
    *,
    storyteller_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> Upcoming:
    """What this user may see that is under way or still ahead (optionally one storyteller).

    A scheduled session stays on the calendar until its planned end has passed.
    """
    now = now or utcnow()
    rows = db.scalars(
        select(Session)
        .options(joinedload(Session.storyteller))
        .where(*_visible(user, storyteller_id))
        .where(
            Session.status.in_(("scheduled", *UNDER_WAY)),
            # Long sessions end later; the exact "not yet ended" check is done below.
            (Session.status.in_(UNDER_WAY)) | (Session.scheduled_at >= now - timedelta(days=1)),
        )
        .order_by(Session.scheduled_at.is_(None), Session.scheduled_at, Session.created_at)
    ).all()
    under_way = [s for s in rows if s.status in UNDER_WAY]
    ahead = [
        s
        for s in rows
        if s.status == "scheduled" and s.scheduled_at is not None and ends_at(s) > now  # type: ignore[operator]
    ]
    days: dict[date, Day] = {}
    for session in ahead:
        local = to_local(session.scheduled_at, session.storyteller.time_zone)
        assert local is not None
        days.setdefault(local.date(), Day(local.date())).sessions.append(session)
    return Upcoming(under_way=under_way, days=[days[d] for d in sorted(days)])


def ics_sessions(
    db: DbSession,
    user: User,
    *,
    storyteller_id: uuid.UUID | None = None,
    now: datetime | None = None,
    past_days: int = FEED_PAST_DAYS,
) -> list[Session]:
    """Every scheduled-for-a-time session this user may see, from ``past_days`` ago on.

    Cancelled ones are included (STATUS:CANCELLED) so calendar apps take them away.
    """
    now = now or utcnow()
    return list(
        db.scalars(
            select(Session)
            .options(joinedload(Session.storyteller))
            .where(*_visible(user, storyteller_id))
            .where(
                Session.scheduled_at.is_not(None),
                Session.scheduled_at >= now - timedelta(days=past_days),
            )
            .order_by(Session.scheduled_at, Session.id)
        ).all()
    )


# ---- iCalendar ---------------------------------------------------------------------


def sequence_numbers(db: DbSession, session_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many times each session was rescheduled or cancelled (its iCalendar SEQUENCE)."""
    ids = list(session_ids)
    if not ids:
        return {}
    rows = db.execute(
        select(Event.session_id, func.count(Event.id))
        .where(Event.session_id.in_(ids), Event.event_type.in_(FEED_EVENT_TYPES))
        .group_by(Event.session_id)
    ).all()
    return {session_id: int(count) for session_id, count in rows}


def uid_host(base_url: str) -> str:
    return urlsplit(base_url or "").hostname or "storyteller"


def _event(session: Session, *, host: str, link: str, sequence: int) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", f"{session.id}@{host}")
    event.add("dtstamp", session.updated_at)
    event.add("last-modified", session.updated_at)
    event.add("created", session.created_at)
    event.add("sequence", sequence)
    event.add("dtstart", session.scheduled_at)
    event.add("dtend", ends_at(session))
    event.add("summary", f"{session.display_name} · {session.storyteller.display_name}")
    event.add("description", f"{session.intention}\n\n{link}")
    event.add("url", link)
    cancelled = session.status == "cancelled"
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    if not cancelled:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"Storyteller session soon: {session.display_name}")
        alarm.add("trigger", timedelta(minutes=-ALARM_MINUTES))
        event.add_component(alarm)
    return event


def build_ics(
    db: DbSession,
    sessions: Iterable[Session],
    *,
    base_url: str,
    link_for: Callable[[Session], str],
    name: str = "Storyteller sessions",
) -> bytes:
    """One VCALENDAR with a VEVENT per session (sessions without a time are left out)."""
    sessions = [s for s in sessions if s.scheduled_at is not None]
    sequences = sequence_numbers(db, (s.id for s in sessions))
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-published-ttl", "PT1H")
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    host = uid_host(base_url)
    for session in sessions:
        sequence = sequences.get(session.id, 0)
        calendar.add_component(
            _event(session, host=host, link=link_for(session), sequence=sequence)
        )
    return calendar.to_ical()


def session_link(base_url: str, session: Session, user: User) -> str:
    """Where a user opens a session: the interview for a storyteller, the session page else."""
    base = (base_url or "").rstrip("/")
    if user.role == "storyteller":
        return f"{base}/interview/{session.id}"
    return f"{base}/sessions/{session.id}"


# ---- Feed tokens -------------------------------------------------------------------


def _signer(secret_key: str) -> Signer:
    return Signer(secret_key, salt=_FEED_SALT, sep=".")


def _stamp(user: User) -> str:
    changed = user.password_changed_at or user.created_at
    return f"{user.id.hex}:{changed.isoformat() if changed else ''}"


def feed_token(secret_key: str, user: User) -> str:
    """The secret part of this user's feed address; changes when their password changes."""
    signature = _signer(secret_key).get_signature(_stamp(user)).decode("ascii")
    return f"{user.id.hex}.{signature}"


def feed_user(db: DbSession, secret_key: str, token: str) -> User | None:
    """The active user this feed token belongs to, or None for a wrong or revoked token."""
    raw_id, dot, signature = (token or "").partition(".")
    if not dot or not signature:
        return None
    if len(raw_id) != 32 or any(c not in "0123456789abcdef" for c in raw_id):
        return None
    user_id = uuid.UUID(hex=raw_id)
    user = db.get(User, user_id)
    if user is None or not user.is_active:
        return None
    # Compare the whole token, not the decoded signature: base64 has several spellings of
    # the same bytes, and only the one we hand out is accepted.
    valid = hmac.compare_digest(feed_token(secret_key, user), token)
    return user if valid else None
