"""Progress (seed 003 "Checking Session Progress"): per session and per storyteller.

A session's indicators are judged by the interview's own evaluation
(``interview.build_context`` + ``interview.evaluate_progress``, which uses
``storyteller.agent.progress``); this module only adds what a coordinator needs to read
it: which interaction or artifact is the evidence, the time so far, the counts. Nothing
here writes to the database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from storyteller import interview
from storyteller.models import (
    LifeEvent,
    Session,
    SessionArtifact,
    SessionInteraction,
    SessionLifeEvent,
    SessionNote,
    Storyteller,
    utcnow,
)

__all__ = [
    "IndicatorCheck",
    "SessionProgress",
    "StorytellerProgress",
    "session_progress",
    "storyteller_progress",
]

#: A single answer counts for at most this long (someone who left the page open).
MAX_SECONDS_PER_ANSWER = 15 * 60
STARTED_STATUSES = ("in_progress", "paused", "completed")


@dataclass(frozen=True)
class IndicatorCheck:
    indicator: str
    met: bool
    evidence: str | None
    interaction: SessionInteraction | None = None
    artifact: SessionArtifact | None = None


@dataclass(frozen=True)
class SessionProgress:
    session: Session
    status: str
    success: list[IndicatorCheck]
    completion: list[IndicatorCheck]
    percentage: int
    can_complete: bool
    minutes_so_far: int
    interactions_count: int
    answered_count: int
    skipped_count: int
    artifacts_count: int
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def met_count(self) -> int:
        return sum(1 for c in [*self.success, *self.completion] if c.met)

    @property
    def indicator_count(self) -> int:
        return len(self.success) + len(self.completion)


def _minutes(session: Session, interactions: list[SessionInteraction]) -> int:
    """Time so far: the recorded duration once it ended; else answer time, else wall time."""
    if session.actual_duration_minutes is not None:
        return session.actual_duration_minutes
    seconds = sum(
        min(i.duration_seconds or 0, MAX_SECONDS_PER_ANSWER) for i in interactions
    )
    if seconds:
        return max(1, round(seconds / 60))
    if session.started_at is not None:
        end = session.ended_at or utcnow()
        start = session.started_at
        if start.tzinfo is None and end.tzinfo is not None:
            end = end.replace(tzinfo=None)
        return max(0, round((end - start).total_seconds() / 60))
    return 0


def _check(
    result: object,
    turns: list[SessionInteraction],
    artifacts: list[SessionArtifact],
) -> IndicatorCheck:
    indicator = str(getattr(result, "indicator", ""))
    met = bool(getattr(result, "met", False))
    evidence = getattr(result, "evidence", None)
    index = getattr(result, "evidence_turn_index", None)
    interaction = turns[index] if index is not None and 0 <= index < len(turns) else None
    artifact = None
    if met and evidence:
        artifact = next((a for a in artifacts if a.artifact_name and a.artifact_name == evidence),
                        None)
    return IndicatorCheck(indicator, met, evidence, interaction, artifact)


def session_progress(db: DbSession, session: Session) -> SessionProgress:
    """Each success and completion indicator met or not, with its evidence; counts and time."""
    ctx, _ = interview.build_context(db, session, with_memories=False)
    progress = interview.evaluate_progress(ctx)
    interactions = interview.interactions_of(db, session)
    # The turns the evaluation numbered: the questions that were answered or skipped.
    turns = [i for i in interactions if i.response_method is not None]
    artifacts = list(
        db.scalars(
            select(SessionArtifact)
            .where(SessionArtifact.session_id == session.id)
            .order_by(SessionArtifact.created_at)
        )
    )
    percentage = progress.percentage
    if session.status == "completed" and session.completion_percentage is not None:
        percentage = session.completion_percentage
    return SessionProgress(
        session=session,
        status=session.status,
        success=[_check(r, turns, artifacts) for r in progress.success],
        completion=[_check(r, turns, artifacts) for r in progress.completion],
        percentage=percentage,
        can_complete=progress.can_complete,
        minutes_so_far=_minutes(session, interactions),
        interactions_count=len(turns),
        answered_count=sum(1 for i in turns if i.response_method in ("text", "voice")),
        skipped_count=sum(1 for i in turns if i.response_method == "skip"),
        artifacts_count=len(artifacts),
        started_at=session.started_at,
        ended_at=session.ended_at,
    )


# ----------------------------------------------------------------------------- storyteller


@dataclass(frozen=True)
class SessionRow:
    session: Session
    percentage: int | None


@dataclass(frozen=True)
class StorytellerProgress:
    storyteller: Storyteller
    sessions_done: int
    sessions_scheduled: int
    sessions_running: int
    sessions_cancelled: int
    minutes_spent: int
    artifacts_total: int
    artifacts_approved: int
    life_events_total: int
    life_events_touched: int
    untouched_events: list[LifeEvent]
    open_followups: list[SessionNote]
    sessions: list[SessionRow] = field(default_factory=list)

    @property
    def coverage_percentage(self) -> int:
        if not self.life_events_total:
            return 0
        return round(100 * self.life_events_touched / self.life_events_total)


def _answer_minutes(db: DbSession, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Per session, the answer time from its interactions (capped per answer)."""
    if not session_ids:
        return {}
    seconds: dict[uuid.UUID, int] = {}
    for session_id, duration in db.execute(
        select(SessionInteraction.session_id, SessionInteraction.duration_seconds).where(
            SessionInteraction.session_id.in_(session_ids),
            SessionInteraction.duration_seconds.is_not(None),
        )
    ):
        seconds[session_id] = seconds.get(session_id, 0) + min(
            max(duration, 0), MAX_SECONDS_PER_ANSWER
        )
    return {sid: max(1, round(sec / 60)) for sid, sec in seconds.items() if sec}


def _touched_events(db: DbSession, storyteller_id: uuid.UUID) -> set[uuid.UUID]:
    """Life events a session that has begun was about, or an answer was about."""
    linked = db.scalars(
        select(SessionLifeEvent.life_event_id)
        .join(Session, Session.id == SessionLifeEvent.session_id)
        .where(Session.storyteller_id == storyteller_id, Session.status.in_(STARTED_STATUSES))
    )
    answered = db.scalars(
        select(SessionInteraction.life_event_id)
        .join(Session, Session.id == SessionInteraction.session_id)
        .where(
            Session.storyteller_id == storyteller_id,
            SessionInteraction.life_event_id.is_not(None),
            SessionInteraction.response_method.in_(("text", "voice")),
        )
    )
    return {*linked, *answered}


def open_followups(db: DbSession, storyteller_id: uuid.UUID) -> list[SessionNote]:
    return list(
        db.scalars(
            select(SessionNote)
            .join(Session, Session.id == SessionNote.session_id)
            .where(
                Session.storyteller_id == storyteller_id,
                SessionNote.requires_followup.is_(True),
                SessionNote.followup_done_at.is_(None),
            )
            .order_by(SessionNote.is_important.desc(), SessionNote.created_at)
        )
    )


def storyteller_progress(db: DbSession, storyteller: Storyteller) -> StorytellerProgress:
    """Sessions done / scheduled, time spent, artifacts approved, life events touched."""
    all_sessions = list(
        db.scalars(
            select(Session)
            .where(Session.storyteller_id == storyteller.id)
            .order_by(Session.scheduled_at.is_(None), Session.scheduled_at, Session.created_at)
        )
    )
    by_status: dict[str, int] = {}
    for s in all_sessions:
        by_status[s.status] = by_status.get(s.status, 0) + 1
    answer_minutes = _answer_minutes(db, [s.id for s in all_sessions])
    minutes = sum(
        s.actual_duration_minutes
        if s.actual_duration_minutes is not None
        else answer_minutes.get(s.id, 0)
        for s in all_sessions
    )
    artifact_counts = db.execute(
        select(SessionArtifact.review_status, func.count())
        .join(Session, Session.id == SessionArtifact.session_id)
        .where(Session.storyteller_id == storyteller.id)
        .group_by(SessionArtifact.review_status)
    ).all()
    artifacts = {status: int(n) for status, n in artifact_counts}
    events = list(
        db.scalars(
            select(LifeEvent)
            .where(LifeEvent.storyteller_id == storyteller.id)
            .order_by(LifeEvent.start_year.is_(None), LifeEvent.start_year, LifeEvent.event_name)
        )
    )
    touched = _touched_events(db, storyteller.id)
    return StorytellerProgress(
        storyteller=storyteller,
        sessions_done=by_status.get("completed", 0),
        sessions_scheduled=by_status.get("scheduled", 0),
        sessions_running=by_status.get("in_progress", 0) + by_status.get("paused", 0),
        sessions_cancelled=by_status.get("cancelled", 0),
        minutes_spent=minutes,
        artifacts_total=sum(artifacts.values()),
        artifacts_approved=artifacts.get("approved", 0),
        life_events_total=len(events),
        life_events_touched=sum(1 for e in events if e.id in touched),
        untouched_events=[e for e in events if e.id not in touched],
        open_followups=open_followups(db, storyteller.id),
        sessions=[
            SessionRow(s, s.completion_percentage if s.status == "completed" else None)
            for s in all_sessions
        ],
    )
