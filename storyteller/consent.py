"""What a storyteller agreed to: recording, withdrawing, and the gate before a session starts.

Every consent is a ``consent_record`` row (kept, never overwritten); the one in force is the
newest that is not withdrawn, mirrored on ``storyteller.consent_recorded_at`` and
``storyteller.consent_scope`` so pages and the interviewer read it without a query.
Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from storyteller import audit, events
from storyteller.models import ConsentRecord, Storyteller, User, utcnow
from storyteller.models.people import CONSENT_METHODS, CONSENT_SCOPES, SENSITIVE_TOPICS

__all__ = [
    "CONSENT_METHODS",
    "CONSENT_SCOPES",
    "REQUIRED_SCOPE",
    "SCOPE_LABELS",
    "SENSITIVE_TOPICS",
    "TOPIC_LABELS",
    "ConsentError",
    "ConsentHistoryRow",
    "ConsentRequired",
    "consent_history",
    "consent_in_force",
    "has_consent",
    "consented_topics",
    "record_consent",
    "require_consent",
    "withdraw_consent",
]

# Without agreeing to be interviewed there is nothing to do; the rest is optional.
REQUIRED_SCOPE = "interview"

SCOPE_LABELS = {
    "interview": "Being interviewed and having the answers kept",
    "llm_processing": "Answers sent to the configured AI model to shape the next question",
    "voice_recording": "Voice answers recorded and transcribed",
    "photos": "Photos uploaded and described",
    "family_sharing": "The stories shared with the family members granted access",
    "book_publication": "The approved stories gathered into a book",
}
TOPIC_LABELS = {
    "health": "Health and illness",
    "faith": "Faith and religion",
    "trauma": "Trauma, war and loss",
    "relationships": "Divorce and difficult relationships",
    "politics": "Politics",
    "finances": "Money and hardship",
}


class ConsentError(ValueError):
    """The consent given is not acceptable; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ConsentRequired(ValueError):
    """A session cannot start before the storyteller's consent is recorded."""


def _checked(field: str, values: Iterable[str], allowed: tuple[str, ...]) -> list[str]:
    chosen = []
    for value in values:
        value = (value or "").strip()
        if not value:
            continue
        if value not in allowed:
            raise ConsentError(field, f"“{value}” is not one of the choices")
        if value not in chosen:
            chosen.append(value)
    return chosen


def record_consent(
    db: DbSession,
    storyteller: Storyteller,
    *,
    scope: Iterable[str],
    sensitive_topics: Iterable[str] = (),
    method: str = "in_person",
    recorded_by_id: uuid.UUID | None,
    agreed_at: datetime | None = None,
    note: str | None = None,
    ip_address: str | None = None,
) -> ConsentRecord:
    """Record a new consent; it replaces the one in force (the old one stays in the history)."""
    chosen = _checked("scope", scope, CONSENT_SCOPES)
    if REQUIRED_SCOPE not in chosen:
        raise ConsentError("scope", "Consent to being interviewed is needed before anything else.")
    topics = _checked("sensitive_topics", sensitive_topics, SENSITIVE_TOPICS)
    if method not in CONSENT_METHODS:
        raise ConsentError("method", "Choose how the consent was given.")
    now = utcnow()
    if agreed_at is not None and agreed_at > now:
        raise ConsentError("agreed_at", "Consent cannot be dated in the future.")
    record = ConsentRecord(
        storyteller_id=storyteller.id,
        scope=chosen,
        sensitive_topics=topics,
        method=method,
        agreed_at=agreed_at or now,
        recorded_by_id=recorded_by_id,
        note=(note or "").strip()[:2000] or None,
    )
    db.add(record)
    db.flush()
    storyteller.consent_recorded_at = record.agreed_at
    storyteller.consent_scope = {
        "scope": chosen,
        "sensitive_topics": topics,
        "consent_record_id": str(record.id),
    }
    events.record_event(
        db,
        event_type="consent.recorded",
        user_id=recorded_by_id,
        payload={"storyteller_id": str(storyteller.id), "scope": chosen, "topics": topics},
    )
    audit.record(
        db,
        actor_id=recorded_by_id,
        action="create",
        object_type="consent_record",
        object_id=record.id,
        storyteller_id=storyteller.id,
        ip_address=ip_address,
    )
    db.flush()
    return record


def withdraw_consent(
    db: DbSession,
    storyteller: Storyteller,
    *,
    withdrawn_by_id: uuid.UUID | None,
    ip_address: str | None = None,
) -> ConsentRecord | None:
    """Withdraw the consent in force: no new session may start until consent is recorded again."""
    current = consent_in_force(db, storyteller)
    if current is None:
        return None
    current.withdrawn_at = utcnow()
    current.withdrawn_by_id = withdrawn_by_id
    storyteller.consent_recorded_at = None
    storyteller.consent_scope = None
    events.record_event(
        db,
        event_type="consent.withdrawn",
        user_id=withdrawn_by_id,
        payload={"storyteller_id": str(storyteller.id)},
    )
    audit.record(
        db,
        actor_id=withdrawn_by_id,
        action="update",
        object_type="consent_record",
        object_id=current.id,
        storyteller_id=storyteller.id,
        ip_address=ip_address,
        details={"withdrawn": True},
    )
    db.flush()
    return current


def consent_in_force(db: DbSession, storyteller: Storyteller) -> ConsentRecord | None:
    """The newest consent, unless it was withdrawn: a new consent replaces the older ones, so
    withdrawing it leaves no consent at all (the older ones do not come back)."""
    newest = db.scalar(
        select(ConsentRecord)
        .where(ConsentRecord.storyteller_id == storyteller.id)
        .order_by(ConsentRecord.created_at.desc(), ConsentRecord.agreed_at.desc())
        .limit(1)
    )
    return newest if newest is not None and newest.withdrawn_at is None else None


def has_consent(storyteller: Storyteller) -> bool:
    scope = storyteller.consent_scope or {}
    return storyteller.consent_recorded_at is not None and REQUIRED_SCOPE in (
        scope.get("scope") or [REQUIRED_SCOPE]
    )


def consented_topics(storyteller: Storyteller) -> list[str]:
    """Sensitive topics the storyteller explicitly agreed to talk about."""
    return list((storyteller.consent_scope or {}).get("sensitive_topics") or [])


def require_consent(storyteller: Storyteller) -> None:
    if not has_consent(storyteller):
        raise ConsentRequired(
            f"{storyteller.display_name}'s consent has not been recorded yet, so this session "
            "cannot start. A coordinator records it on the storyteller's page."
        )


@dataclass(frozen=True)
class ConsentHistoryRow:
    record: ConsentRecord
    recorded_by: User | None
    withdrawn_by: User | None
    in_force: bool


def consent_history(db: DbSession, storyteller: Storyteller) -> list[ConsentHistoryRow]:
    """Every consent ever recorded for the storyteller, newest first, with who did what."""
    records = list(
        db.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.storyteller_id == storyteller.id)
            .order_by(ConsentRecord.created_at.desc(), ConsentRecord.agreed_at.desc())
        )
    )
    ids = {r.recorded_by_id for r in records} | {r.withdrawn_by_id for r in records}
    ids.discard(None)
    people = {u.id: u for u in db.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    current = records[0] if records and records[0].withdrawn_at is None else None
    return [
        ConsentHistoryRow(
            record=r,
            recorded_by=people.get(r.recorded_by_id),
            withdrawn_by=people.get(r.withdrawn_by_id),
            in_force=r is current,
        )
        for r in records
    ]
