"""Read models for a storyteller's page and a session's page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import selectinload

from storyteller import consent, invitations, progress_report, roster, scheduling, session_notes
from storyteller.models import (
    ConsentRecord,
    LifeEvent,
    Session,
    SessionArtifact,
    Storyteller,
    User,
)


@dataclass(frozen=True)
class StorytellerPage:
    """The coordinator's hub: details, consent, who has access, life events and sessions."""

    storyteller: Storyteller
    life_events: list[LifeEvent]
    sessions: list[Session]
    consent: ConsentRecord | None = None
    access: list[roster.AccessRow] = field(default_factory=list)
    invitation: invitations.InvitationStatus | None = None

    @property
    def language_label(self) -> str:
        code = self.storyteller.preferred_language
        return roster.LANGUAGES.get(code, code)

    @property
    def consented_topic_labels(self) -> list[str]:
        topics = (self.consent.sensitive_topics if self.consent else None) or []
        return [consent.TOPIC_LABELS.get(t, t) for t in topics]


def storyteller_page(db: DbSession, storyteller: Storyteller) -> StorytellerPage:
    events = db.scalars(
        select(LifeEvent)
        .where(LifeEvent.storyteller_id == storyteller.id)
        .order_by(LifeEvent.start_year.is_(None), LifeEvent.start_year, LifeEvent.event_name)
    ).all()
    sessions = db.scalars(
        select(Session)
        .where(Session.storyteller_id == storyteller.id)
        .order_by(Session.scheduled_at.is_(None), Session.scheduled_at.desc(), Session.created_at)
    ).all()
    return StorytellerPage(
        storyteller,
        list(events),
        list(sessions),
        consent=consent.consent_in_force(db, storyteller),
        access=roster.access_list(db, storyteller),
        invitation=invitations.latest_invitation_status(db, storyteller),
    )


def session_with_content(db: DbSession, session_id) -> Session | None:
    return db.scalar(
        select(Session)
        .where(Session.id == session_id)
        .options(
            selectinload(Session.interactions),
            selectinload(Session.artifacts).selectinload(SessionArtifact.reviewed_by),
            selectinload(Session.life_event_links),
            selectinload(Session.notes),
        )
    )


def session_extras(db: DbSession, session: Session, user: User) -> dict[str, Any]:
    """What the session page shows beyond the conversation: progress, schedule history,
    notes (organisers only), and which actions this user may take."""
    staff = user.role != "storyteller"
    return {
        "progress": progress_report.session_progress(db, session),
        "history": scheduling.schedule_history(db, session) if staff else [],
        "notes": session_notes.notes_of(db, session.id) if staff else [],
        "show_notes": staff,
        "can_change": user.role in scheduling.CHANGE_ROLES,
        "can_write_notes": session_notes.may_write_notes(user),
        "changeable": session.status in scheduling.CHANGEABLE_STATUSES,
        "follow_up": scheduling.existing_follow_up(session),
        "note_types": session_notes.NOTE_TYPE_LABELS,
        "coverage_labels": scheduling.COVERAGE_LABELS,
    }
