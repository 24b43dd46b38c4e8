"""Agent versions side by side: how the sessions each version ran went, from the source rows.

Definitions (each figure per agent version; a session belongs to the version it was pinned to
when it started, ``session.agent_version_id``; an LLM call or execution to the version it
records):

- ``sessions``: sessions pinned to the version.
- ``started``: of those, the ones that have started (started_at set, status in_progress,
  paused, completed or cancelled); ``completed``: status completed.
- ``completion_rate``: completed / started (None when none started), as in
  ``agent.success_rate`` (storyteller/recompute.py).
- ``average_completion``: mean ``completion_percentage`` of the started sessions that have one.
- ``average_satisfaction``: mean ``user_satisfaction`` (1-5) of the sessions rated;
  ``rated_sessions`` how many were rated.
- ``llm_calls``, ``failed_calls`` (success false), ``error_rate`` = failed / calls.
- ``tokens_per_session``: prompt + response tokens of the version's LLM calls / sessions.
- ``cost_per_session``: summed cost of the priced calls / sessions; calls without a price are
  counted apart in ``unpriced_calls``, never as $0.
- ``executions``, ``failed_executions`` and ``execution_error_rate`` likewise for
  ``agent_execution`` (turns).

Everything is None rather than 0 when its denominator is 0.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session as DbSession

from storyteller.models import AgentExecution, AgentVersion, LlmInteraction, Session

__all__ = ["STARTED_STATUSES", "AgentTotals", "VersionFigures", "agent_totals", "compare_versions"]

STARTED_STATUSES = ("in_progress", "paused", "completed", "cancelled")
COST_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class VersionFigures:
    version: AgentVersion
    sessions: int
    started: int
    completed: int
    completion_rate: float | None
    average_completion: float | None
    average_satisfaction: float | None
    rated_sessions: int
    llm_calls: int
    failed_calls: int
    error_rate: float | None
    tokens: int
    tokens_per_session: float | None
    cost: Decimal
    cost_per_session: Decimal | None
    unpriced_calls: int
    executions: int
    failed_executions: int
    execution_error_rate: float | None


def _ratio(numerator: float | int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _float(value: object) -> float | None:
    return float(value) if value is not None else None  # type: ignore[arg-type]


def compare_versions(db: DbSession, versions: list[AgentVersion]) -> list[VersionFigures]:
    """The figures of each version, in the order given (three grouped queries in all)."""
    ids = [v.id for v in versions]
    if not ids:
        return []
    started = Session.started_at.is_not(None) & Session.status.in_(STARTED_STATUSES)
    session_rows = {
        row.version_id: row
        for row in db.execute(
            select(
                Session.agent_version_id.label("version_id"),
                func.count(Session.id).label("sessions"),
                func.sum(case((started, 1), else_=0)).label("started"),
                func.sum(case((started & (Session.status == "completed"), 1), else_=0)).label(
                    "completed"
                ),
                func.avg(case((started, Session.completion_percentage), else_=None)).label(
                    "average_completion"
                ),
                func.avg(Session.user_satisfaction).label("average_satisfaction"),
                func.count(Session.user_satisfaction).label("rated"),
            )
            .where(Session.agent_version_id.in_(ids))
            .group_by(Session.agent_version_id)
        )
    }
    tokens = func.coalesce(LlmInteraction.prompt_tokens, 0) + func.coalesce(
        LlmInteraction.response_tokens, 0
    )
    call_rows = {
        row.version_id: row
        for row in db.execute(
            select(
                LlmInteraction.agent_version_id.label("version_id"),
                func.count(LlmInteraction.id).label("calls"),
                func.sum(case((LlmInteraction.success.is_(False), 1), else_=0)).label("failed"),
                func.sum(tokens).label("tokens"),
                func.sum(LlmInteraction.cost).label("cost"),
                func.sum(case((LlmInteraction.cost.is_(None), 1), else_=0)).label("unpriced"),
            )
            .where(LlmInteraction.agent_version_id.in_(ids))
            .group_by(LlmInteraction.agent_version_id)
        )
    }
    execution_rows = {
        row.version_id: row
        for row in db.execute(
            select(
                AgentExecution.agent_version_id.label("version_id"),
                func.count(AgentExecution.id).label("executions"),
                func.sum(case((AgentExecution.status == "failed", 1), else_=0)).label("failed"),
            )
            .where(AgentExecution.agent_version_id.in_(ids))
            .group_by(AgentExecution.agent_version_id)
        )
    }
    figures = []
    for version in versions:
        s = session_rows.get(version.id)
        c = call_rows.get(version.id)
        e = execution_rows.get(version.id)
        sessions = int(s.sessions) if s else 0
        started_count = int(s.started or 0) if s else 0
        completed = int(s.completed or 0) if s else 0
        calls = int(c.calls) if c else 0
        failed_calls = int(c.failed or 0) if c else 0
        token_sum = int(c.tokens or 0) if c else 0
        cost = Decimal(str(c.cost)) if c and c.cost is not None else Decimal("0")
        executions = int(e.executions) if e else 0
        failed_executions = int(e.failed or 0) if e else 0
        figures.append(
            VersionFigures(
                version=version,
                sessions=sessions,
                started=started_count,
                completed=completed,
                completion_rate=_ratio(completed, started_count),
                average_completion=_float(s.average_completion) if s else None,
                average_satisfaction=_float(s.average_satisfaction) if s else None,
                rated_sessions=int(s.rated or 0) if s else 0,
                llm_calls=calls,
                failed_calls=failed_calls,
                error_rate=_ratio(failed_calls, calls),
                tokens=token_sum,
                tokens_per_session=_ratio(token_sum, sessions),
                cost=cost.quantize(COST_PLACES),
                cost_per_session=(cost / sessions).quantize(COST_PLACES) if sessions else None,
                unpriced_calls=int(c.unpriced or 0) if c else 0,
                executions=executions,
                failed_executions=failed_executions,
                execution_error_rate=_ratio(failed_executions, executions),
            )
        )
    return figures


@dataclass(frozen=True)
class AgentTotals:
    sessions: int
    started: int
    completed: int
    success_rate: float | None  # completed / started, None when none started


def agent_totals(db: DbSession) -> dict[uuid.UUID, AgentTotals]:
    """Every agent's sessions, live from the session rows (one grouped query).

    The same definitions as ``agent.total_sessions`` and ``agent.success_rate``, which
    ``flask recompute`` stores on the agent row; these never lag behind.
    """
    started = Session.started_at.is_not(None) & Session.status.in_(STARTED_STATUSES)
    totals: dict[uuid.UUID, AgentTotals] = {}
    for agent_id, sessions, started_count, completed in db.execute(
        select(
            Session.agent_id,
            func.count(Session.id),
            func.sum(case((started, 1), else_=0)),
            func.sum(case((started & (Session.status == "completed"), 1), else_=0)),
        )
        .where(Session.agent_id.is_not(None))
        .group_by(Session.agent_id)
    ):
        started_count, completed = int(started_count or 0), int(completed or 0)
        totals[agent_id] = AgentTotals(
            int(sessions), started_count, completed, _ratio(completed, started_count)
        )
    return totals
