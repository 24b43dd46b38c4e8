"""Reviewing what the interviewer remembers (seed 000 interaction_memory, memory_annotation).

A memory is shown in plain words ("Person: brother Tom — tall and funny"), with its
source, how sure the interviewer is and how often it was used (memory_access). People who
review a storyteller (reviewers, coordinators, admins granted to them) annotate it:

- a *verification* says it is right (verification_status "verified") or wrong
  ("disputed": ``memories.usable_memories`` then leaves it out, so the interviewer no
  longer brings it up). It takes effect at once, so it is stored already applied;
- a *correction* (something is wrong) or an *enhancement* (something to add) is stored
  unapplied with the proposed change; ``apply_annotation`` then changes the memory (content,
  and type / key when given), marks the annotation applied and keeps the memory's previous
  content, type, key and status in the annotation's content, so nothing is lost. An applied
  correction makes the memory "verified" (a person vouched for the new content); an applied
  enhancement leaves the status as it was.

Storytellers see their own memories read only (their content, source, status and use, not
the reviewers' notes). Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import abort
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from storyteller import audit, authz
from storyteller.events import record_event
from storyteller.form_errors import FormInputError
from storyteller.models import (
    InteractionMemory,
    MemoryAccess,
    MemoryAnnotation,
    Session,
    SessionInteraction,
    Storyteller,
    User,
    utcnow,
)
from storyteller.models.memory import ANNOTATION_TYPES, VERIFICATION_STATUSES

__all__ = [
    "ANNOTATE_ROLES",
    "CHANGE_KINDS",
    "EDITABLE_FIELDS",
    "MEMORY_TYPE_LABELS",
    "NOTE_MAX_LENGTH",
    "SORTS",
    "STATUS_LABELS",
    "AnnotationForm",
    "MemoryDetail",
    "MemoryFilters",
    "MemoryReviewInputError",
    "MemoryRow",
    "annotate",
    "annotation_or_404",
    "annotation_summary",
    "apply_annotation",
    "can_annotate",
    "confidence_words",
    "describe",
    "editable_values",
    "list_memories",
    "memory_detail",
    "memory_or_404",
    "parse_filters",
]

ANNOTATE_ROLES = ("reviewer", "coordinator", "admin")
NOTE_MAX_LENGTH = 2000
DETAIL_MAX_LENGTH = 500
FIELD_MAX_LENGTH = 300
KEY_MAX_LENGTH = 200

MEMORY_TYPE_LABELS = {
    "person": "Person",
    "place": "Place",
    "event": "Event",
    "fact": "Fact",
    "preference": "Preference",
}
STATUS_LABELS = {
    "unverified": "Not checked yet",
    "verified": "Checked and right",
    "disputed": "Disputed: no longer used",
}
assert set(STATUS_LABELS) == set(VERIFICATION_STATUSES)
SORTS = {
    "importance": "Most important first",
    "use": "Most used first",
    "newest": "Newest first",
}
CHANGE_KINDS = {
    "correction": "Something is wrong: correct it",
    "enhancement": "Something is missing: add it",
}
ANNOTATION_LABELS = {
    "correction": "Correction",
    "enhancement": "Addition",
    "verification": "Check",
}
assert set(ANNOTATION_LABELS) == set(ANNOTATION_TYPES)

# The parts of a memory's content a person may change, with their labels, in this order.
# Anything else (our bookkeeping: "key", "contradicts", "source", "attribute", ...) is kept.
EDITABLE_FIELDS = {
    "name": "Name",
    "relation": "Relation (for example brother, mother, friend)",
    "place": "Place",
    "year": "Year",
    "count": "How many",
    "preferred_name": "Preferred name",
    "value": "Value",
    "subject": "What it is about",
    "details": "Details",
    "statement": "In their own words",
}
WHOLE_NUMBER_FIELDS = ("year", "count")
_ATTRIBUTE_WORDS = {
    "birth_year": "born in",
    "death_year": "died in",
    "birthplace": "born in",
    "marriage_year": "married in",
}


class MemoryReviewInputError(FormInputError):
    """An annotation or a filter that cannot be used; ``errors`` maps fields to messages."""


# ----------------------------------------------------------------------------- reading


def can_annotate(user: User) -> bool:
    return user.role in ANNOTATE_ROLES


def memory_or_404(db: DbSession, user: User, memory_id: uuid.UUID) -> InteractionMemory:
    """The memory, if this user may see its storyteller; 404 otherwise."""
    memory = db.get(InteractionMemory, memory_id)
    if memory is None or not authz.can_see_storyteller(db, user, memory.storyteller_id):
        abort(404)
    return memory


def annotation_or_404(db: DbSession, user: User, annotation_id: uuid.UUID) -> MemoryAnnotation:
    annotation = db.get(MemoryAnnotation, annotation_id)
    if annotation is None:
        abort(404)
    memory_or_404(db, user, annotation.memory_id)
    return annotation


def confidence_words(confidence: float) -> str:
    if confidence >= 0.85:
        return "very sure"
    if confidence >= 0.65:
        return "fairly sure"
    if confidence >= 0.4:
        return "not sure"
    return "doubtful"


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return " ".join(str(value).split())


def _headline(memory_type: str, content: Mapping[str, Any]) -> str:
    name, relation = _text(content.get("name")), _text(content.get("relation"))
    subject, place = _text(content.get("subject")), _text(content.get("place"))
    year, attribute = _text(content.get("year")), _text(content.get("attribute"))
    if memory_type == "person":
        if name and relation and not name.lower().startswith(relation.lower()):
            return f"{relation} {name}"
        return subject or name or relation
    if memory_type == "place":
        return place or subject
    if attribute == "preferred_name" or content.get("preferred_name"):
        return f"likes to be called {_text(content.get('preferred_name') or content.get('value'))}"
    if attribute.startswith("number_of_") and content.get("count") is not None:
        return f"{_text(content.get('count'))} {attribute.removeprefix('number_of_')}"
    if attribute in _ATTRIBUTE_WORDS:
        who = "" if subject in ("", "storyteller") else f"{subject} "
        return f"{who}{_ATTRIBUTE_WORDS[attribute]} {year or place}".strip()
    if memory_type == "event" and year and subject and year not in subject:
        return f"{year}: {subject}"
    return subject or _text(content.get("value")) or place or year


def describe(memory_type: str, content: Mapping[str, Any]) -> str:
    """A memory in plain words: "Person: brother Tom — tall and funny"."""
    label = MEMORY_TYPE_LABELS.get(memory_type, memory_type.replace("_", " ").capitalize())
    headline = _headline(memory_type, content)
    details = _text(content.get("details"))
    if not headline:
        headline = _text(content.get("statement"))[:120] or "(nothing written down)"
    return f"{label}: {headline}" + (f" — {details}" if details else "")


def editable_values(memory: InteractionMemory) -> dict[str, str]:
    """The memory's changeable content as form text (every editable field it has)."""
    content = memory.content or {}
    return {key: _text(content[key]) for key in EDITABLE_FIELDS if key in content}


@dataclass
class MemoryFilters:
    memory_type: str = ""
    status: str = ""
    sort: str = "importance"


def parse_filters(args: Mapping[str, str], known_types: list[str]) -> MemoryFilters:
    """The list's filters from the query string; an unknown value is a mistake."""
    filters = MemoryFilters(
        memory_type=(args.get("type") or "").strip(),
        status=(args.get("status") or "").strip(),
        sort=(args.get("sort") or "importance").strip(),
    )
    errors = {}
    if filters.memory_type and filters.memory_type not in known_types:
        errors["type"] = "There are no memories of that kind. Please choose one from the list."
    if filters.status and filters.status not in VERIFICATION_STATUSES:
        errors["status"] = "Please choose a status from the list."
    if filters.sort not in SORTS:
        errors["sort"] = "Please choose an order from the list."
    if errors:
        raise MemoryReviewInputError(errors)
    return filters


@dataclass
class MemoryRow:
    memory: InteractionMemory
    summary: str
    session: Session | None
    sessions_used_in: int
    pending: int

    @property
    def confidence(self) -> str:
        return confidence_words(self.memory.confidence)


def memory_types_of(db: DbSession, storyteller_id: uuid.UUID) -> list[str]:
    return list(
        db.scalars(
            select(InteractionMemory.memory_type)
            .where(InteractionMemory.storyteller_id == storyteller_id)
            .distinct()
            .order_by(InteractionMemory.memory_type)
        )
    )


_ORDER = {
    "importance": (
        InteractionMemory.importance.desc(),
        InteractionMemory.confidence.desc(),
        InteractionMemory.access_count.desc(),
    ),
    "use": (InteractionMemory.access_count.desc(), InteractionMemory.importance.desc()),
    "newest": (InteractionMemory.created_at.desc(),),
}


def list_memories(
    db: DbSession, storyteller: Storyteller, filters: MemoryFilters | None = None
) -> list[MemoryRow]:
    """The storyteller's memories with their source session, how many sessions used each
    and how many proposed changes wait; four queries whatever the number of memories."""
    filters = filters or MemoryFilters()
    query = select(InteractionMemory).where(InteractionMemory.storyteller_id == storyteller.id)
    if filters.memory_type:
        query = query.where(InteractionMemory.memory_type == filters.memory_type)
    if filters.status:
        query = query.where(InteractionMemory.verification_status == filters.status)
    query = query.order_by(*_ORDER[filters.sort], InteractionMemory.created_at.desc(),
                           InteractionMemory.id)
    rows = list(db.scalars(query))
    ids = [m.id for m in rows]
    if not ids:
        return []
    used_in = dict(
        db.execute(
            select(MemoryAccess.memory_id, func.count(func.distinct(MemoryAccess.session_id)))
            .where(MemoryAccess.memory_id.in_(ids))
            .group_by(MemoryAccess.memory_id)
        ).all()
    )
    pending = dict(
        db.execute(
            select(MemoryAnnotation.memory_id, func.count())
            .where(MemoryAnnotation.memory_id.in_(ids), MemoryAnnotation.is_applied.is_(False))
            .group_by(MemoryAnnotation.memory_id)
        ).all()
    )
    session_ids = {m.session_id for m in rows if m.session_id}
    sessions = (
        {s.id: s for s in db.scalars(select(Session).where(Session.id.in_(session_ids)))}
        if session_ids
        else {}
    )
    return [
        MemoryRow(
            memory=m,
            summary=describe(m.memory_type, m.content or {}),
            session=sessions.get(m.session_id) if m.session_id else None,
            sessions_used_in=int(used_in.get(m.id, 0)),
            pending=int(pending.get(m.id, 0)),
        )
        for m in rows
    ]


@dataclass
class AccessRow:
    access: MemoryAccess
    session: Session | None


@dataclass
class MemoryDetail:
    memory: InteractionMemory
    storyteller: Storyteller
    summary: str
    session: Session | None
    interaction: SessionInteraction | None
    accesses: list[AccessRow]
    sessions_used_in: int
    annotations: list[MemoryAnnotation]
    authors: dict[uuid.UUID, str]
    related: list[tuple[InteractionMemory, str]] = field(default_factory=list)

    @property
    def confidence(self) -> str:
        return confidence_words(self.memory.confidence)

    @property
    def pending(self) -> list[MemoryAnnotation]:
        return [a for a in self.annotations if not a.is_applied]


def memory_detail(db: DbSession, memory: InteractionMemory) -> MemoryDetail:
    """One memory with its source, every use (newest first) and every annotation."""
    accesses = list(
        db.execute(
            select(MemoryAccess, Session)
            .outerjoin(Session, MemoryAccess.session_id == Session.id)
            .where(MemoryAccess.memory_id == memory.id)
            .order_by(MemoryAccess.created_at.desc(), MemoryAccess.id)
        ).all()
    )
    annotations = list(
        db.scalars(
            select(MemoryAnnotation)
            .where(MemoryAnnotation.memory_id == memory.id)
            .order_by(MemoryAnnotation.created_at.desc(), MemoryAnnotation.id)
        )
    )
    author_ids = {a.created_by_id for a in annotations if a.created_by_id}
    authors = (
        {u.id: u.name for u in db.scalars(select(User).where(User.id.in_(author_ids)))}
        if author_ids
        else {}
    )
    related_ids = []
    for item in memory.related_memories or []:
        try:
            related_ids.append(uuid.UUID(str(item)))
        except ValueError:
            continue
    related = (
        list(
            db.scalars(
                select(InteractionMemory).where(
                    InteractionMemory.id.in_(related_ids),
                    InteractionMemory.storyteller_id == memory.storyteller_id,
                )
            )
        )
        if related_ids
        else []
    )
    return MemoryDetail(
        memory=memory,
        storyteller=db.get(Storyteller, memory.storyteller_id),
        summary=describe(memory.memory_type, memory.content or {}),
        session=db.get(Session, memory.session_id) if memory.session_id else None,
        interaction=db.get(SessionInteraction, memory.interaction_id)
        if memory.interaction_id
        else None,
        accesses=[AccessRow(access, session) for access, session in accesses],
        sessions_used_in=len({a.session_id for a, _s in accesses if a.session_id}),
        annotations=annotations,
        authors=authors,
        related=[(m, describe(m.memory_type, m.content or {})) for m in related],
    )


def annotation_summary(annotation: MemoryAnnotation) -> str:
    """What an annotation says or proposes, in plain words."""
    content = annotation.content or {}
    if annotation.annotation_type == "verification":
        return "Marked as right." if content.get("verdict") == "verified" else (
            "Marked as wrong: the interviewer no longer uses it."
        )
    proposed = content.get("proposed") or {}
    parts = []
    for key, value in (proposed.get("set") or {}).items():
        label = EDITABLE_FIELDS.get(key, key)
        parts.append(f"{label}: remove" if value in (None, "") else f"{label}: {value}")
    if proposed.get("add_detail"):
        parts.append(f"add “{proposed['add_detail']}”")
    if proposed.get("memory_type"):
        parts.append(f"kind: {MEMORY_TYPE_LABELS.get(proposed['memory_type'], '')}")
    if proposed.get("memory_key"):
        parts.append(f"key: {proposed['memory_key']}")
    return "; ".join(parts) + "." if parts else ""


# ----------------------------------------------------------------------------- annotating


@dataclass
class AnnotationForm:
    annotation_type: str = ""
    verdict: str = ""
    note: str = ""
    changes: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    memory_type: str = ""
    memory_key: str = ""

    @classmethod
    def from_request(cls, form: Mapping[str, str]) -> AnnotationForm:
        kind = (form.get("annotation_type") or "").strip()
        note_field = "note" if kind == "verification" else "change_note"
        return cls(
            annotation_type=kind,
            verdict=(form.get("verdict") or "").strip(),
            note=form.get(note_field) or form.get("note") or "",
            changes={
                key: form[f"c_{key}"] for key in EDITABLE_FIELDS if f"c_{key}" in form
            },
            detail=form.get("detail") or "",
            memory_type=(form.get("memory_type") or "").strip(),
            memory_key=(form.get("memory_key") or "").strip(),
        )

    @property
    def note_field(self) -> str:
        return "note" if self.annotation_type == "verification" else "change_note"

    def values(self) -> dict[str, str]:
        """The entered values, to show the form again as it was."""
        out = {
            "annotation_type": self.annotation_type,
            "verdict": self.verdict,
            self.note_field: self.note,
            "detail": self.detail,
            "memory_type": self.memory_type,
            "memory_key": self.memory_key,
        }
        out.update({f"c_{key}": value for key, value in self.changes.items()})
        return out


def _whole_number(key: str, text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise MemoryReviewInputError(
            f"c_{key}", f"{EDITABLE_FIELDS[key]} must be a whole number, like 1952."
        ) from None
    if key == "year" and not 1800 <= number <= utcnow().year:
        raise MemoryReviewInputError(
            f"c_{key}", f"Please give a year between 1800 and {utcnow().year}."
        )
    if number < 0:
        raise MemoryReviewInputError(f"c_{key}", f"{EDITABLE_FIELDS[key]} cannot be negative.")
    return number


def _proposed_set(memory: InteractionMemory, changes: Mapping[str, str]) -> dict[str, Any]:
    """Only the fields whose new value differs from the memory's; "" removes a field."""
    content = memory.content or {}
    out: dict[str, Any] = {}
    for key, raw in changes.items():
        if key not in EDITABLE_FIELDS:
            continue
        text = " ".join(str(raw).split()) if key != "statement" else str(raw).strip()
        if len(text) > FIELD_MAX_LENGTH:
            raise MemoryReviewInputError(
                f"c_{key}", f"Please keep this to {FIELD_MAX_LENGTH} characters."
            )
        value: Any = text
        if text and key in WHOLE_NUMBER_FIELDS:
            value = _whole_number(key, text)
        if value == "" and key not in content:
            continue
        if value != content.get(key) and text != _text(content.get(key)):
            out[key] = value if value != "" else None
    return out


def _proposal(memory: InteractionMemory, form: AnnotationForm) -> dict[str, Any]:
    proposal: dict[str, Any] = {}
    changed = _proposed_set(memory, form.changes)
    if changed:
        proposal["set"] = changed
    detail = " ".join(form.detail.split())
    if len(detail) > DETAIL_MAX_LENGTH:
        raise MemoryReviewInputError(
            "detail", f"Please keep what you add to {DETAIL_MAX_LENGTH} characters."
        )
    if detail:
        proposal["add_detail"] = detail
    if form.memory_type and form.memory_type != memory.memory_type:
        if form.memory_type not in MEMORY_TYPE_LABELS:
            raise MemoryReviewInputError("memory_type", "Please choose a kind from the list.")
        proposal["memory_type"] = form.memory_type
    if form.memory_key and form.memory_key != (memory.memory_key or ""):
        if len(form.memory_key) > KEY_MAX_LENGTH:
            raise MemoryReviewInputError(
                "memory_key", f"Please keep the key to {KEY_MAX_LENGTH} characters."
            )
        proposal["memory_key"] = form.memory_key
    if form.annotation_type == "enhancement" and not detail and not changed:
        raise MemoryReviewInputError("detail", "Please write what should be added.")
    if not proposal:
        raise MemoryReviewInputError(
            "changes",
            "Nothing is different from what is remembered now. Change a field, or use "
            "“Is this right?” to confirm it.",
        )
    return proposal


def annotate(
    db: DbSession,
    memory: InteractionMemory,
    form: AnnotationForm,
    *,
    user: User,
    ip_address: str | None = None,
) -> MemoryAnnotation:
    """Add ``user``'s annotation to the memory. A verification takes effect at once (the
    memory becomes verified or disputed); a correction or enhancement waits to be applied."""
    if form.annotation_type not in ANNOTATION_TYPES:
        raise MemoryReviewInputError(
            "annotation_type", "Please choose whether to check, correct or add to this memory."
        )
    note = form.note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise MemoryReviewInputError(
            form.note_field, f"Please keep the note to {NOTE_MAX_LENGTH} characters."
        )
    content: dict[str, Any] = {"note": note}
    if form.annotation_type == "verification":
        if form.verdict not in ("verified", "disputed"):
            raise MemoryReviewInputError("verdict", "Please say whether this memory is right.")
        if form.verdict == "disputed" and not note:
            raise MemoryReviewInputError(
                "note", "Please say what is wrong, so others know why it is no longer used."
            )
        content["verdict"] = form.verdict
    else:
        content["proposed"] = _proposal(memory, form)
    annotation = MemoryAnnotation(
        memory_id=memory.id,
        annotation_type=form.annotation_type,
        content=content,
        created_by_id=user.id,
        is_applied=False,
    )
    db.add(annotation)
    db.flush()
    _record(db, memory, annotation, user, "memory.annotated", "create", ip_address)
    if form.annotation_type == "verification":
        previous = memory.verification_status
        memory.verification_status = form.verdict
        _mark_applied(annotation, {"verification_status": previous}, user, utcnow())
        db.flush()
        _record(db, memory, annotation, user, f"memory.{form.verdict}", "update", ip_address)
    return annotation


def _mark_applied(
    annotation: MemoryAnnotation, previous: dict[str, Any], user: User, now: datetime
) -> None:
    annotation.is_applied = True
    annotation.applied_at = now
    # A new dict, so that the JSON column is seen as changed.
    annotation.content = {
        **(annotation.content or {}),
        "previous": previous,
        "applied_by_id": str(user.id),
    }


def _record(
    db: DbSession,
    memory: InteractionMemory,
    annotation: MemoryAnnotation,
    user: User,
    event_type: str,
    action: str,
    ip_address: str | None,
) -> None:
    payload = {
        "memory_id": str(memory.id),
        "annotation_id": str(annotation.id),
        "annotation_type": annotation.annotation_type,
        "storyteller_id": str(memory.storyteller_id),
    }
    record_event(db, event_type=event_type, user_id=user.id, payload=payload)
    audit.record(
        db,
        actor_id=user.id,
        action=action,
        object_type="memory_annotation" if action == "create" else "interaction_memory",
        object_id=annotation.id if action == "create" else memory.id,
        storyteller_id=memory.storyteller_id,
        ip_address=ip_address,
        details={"annotation_id": str(annotation.id), "event": event_type},
    )


def apply_annotation(
    db: DbSession,
    annotation: MemoryAnnotation,
    *,
    user: User,
    ip_address: str | None = None,
) -> InteractionMemory:
    """Apply a correction or enhancement to its memory; the previous content, type, key and
    status are kept in the annotation's content under "previous"."""
    field_name = f"apply_{annotation.id}"
    if annotation.is_applied:
        raise MemoryReviewInputError(field_name, "This change has already been applied.")
    if annotation.annotation_type == "verification":
        raise MemoryReviewInputError(field_name, "A check takes effect at once; nothing to apply.")
    memory = db.get(InteractionMemory, annotation.memory_id)
    proposed = (annotation.content or {}).get("proposed") or {}
    previous = {
        "content": dict(memory.content or {}),
        "memory_type": memory.memory_type,
        "memory_key": memory.memory_key,
        "verification_status": memory.verification_status,
    }
    content = dict(memory.content or {})
    for key, value in (proposed.get("set") or {}).items():
        if value is None:
            content.pop(key, None)
        else:
            content[key] = value
    if proposed.get("add_detail"):
        old = _text(content.get("details"))
        content["details"] = f"{old}; {proposed['add_detail']}" if old else proposed["add_detail"]
    memory.content = content
    if proposed.get("memory_type"):
        memory.memory_type = proposed["memory_type"]
    if proposed.get("memory_key"):
        memory.memory_key = proposed["memory_key"]
    if annotation.annotation_type == "correction":
        memory.verification_status = "verified"
    now = utcnow()
    memory.corrected_at = now
    _mark_applied(annotation, previous, user, now)
    db.flush()
    _record(db, memory, annotation, user, f"memory.{annotation.annotation_type}_applied",
            "update", ip_address)
    return memory
