"""What each role sees first after signing in, read from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload

from storyteller.authz import visible_storytellers
from storyteller.models import (
    AgentError,
    LlmInteraction,
    Session,
    SessionArtifact,
    Storyteller,
    User,
    utcnow,
)
from storyteller.reviews import QueueSummary, queue_summary

SESSION_ORDER = {"in_progress": 0, "paused": 1, "scheduled": 2, "completed": 3, "cancelled": 4}


def storyteller_sessions(db: DbSession, user: User) -> list[Session]:
    """A storyteller's own sessions: the ones to continue first, then upcoming, then done."""
    rows = db.scalars(
        select(Session)
        .join(Storyteller, Session.storyteller_id == Storyteller.id)
        .where(Storyteller.user_id == user.id)
        .order_by(Session.scheduled_at.is_(None), Session.scheduled_at, Session.created_at)
    ).all()
    return sorted(rows, key=lambda s: SESSION_ORDER.get(s.status, 9))


@dataclass(frozen=True)
class StorytellerRow:
    storyteller: Storyteller
    next_session: Session | None
    sessions_done: int
    sessions_total: int


def coordinator_storytellers(db: DbSession, user: User) -> list[StorytellerRow]:
    storytellers = db.scalars(visible_storytellers(user)).all()
    ids = [s.id for s in storytellers]
    if not ids:
        return []
    counts = dict(
        db.execute(
            select(Session.storyteller_id, func.count(Session.id))
            .where(Session.storyteller_id.in_(ids))
            .group_by(Session.storyteller_id)
        ).all()
    )
    done = dict(
        db.execute(
            select(Session.storyteller_id, func.count(Session.id))
            .where(Session.storyteller_id.in_(ids), Session.status == "completed")
            .group_by(Session.storyteller_id)
        ).all()
    )
    upcoming: dict = {}
    for session in db.scalars(
        select(Session)
        .where(Session.storyteller_id.in_(ids), Session.status.in_(("scheduled", "paused")))
        .order_by(Session.scheduled_at.is_(None), Session.scheduled_at)
    ):
        upcoming.setdefault(session.storyteller_id, session)
    return [
        StorytellerRow(s, upcoming.get(s.id), done.get(s.id, 0), counts.get(s.id, 0))
        for s in storytellers
    ]


def review_queue(db: DbSession, user: User) -> QueueSummary:
    """What waits for this reviewer: counts per storyteller and the oldest few artifacts."""
    return queue_summary(db, user)


@dataclass(frozen=True)
class SystemOverview:
    users_by_role: dict[str, int]
    storytellers: int
    sessions_by_status: dict[str, int]
    llm_calls_24h: int
    llm_failures_24h: int
    unresolved_errors: int
    provisional_artifacts: int
    recent_sessions: list[Session]
    storyteller_list: list[Storyteller]


def system_overview(db: DbSession) -> SystemOverview:
    since = utcnow() - timedelta(hours=24)
    return SystemOverview(
        users_by_role=dict(
            db.execute(select(User.role, func.count(User.id)).group_by(User.role)).all()
        ),
        storytellers=db.scalar(select(func.count(Storyteller.id))) or 0,
        sessions_by_status=dict(
            db.execute(
                select(Session.status, func.count(Session.id)).group_by(Session.status)
            ).all()
        ),
        llm_calls_24h=db.scalar(
            select(func.count(LlmInteraction.id)).where(LlmInteraction.created_at >= since)
        )
        or 0,
        llm_failures_24h=db.scalar(
            select(func.count(LlmInteraction.id)).where(
                LlmInteraction.created_at >= since, LlmInteraction.success.is_(False)
            )
        )
        or 0,
        unresolved_errors=db.scalar(
            select(func.count(AgentError.id)).where(AgentError.is_resolved.is_(False))
        )
        or 0,
        provisional_artifacts=db.scalar(
            select(func.count(SessionArtifact.id)).where(
                SessionArtifact.review_status == "provisional"
            )
        )
        or 0,
        recent_sessions=list(
            db.scalars(
                select(Session)
                .options(joinedload(Session.storyteller))
                .order_by(Session.updated_at.desc())
                .limit(10)
            )
        ),
        storyteller_list=list(db.scalars(select(Storyteller).order_by(Storyteller.display_name))),
    )
