"""Recompute every derived figure from the source rows (seed 001's backfill script).

Counters kept on rows for speed (a session's message count, tokens, cost and last
activity; an agent's session count, success rate and last activity; a memory's access
count and last access) can drift: a crash between two writes, a bug, a hand edit. Each step
below recomputes one family of them with one set-based UPDATE whose values are correlated
subqueries over the source rows. Only rows whose stored values differ are written, so a
second run changes nothing (and reports 0). Works on SQLite and PostgreSQL.

Definitions:

- ``session.message_count``: agent prompts + storyteller answers, i.e. over the session's
  ``session_interaction`` rows, count(agent_prompt) + count(storyteller_response) (non-null
  values; a skipped question counts its prompt only).
- ``session.total_tokens``: sum over the session's ``llm_interaction`` rows of
  prompt_tokens + response_tokens (nulls as 0); 0 without calls.
- ``session.total_cost``: sum of ``llm_interaction.cost`` (unpriced calls ignored), rounded
  to the column's 6 decimals; 0 without calls.
- ``session.last_activity_at``: the latest of the session's interactions' created_at and
  answered_at, its events' and LLM calls' created_at, and its own started_at and ended_at;
  NULL when none of them exists.
- ``agent.total_sessions``: sessions whose agent_id is the agent.
- ``agent.success_rate``: among the agent's sessions that have started (started_at set and
  status in_progress, paused, completed or cancelled), the share with status completed;
  NULL when none has started.
- ``agent.last_active_at``: the latest of its executions' started_at and completed_at and
  its LLM calls' created_at; NULL when none.
- ``interaction_memory.access_count`` / ``last_accessed_at``: count and latest created_at of
  its ``memory_access`` rows (0 / NULL without any).

Extension point: ``STEPS`` is the ordered list of (name, function) that ``recompute_all``
runs; a function takes the database session and returns how many rows it corrected. Add a
step with the ``recompute_step("name")`` decorator (the daily rollups, usage_daily and
performance_daily, are meant to arrive this way). ``updated_at`` is left as it was: a
recomputed counter is not an edit of the row.

Functions flush, never commit: the caller (``flask recompute``) commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, or_, select, union_all, update
from sqlalchemy.orm import Session as DbSession

from storyteller.models import (
    Agent,
    AgentExecution,
    Event,
    InteractionMemory,
    LlmInteraction,
    MemoryAccess,
    Session,
    SessionInteraction,
)

__all__ = [
    "STARTED_STATUSES",
    "STEPS",
    "RecomputeStep",
    "recompute_all",
    "recompute_step",
]

RecomputeStep = Callable[[DbSession], int]

# The ordered list of steps recompute_all runs: (name in the report, function).
STEPS: list[tuple[str, RecomputeStep]] = []

STARTED_STATUSES = ("in_progress", "paused", "completed", "cancelled")


def recompute_step(name: str) -> Callable[[RecomputeStep], RecomputeStep]:
    """Register ``function`` as a step of ``recompute_all`` under ``name`` (run in order)."""

    def register(function: RecomputeStep) -> RecomputeStep:
        if any(existing == name for existing, _ in STEPS):
            raise ValueError(f"a recompute step named {name!r} already exists")
        STEPS.append((name, function))
        return function

    return register


def recompute_all(db: DbSession) -> dict[str, int]:
    """Run every step; returns {step name: number of rows whose figures were corrected}."""
    db.flush()
    return {name: step(db) for name, step in STEPS}


def _latest(outer: Any, *queries: Any) -> Any:
    """A scalar subquery: the greatest non-null value among the single-column queries, which
    refer to the row being updated (``outer``; a subquery in FROM is not correlated unless
    told)."""
    times = union_all(*(query.correlate(outer) for query in queries)).subquery()
    return select(func.max(times.c[0])).scalar_subquery()


def _apply(db: DbSession, model: Any, values: dict[str, Any]) -> int:
    """UPDATE ``model`` SET values WHERE any of them differs; expire what was loaded."""
    column = model.__table__.c
    statement = (
        update(model)
        .where(or_(*(column[name].is_distinct_from(value) for name, value in values.items())))
        .values(**values, updated_at=column["updated_at"])
        .execution_options(synchronize_session=False)
    )
    result = db.execute(statement)
    names = list(values)
    for instance in list(db.identity_map.values()):
        if isinstance(instance, model):
            db.expire(instance, names)
    return result.rowcount


@recompute_step("session_counters")
def recompute_session_counters(db: DbSession) -> int:
    si = SessionInteraction
    llm = LlmInteraction
    message_count = (
        select(func.count(si.agent_prompt) + func.count(si.storyteller_response))
        .where(si.session_id == Session.id)
        .scalar_subquery()
    )
    total_tokens = (
        select(
            func.coalesce(
                func.sum(
                    func.coalesce(llm.prompt_tokens, 0) + func.coalesce(llm.response_tokens, 0)
                ),
                0,
            )
        )
        .where(llm.session_id == Session.id)
        .scalar_subquery()
    )
    total_cost = (
        select(func.round(func.coalesce(func.sum(llm.cost), 0), 6))
        .where(llm.session_id == Session.id)
        .scalar_subquery()
    )
    last_activity_at = _latest(
        Session,
        select(si.created_at.label("t")).where(si.session_id == Session.id),
        select(si.answered_at).where(si.session_id == Session.id),
        select(Event.created_at).where(Event.session_id == Session.id),
        select(llm.created_at).where(llm.session_id == Session.id),
        select(Session.started_at),
        select(Session.ended_at),
    )
    return _apply(
        db,
        Session,
        {
            "message_count": message_count,
            "total_tokens": total_tokens,
            "total_cost": total_cost,
            "last_activity_at": last_activity_at,
        },
    )


@recompute_step("agent_totals")
def recompute_agent_totals(db: DbSession) -> int:
    total_sessions = (
        select(func.count(Session.id)).where(Session.agent_id == Agent.id).scalar_subquery()
    )
    completed = func.sum(case((Session.status == "completed", 1), else_=0))
    success_rate = (
        select(
            case(
                (func.count(Session.id) == 0, None),
                else_=cast(completed, Float) / cast(func.count(Session.id), Float),
            )
        )
        .where(
            and_(
                Session.agent_id == Agent.id,
                Session.started_at.is_not(None),
                Session.status.in_(STARTED_STATUSES),
            )
        )
        .scalar_subquery()
    )
    last_active_at = _latest(
        Agent,
        select(AgentExecution.started_at.label("t")).where(AgentExecution.agent_id == Agent.id),
        select(AgentExecution.completed_at).where(AgentExecution.agent_id == Agent.id),
        select(LlmInteraction.created_at).where(LlmInteraction.agent_id == Agent.id),
    )
    return _apply(
        db,
        Agent,
        {
            "total_sessions": total_sessions,
            "success_rate": success_rate,
            "last_active_at": last_active_at,
        },
    )


@recompute_step("memory_access_counts")
def recompute_memory_access_counts(db: DbSession) -> int:
    access_count = (
        select(func.count(MemoryAccess.id))
        .where(MemoryAccess.memory_id == InteractionMemory.id)
        .scalar_subquery()
    )
    last_accessed_at = (
        select(func.max(MemoryAccess.created_at))
        .where(MemoryAccess.memory_id == InteractionMemory.id)
        .scalar_subquery()
    )
    return _apply(
        db,
        InteractionMemory,
        {"access_count": access_count, "last_accessed_at": last_accessed_at},
    )
