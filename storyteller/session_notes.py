"""Session notes (seed 003 session_note): what coordinators and reviewers observe, and
follow-ups to do.

Who writes notes (``NOTE_ROLES``): the coordinators and reviewers granted to the storyteller,
and admins. A reviewer's note ("Reviewer session notes", issue 5) is a note like any other,
written from the session or from an artifact's review page; storytellers never see notes.

Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from storyteller import audit, authz
from storyteller.events import record_event
from storyteller.models import Session, SessionNote, User, utcnow
from storyteller.models.sessions import NOTE_TYPES
from storyteller.sessions import SessionInputError

__all__ = [
    "NOTE_MAX_LENGTH",
    "NOTE_ROLES",
    "NOTE_TYPE_LABELS",
    "NoteForm",
    "NoteInputError",
    "add_note",
    "may_write_notes",
    "mark_followup_done",
    "note_or_404",
    "notes_of",
]

NOTE_MAX_LENGTH = 5000
NOTE_ROLES = ("coordinator", "reviewer", "admin")
NOTE_TYPE_LABELS = {
    "observation": "Observation",
    "concern": "Concern",
    "insight": "Insight",
    "technical": "Technical problem",
}
assert set(NOTE_TYPE_LABELS) == set(NOTE_TYPES)


class NoteInputError(SessionInputError):
    """A note that cannot be saved; ``field`` names the form field."""


@dataclass
class NoteForm:
    note_type: str = "observation"
    note_content: str = ""
    is_important: bool = False
    requires_followup: bool = False

    @classmethod
    def from_request(cls, form) -> NoteForm:
        return cls(
            note_type=form.get("note_type", ""),
            note_content=form.get("note_content", ""),
            is_important=form.get("is_important") in ("1", "on", "true", "yes"),
            requires_followup=form.get("requires_followup") in ("1", "on", "true", "yes"),
        )


def may_write_notes(user: User) -> bool:
    """Whether this user's role writes notes (on the sessions they may see)."""
    return user.role in NOTE_ROLES


def note_or_404(db: DbSession, user: User, note_id: uuid.UUID) -> SessionNote:
    """The note, if this user may see its session's storyteller; 404 otherwise."""
    note = db.get(SessionNote, note_id)
    if note is None:
        abort(404)
    session = db.get(Session, note.session_id)
    if session is None or not authz.can_see_storyteller(db, user, session.storyteller_id):
        abort(404)
    return note


def notes_of(db: DbSession, session_id: uuid.UUID) -> list[SessionNote]:
    return list(
        db.scalars(
            select(SessionNote)
            .where(SessionNote.session_id == session_id)
            .order_by(SessionNote.created_at, SessionNote.id)
        )
    )


def add_note(db: DbSession, session: Session, form: NoteForm, *, user: User) -> SessionNote:
    """Add a note to the session, written by ``user``."""
    if form.note_type not in NOTE_TYPES:
        raise NoteInputError("note_type", "Please choose what kind of note this is.")
    content = (form.note_content or "").strip()
    if not content:
        raise NoteInputError("note_content", "Please write the note.")
    if len(content) > NOTE_MAX_LENGTH:
        raise NoteInputError(
            "note_content", f"Please keep a note to {NOTE_MAX_LENGTH} characters."
        )
    last_sequence = max(
        (i.interaction_sequence for i in session.interactions if i.response_method), default=None
    )
    note = SessionNote(
        session_id=session.id,
        note_type=form.note_type,
        note_content=content,
        is_important=bool(form.is_important),
        requires_followup=bool(form.requires_followup),
        noted_at_interaction_sequence=last_sequence,
        noted_by="user",
        author_id=user.id,
    )
    db.add(note)
    db.flush()
    record_event(
        db,
        event_type="session.note_added",
        session_id=session.id,
        user_id=user.id,
        payload={
            "note_id": str(note.id),
            "note_type": note.note_type,
            "requires_followup": note.requires_followup,
        },
    )
    audit.record(
        db,
        actor_id=user.id,
        action="create",
        object_type="session_note",
        object_id=note.id,
        storyteller_id=session.storyteller_id,
    )
    return note


def mark_followup_done(db: DbSession, note: SessionNote, *, user: User) -> SessionNote:
    """Mark the note's follow-up as done (doing it twice changes nothing)."""
    if not note.requires_followup:
        raise NoteInputError("note", "This note does not need a follow-up.")
    if note.followup_done_at is not None:
        return note
    note.followup_done_at = utcnow()
    session = db.get(Session, note.session_id)
    record_event(
        db,
        event_type="session.followup_done",
        session_id=note.session_id,
        user_id=user.id,
        payload={"note_id": str(note.id)},
    )
    audit.record(
        db,
        actor_id=user.id,
        action="update",
        object_type="session_note",
        object_id=note.id,
        storyteller_id=session.storyteller_id if session else None,
        details={"followup_done": True},
    )
    db.flush()
    return note
