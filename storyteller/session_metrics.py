"""session_metric rows (seed 000), written as a session runs.

After each turn of the interviewer: ``turn_latency_ms`` (the turn's agent_execution, from
start to finish) and ``completion_percentage`` (progress towards the session's indicators),
with the turn's execution in the metadata. When the session ends: ``duration_minutes``
(active minutes), ``completion_percentage`` (final), ``artifacts_created``, ``quality_score``
and, when the storyteller rates it, ``satisfaction`` (1-5; a new rating replaces the old one).
Rows of the session end are marked ``{"at": "end"}``.

Functions add and flush, never commit: the interview's caller owns the transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session as DbSession

from storyteller.models import AgentExecution, Session, SessionArtifact, SessionMetric, utcnow

__all__ = ["TURN_METRICS", "END_METRICS", "record_end", "record_satisfaction", "record_turn"]

TURN_METRICS = ("turn_latency_ms", "completion_percentage")
END_METRICS = ("duration_minutes", "completion_percentage", "artifacts_created", "quality_score")


def _add(
    db: DbSession, session: Session, metric_type: str, value: float, metadata: dict[str, Any]
) -> None:
    db.add(
        SessionMetric(
            session_id=session.id,
            metric_type=metric_type,
            metric_value=float(value),
            timestamp=utcnow(),
            metadata_=metadata,
        )
    )


def record_turn(db: DbSession, session: Session, execution: AgentExecution) -> None:
    """The figures of one finished turn of the interviewer."""
    metadata = {"at": "turn", "agent_execution_id": str(execution.id)}
    if execution.duration_ms is not None:
        _add(db, session, "turn_latency_ms", execution.duration_ms, metadata)
    if session.completion_percentage is not None:
        _add(db, session, "completion_percentage", session.completion_percentage, metadata)


def record_end(db: DbSession, session: Session) -> None:
    """The figures of a session that has just been finished."""
    artifacts = db.scalar(
        select(func.count(SessionArtifact.id)).where(SessionArtifact.session_id == session.id)
    )
    figures = {
        "duration_minutes": session.actual_duration_minutes,
        "completion_percentage": session.completion_percentage,
        "artifacts_created": artifacts or 0,
        "quality_score": session.quality_score,
    }
    for metric_type, value in figures.items():
        if value is not None:
            _add(db, session, metric_type, value, {"at": "end"})
    db.flush()


def record_satisfaction(db: DbSession, session: Session, satisfaction: int) -> None:
    """The storyteller's rating of the session (replaces an earlier rating)."""
    db.execute(
        delete(SessionMetric)
        .where(SessionMetric.session_id == session.id, SessionMetric.metric_type == "satisfaction")
        .execution_options(synchronize_session="fetch")
    )
    _add(db, session, "satisfaction", satisfaction, {"at": "rating"})
    db.flush()
