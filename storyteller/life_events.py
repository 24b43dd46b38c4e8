"""A storyteller's life events: validation, create / edit / delete, and the timeline in life order.

Who may change them (``can_edit`` / ``can_delete``): an admin, a coordinator granted to the
storyteller, and the storyteller themself for adding and editing their own events (it is
their story). Deleting is for coordinators and admins only, because it also unlinks the
event from every session planned or held for it. Reviewers read, never change.

Functions flush, never commit: the caller owns the transaction. Bad input raises
``LifeEventInputError`` (a ``ValueError``) carrying every problem found, one per field.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import abort
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from storyteller import audit, authz, events
from storyteller.form_errors import FormInputError
from storyteller.models import (
    LifeEvent,
    Session,
    SessionArtifact,
    SessionInteraction,
    SessionLifeEvent,
    Storyteller,
    User,
    utcnow,
)

__all__ = [
    "DESCRIPTION_MAX_LENGTH",
    "LIFE_PERIODS",
    "MIN_YEAR",
    "LifeEventInputError",
    "Timeline",
    "TimelineEntry",
    "can_delete",
    "can_edit",
    "create_life_event",
    "delete_life_event",
    "life_event_or_404",
    "period_label",
    "period_of",
    "timeline",
    "update_life_event",
    "year_in_text",
]

# The periods of a life, in life order: (key, label). The keys are the ones the question
# bank and the built-in process nodes use, so events, sessions and questions meet.
LIFE_PERIODS: tuple[tuple[str, str], ...] = (
    ("childhood", "Childhood"),
    ("school", "School years"),
    ("youth", "Growing up and youth"),
    ("work", "Work life"),
    ("love_and_family", "Love and family"),
    ("war_and_service", "War and military service"),
    ("migration", "Migration and moving"),
    ("loss", "Loss and hard times"),
    ("later_life", "Later life and reflection"),
    ("general", "General"),
)
PERIOD_LABELS = dict(LIFE_PERIODS)

# An event with no period of life chosen falls in the period its kind names (the demo's
# and older events only have a kind); anything else stays without a period.
EVENT_TYPE_PERIODS = {
    "birth": "childhood",
    "childhood": "childhood",
    "home": "childhood",
    "school": "school",
    "education": "school",
    "youth": "youth",
    "job": "work",
    "work": "work",
    "career": "work",
    "marriage": "love_and_family",
    "wedding": "love_and_family",
    "family": "love_and_family",
    "child born": "love_and_family",
    "military": "war_and_service",
    "military service": "war_and_service",
    "war": "war_and_service",
    "migration": "migration",
    "move": "migration",
    "loss": "loss",
    "illness": "loss",
    "retirement": "later_life",
}

MIN_YEAR = 1850
NAME_MAX_LENGTH = 200
TYPE_MAX_LENGTH = 50
APPROXIMATE_MAX_LENGTH = 50
LOCATION_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 5000

# The fields a form sends, in the order problems are reported.
FIELDS = (
    "event_name",
    "event_type",
    "life_period",
    "start_year",
    "end_year",
    "approximate_start",
    "approximate_end",
    "location",
    "description",
)

_YEAR_IN_TEXT = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")


class LifeEventInputError(FormInputError):
    """Values for a life event are not acceptable; ``errors`` maps each bad field to a message.

    ``field`` and ``message`` name the first problem, like the other input errors of the app.
    """


def period_label(key: str | None) -> str:
    """'love_and_family' -> 'Love and family'; an unknown key is made readable."""
    if not key:
        return "No period given"
    return PERIOD_LABELS.get(key) or key.replace("_", " ").capitalize()


def period_of(life_event: LifeEvent) -> str | None:
    """The event's period of life: the one chosen, else the one its kind names, else None."""
    if life_event.life_period:
        return life_event.life_period
    return EVENT_TYPE_PERIODS.get(" ".join((life_event.event_type or "").split()).casefold())


def year_in_text(text: str | None) -> int | None:
    """The first four-digit year (1800-2099) in free text: 'early 1950s' -> 1950."""
    if not text:
        return None
    match = _YEAR_IN_TEXT.search(text)
    return int(match.group(1)) if match else None


# ---- Permissions -----------------------------------------------------------------------


def can_edit(db: DbSession, user: User, storyteller_id: uuid.UUID) -> bool:
    """Add or change this storyteller's life events: admin, granted coordinator, themself."""
    if user.role not in ("admin", "coordinator", "storyteller"):
        return False
    return authz.can_see_storyteller(db, user, storyteller_id)


def can_delete(db: DbSession, user: User, storyteller_id: uuid.UUID) -> bool:
    """Delete (and so unlink from sessions): admin and granted coordinators only."""
    if user.role not in ("admin", "coordinator"):
        return False
    return authz.can_see_storyteller(db, user, storyteller_id)


def life_event_or_404(db: DbSession, user: User, life_event_id: uuid.UUID) -> LifeEvent:
    """The life event, if this user may see its storyteller; otherwise 404 like a missing one."""
    life_event = db.get(LifeEvent, life_event_id)
    if life_event is None or not authz.can_see_storyteller(db, user, life_event.storyteller_id):
        abort(404)
    return life_event


# ---- Validation ------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return " ".join(str(value).split()) or None


def _year(errors: dict[str, str], name: str, value: Any, label: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        errors[name] = f"The {label} must be a year written in numbers, for example 1948."
        return None
    if isinstance(value, int):
        year = value
    else:
        raw = str(value).strip()
        if not re.fullmatch(r"\d{1,4}", raw):
            errors[name] = f"The {label} must be a year written in numbers, for example 1948."
            return None
        year = int(raw)
    this_year = utcnow().year
    if year < MIN_YEAR or year > this_year:
        errors[name] = f"The {label} must be between {MIN_YEAR} and {this_year}."
        return None
    return year


def _limited(errors: dict[str, str], name: str, value: Any, limit: int, label: str) -> str | None:
    if name == "description":  # keeps its line breaks
        text = str(value).strip() or None if value is not None else None
    else:
        text = _text(value)
    if text is not None and len(text) > limit:
        errors[name] = f"{label} can be at most {limit} characters (it has {len(text)})."
    return text


def clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check the values of a form (strings, or ints for the years) and return the clean ones.

    Raises ``LifeEventInputError`` with every problem; nothing is written.
    """
    errors: dict[str, str] = {}
    name = _limited(errors, "event_name", values.get("event_name"), NAME_MAX_LENGTH, "The name")
    if name is None:
        errors["event_name"] = "Please give the event a name, for example “Moving to Boston”."
    clean_values: dict[str, Any] = {
        "event_name": name,
        "event_type": _limited(
            errors, "event_type", values.get("event_type"), TYPE_MAX_LENGTH, "The kind of event"
        ),
        "start_year": _year(errors, "start_year", values.get("start_year"), "start year"),
        "end_year": _year(errors, "end_year", values.get("end_year"), "end year"),
        "approximate_start": _limited(
            errors,
            "approximate_start",
            values.get("approximate_start"),
            APPROXIMATE_MAX_LENGTH,
            "“Roughly when it started”",
        ),
        "approximate_end": _limited(
            errors,
            "approximate_end",
            values.get("approximate_end"),
            APPROXIMATE_MAX_LENGTH,
            "“Roughly when it ended”",
        ),
        "location": _limited(
            errors, "location", values.get("location"), LOCATION_MAX_LENGTH, "The place"
        ),
        "description": _limited(
            errors,
            "description",
            values.get("description"),
            DESCRIPTION_MAX_LENGTH,
            "The description",
        ),
    }
    period = _text(values.get("life_period"))
    if period is not None and period not in PERIOD_LABELS:
        errors["life_period"] = "Please choose a period of life from the list."
    clean_values["life_period"] = period
    start, end = clean_values["start_year"], clean_values["end_year"]
    if start is not None and end is not None and end < start:
        errors["end_year"] = f"The end year cannot be before the start year ({start})."
    if errors:
        raise LifeEventInputError({key: errors[key] for key in FIELDS if key in errors})
    return clean_values


# ---- Changes ---------------------------------------------------------------------------


def create_life_event(
    db: DbSession,
    storyteller: Storyteller,
    values: Mapping[str, Any],
    *,
    actor_id: uuid.UUID | None,
    ip_address: str | None = None,
) -> LifeEvent:
    """Validate and add a life event to the storyteller's story; audit and record it."""
    clean_values = clean(values)
    life_event = LifeEvent(storyteller_id=storyteller.id, **clean_values)
    db.add(life_event)
    db.flush()
    events.record_event(
        db,
        event_type="life_event.created",
        user_id=actor_id,
        payload={"storyteller_id": str(storyteller.id), "life_event_id": str(life_event.id)},
    )
    audit.record(
        db,
        actor_id=actor_id,
        action="create",
        object_type="life_event",
        object_id=life_event.id,
        storyteller_id=storyteller.id,
        ip_address=ip_address,
    )
    return life_event


def update_life_event(
    db: DbSession,
    life_event: LifeEvent,
    values: Mapping[str, Any],
    *,
    actor_id: uuid.UUID | None,
    ip_address: str | None = None,
) -> LifeEvent:
    """Validate and change a life event; the audit entry lists the fields that changed."""
    clean_values = clean(values)
    changed = {
        key: {"from": getattr(life_event, key), "to": value}
        for key, value in clean_values.items()
        if getattr(life_event, key) != value
    }
    for key, value in clean_values.items():
        setattr(life_event, key, value)
    db.flush()
    if changed:
        events.record_event(
            db,
            event_type="life_event.updated",
            user_id=actor_id,
            payload={
                "storyteller_id": str(life_event.storyteller_id),
                "life_event_id": str(life_event.id),
                "fields": sorted(changed),
            },
        )
    audit.record(
        db,
        actor_id=actor_id,
        action="update",
        object_type="life_event",
        object_id=life_event.id,
        storyteller_id=life_event.storyteller_id,
        ip_address=ip_address,
        details={"fields": sorted(changed)},
    )
    return life_event


def linked_session_count(db: DbSession, life_event: LifeEvent) -> int:
    return int(
        db.scalar(
            select(func.count())
            .select_from(SessionLifeEvent)
            .where(SessionLifeEvent.life_event_id == life_event.id)
        )
        or 0
    )


def delete_life_event(
    db: DbSession,
    life_event: LifeEvent,
    *,
    actor_id: uuid.UUID | None,
    ip_address: str | None = None,
) -> int:
    """Delete a life event; returns how many sessions it was unlinked from.

    The database removes its session_life_event rows (ON DELETE CASCADE) and clears
    life_event_id on interactions and artifacts (ON DELETE SET NULL): the answers stay.
    """
    storyteller_id, event_id, name = (
        life_event.storyteller_id,
        life_event.id,
        life_event.event_name,
    )
    unlinked = linked_session_count(db, life_event)
    db.delete(life_event)
    db.flush()
    _forget_stale_references(db, event_id)
    events.record_event(
        db,
        event_type="life_event.deleted",
        user_id=actor_id,
        payload={
            "storyteller_id": str(storyteller_id),
            "life_event_id": str(event_id),
            "sessions_unlinked": unlinked,
        },
    )
    audit.record(
        db,
        actor_id=actor_id,
        action="delete",
        object_type="life_event",
        object_id=event_id,
        storyteller_id=storyteller_id,
        ip_address=ip_address,
        details={"event_name": name, "sessions_unlinked": unlinked},
    )
    return unlinked


def _forget_stale_references(db: DbSession, event_id: uuid.UUID) -> None:
    """The database changed rows behind the ORM's back: drop or refresh what it holds."""
    for obj in list(db.identity_map.values()):
        if isinstance(obj, SessionLifeEvent) and obj.life_event_id == event_id:
            db.expunge(obj)
        elif isinstance(obj, SessionInteraction | SessionArtifact) and (
            obj.life_event_id == event_id
        ):
            db.expire(obj, ["life_event_id", "life_event"])
        elif isinstance(obj, Session):
            db.expire(obj, ["life_event_links"])


# ---- The timeline ----------------------------------------------------------------------


@dataclass
class TimelineEntry:
    life_event: LifeEvent
    sort_year: int | None  # the year it is placed at; None: undated
    approximate: bool  # placed by a year read from the approximate text
    age_from: int | None  # the storyteller's age then, when the birth year is known
    age_to: int | None
    sessions_held: int = 0  # started or completed sessions linked to it
    sessions_planned: int = 0  # scheduled, not yet started
    sort_end: int = 0  # the year it ends (its start when no end is known), for ties

    @property
    def period_label(self) -> str:
        return period_label(self.life_event.life_period)

    @property
    def when(self) -> str:
        """'1948–1952', '1948', 'early 1950s – 1962', or '' when nothing is known."""
        event = self.life_event
        start = str(event.start_year) if event.start_year else event.approximate_start
        end = str(event.end_year) if event.end_year else event.approximate_end
        if start and end and start != end:
            return f"{start} – {end}" if " " in f"{start}{end}" else f"{start}–{end}"
        if start or not end:
            return start or ""
        return f"until {end}" if end.isdigit() else end

    @property
    def age(self) -> str:
        """'age 7', 'ages 7–12', 'about age 7'; '' without a birth year."""
        if self.age_from is None:
            return ""
        prefix = "about " if self.approximate else ""
        if self.age_to is not None and self.age_to != self.age_from:
            return f"{prefix}ages {self.age_from}–{self.age_to}"
        return f"{prefix}age {self.age_from}"


@dataclass
class Timeline:
    storyteller: Storyteller
    dated: list[TimelineEntry] = field(default_factory=list)
    undated: list[TimelineEntry] = field(default_factory=list)

    @property
    def entries(self) -> list[TimelineEntry]:
        return self.dated + self.undated


def _placement(event: LifeEvent) -> tuple[int | None, bool, int | None]:
    """(the year it is placed at, whether that year is approximate, the year it ends)."""
    end = event.end_year or year_in_text(event.approximate_end)
    if event.start_year is not None:
        return event.start_year, False, end
    guessed = year_in_text(event.approximate_start)
    if guessed is not None:
        return guessed, True, end
    if end is not None:  # only an end is known: place it there
        return end, event.end_year is None, end
    return None, False, None


def _age(birth_year: int | None, year: int | None) -> int | None:
    if birth_year is None or year is None or year < birth_year:
        return None
    return year - birth_year


def session_counts(db: DbSession, storyteller_id: uuid.UUID) -> dict[uuid.UUID, tuple[int, int]]:
    """{life event id: (sessions held, sessions planned)}; cancelled sessions do not count."""
    rows = db.execute(
        select(SessionLifeEvent.life_event_id, Session.status, func.count())
        .join(Session, Session.id == SessionLifeEvent.session_id)
        .where(Session.storyteller_id == storyteller_id, Session.status != "cancelled")
        .group_by(SessionLifeEvent.life_event_id, Session.status)
    ).all()
    counts: dict[uuid.UUID, tuple[int, int]] = {}
    for event_id, status, count in rows:
        held, planned = counts.get(event_id, (0, 0))
        if status == "scheduled":
            planned += count
        else:
            held += count
        counts[event_id] = (held, planned)
    return counts


def events_of(db: DbSession, storyteller_id: uuid.UUID) -> list[LifeEvent]:
    return list(
        db.scalars(
            select(LifeEvent)
            .where(LifeEvent.storyteller_id == storyteller_id)
            .order_by(LifeEvent.created_at, LifeEvent.id)
        )
    )


def timeline(db: DbSession, storyteller: Storyteller) -> Timeline:
    """The storyteller's life events in life order.

    Placed by start year; without one, by the first year written in "roughly when it
    started" ('spring 1948', 'early 1950s'); without that, by the end year. Ties: the
    earlier end first, then by name. Events with no year at all come last, as "Undated",
    in the order they were added.
    """
    counts = session_counts(db, storyteller.id)
    result = Timeline(storyteller)
    for event in events_of(db, storyteller.id):
        year, approximate, end = _placement(event)
        held, planned = counts.get(event.id, (0, 0))
        entry = TimelineEntry(
            life_event=event,
            sort_year=year,
            approximate=approximate,
            age_from=_age(storyteller.birth_year, year),
            age_to=_age(storyteller.birth_year, end) if end is not None else None,
            sessions_held=held,
            sessions_planned=planned,
            sort_end=end if end is not None else (year or 0),
        )
        (result.dated if year is not None else result.undated).append(entry)
    result.dated.sort(key=lambda e: (e.sort_year, e.sort_end, e.life_event.event_name.casefold()))
    return result
