"""A session's trace: its turns (agent executions) with everything each one did, in order.

``load_session_trace`` reads one session with one query per table (session, executions, LLM
calls, events, state transitions, memory reads, memories written, errors), whatever the
number of turns, and groups the rows in Python:

* an LLM call, event, memory read or error belongs to the turn named by its
  ``agent_execution_id`` (an LLM call or error without one, by its trace id);
* a state transition to the turn whose id is its ``trigger_id`` (the interview saves its
  progress with ``trigger_id = str(execution.id)``);
* a memory written to the turn whose ``memory.written`` event names it, else the turn whose
  time window holds its creation;
* anything else (session started / paused / completed, a turn that failed and was rolled
  back) is "outside a turn" and listed apart, so nothing of the session is hidden.

``find_by_trace_id`` finds the session (and turn) of a trace id. Nothing here knows Flask.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import contains_eager, joinedload

from storyteller.models import (
    AgentError,
    AgentExecution,
    Event,
    InteractionMemory,
    LlmInteraction,
    MemoryAccess,
    ModuleState,
    Session,
    StateTransition,
)


@dataclass
class Bar:
    """One piece of a waterfall: where it starts and how long it lasts, within its scale."""

    label: str
    kind: str  # "llm", "llm-failed", "event", "turn"
    start_ms: int
    duration_ms: int
    scale_ms: int

    @property
    def left_percent(self) -> float:
        return round(min(100.0, max(0.0, self.start_ms * 100 / self.scale_ms)), 2)

    @property
    def width_percent(self) -> float:
        room = 100.0 - self.left_percent
        return round(min(room, max(0.5, self.duration_ms * 100 / self.scale_ms)), 2)


class _CallTotals:
    """Tokens and cost of ``llm_calls`` (a turn's, or the whole session's)."""

    llm_calls: list[LlmInteraction]

    @property
    def tokens(self) -> int:
        return sum((c.prompt_tokens or 0) + (c.response_tokens or 0) for c in self.llm_calls)

    @property
    def cost(self) -> Decimal | None:
        """Summed cost of the priced calls; None when no call had a price (never a false $0)."""
        priced = [c.cost for c in self.llm_calls if c.cost is not None]
        return sum(priced, Decimal("0")) if priced else None

    @property
    def unpriced_calls(self) -> int:
        return sum(1 for c in self.llm_calls if c.cost is None)


@dataclass
class Turn(_CallTotals):
    number: int
    execution: AgentExecution
    llm_calls: list[LlmInteraction] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    transitions: list[StateTransition] = field(default_factory=list)
    memories_read: list[MemoryAccess] = field(default_factory=list)
    memories_written: list[InteractionMemory] = field(default_factory=list)
    errors: list[AgentError] = field(default_factory=list)

    @property
    def start_ms(self) -> int | None:
        return _ms(self.execution.started_at)

    def offset_ms(self, event: Event) -> int | None:
        """How long after the turn began this event was written."""
        start = self.start_ms
        return event.timestamp_ms - start if start is not None else None

    @property
    def anchor(self) -> str:
        return f"turn-{self.execution.id}"

    @property
    def duration_ms(self) -> int:
        if self.execution.duration_ms is not None:
            return self.execution.duration_ms
        ends = [_end_ms(c) for c in self.llm_calls] + [e.timestamp_ms for e in self.events]
        start = _ms(self.execution.started_at)
        return max([0] + [end - start for end in ends if start is not None])

    def bars(self) -> list[Bar]:
        """The turn's LLM calls and timed events on one scale, the turn's own duration."""
        start = _ms(self.execution.started_at)
        if start is None:
            return []
        found: list[tuple[str, str, int, int]] = []
        for call in self.llm_calls:
            begin = _ms(call.created_at) or start
            found.append(
                (
                    f"LLM {call.purpose or 'call'} ({call.model})",
                    "llm" if call.success else "llm-failed",
                    begin - start,
                    call.latency_ms or 0,
                )
            )
        for event in self.events:
            if event.duration_ms:
                begin = event.timestamp_ms - event.duration_ms
                found.append((event.event_type, "event", begin - start, event.duration_ms))
        scale = max([self.duration_ms, 1] + [s + d for _, _, s, d in found])
        return [Bar(label, kind, max(0, s), d, scale) for label, kind, s, d in found]


@dataclass
class SessionTrace(_CallTotals):
    session: Session
    turns: list[Turn]
    outside_events: list[Event]
    outside_llm_calls: list[LlmInteraction]
    outside_transitions: list[StateTransition]
    outside_memories_read: list[MemoryAccess]
    outside_memories_written: list[InteractionMemory]
    outside_errors: list[AgentError]

    @cached_property
    def llm_calls(self) -> list[LlmInteraction]:
        """Every LLM call of the session, in the order they were made."""
        calls = [c for t in self.turns for c in t.llm_calls] + self.outside_llm_calls
        return sorted(calls, key=lambda c: (c.created_at, c.id))

    def turn_bars(self) -> list[Bar]:
        """Each turn on the session's time line: when it started and how long it took."""
        starts = [(t, _ms(t.execution.started_at)) for t in self.turns]
        timed = [(t, s) for t, s in starts if s is not None]
        if not timed:
            return []
        first = min(s for _, s in timed)
        scale = max([1] + [s - first + t.duration_ms for t, s in timed])
        return [Bar(f"Turn {t.number}", "turn", s - first, t.duration_ms, scale) for t, s in timed]


def _ms(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None


def _end_ms(call: LlmInteraction) -> int:
    return (_ms(call.created_at) or 0) + (call.latency_ms or 0)


def _memory_ids_written(events: list[Event]) -> dict[str, uuid.UUID]:
    """memory id (text) -> the execution whose ``memory.written`` event names it."""
    found: dict[str, uuid.UUID] = {}
    for event in events:
        if event.event_type == "memory.written" and event.agent_execution_id is not None:
            memory_id = (event.payload or {}).get("memory_id")
            if memory_id:
                found[str(memory_id)] = event.agent_execution_id
    return found


def _turn_in_window(turns: list[Turn], moment: datetime) -> Turn | None:
    for turn in turns:
        started = turn.execution.started_at
        ended = turn.execution.completed_at
        if started is None:
            continue
        # A second of slack: the memory row's clock is read a moment after the execution's.
        if started <= moment <= (ended or started) + timedelta(seconds=1):
            return turn
    return None


def load_session_trace(db: DbSession, session_id: uuid.UUID) -> SessionTrace | None:
    """Everything one session's agent did, turn by turn; None when there is no such session."""
    session = db.scalar(
        select(Session)
        .options(joinedload(Session.storyteller), joinedload(Session.agent_version))
        .where(Session.id == session_id)
    )
    if session is None:
        return None
    executions = db.scalars(
        select(AgentExecution)
        .where(AgentExecution.session_id == session_id)
        .order_by(AgentExecution.started_at, AgentExecution.id)
    ).all()
    calls = db.scalars(
        select(LlmInteraction)
        .where(LlmInteraction.session_id == session_id)
        .order_by(LlmInteraction.created_at, LlmInteraction.id)
    ).all()
    events = db.scalars(
        select(Event)
        .where(Event.session_id == session_id)
        .order_by(Event.sequence, Event.timestamp_ms)
    ).all()
    transitions = db.scalars(
        select(StateTransition)
        .join(ModuleState, StateTransition.state_id == ModuleState.id)
        .where(ModuleState.session_id == session_id)
        .order_by(StateTransition.created_at, StateTransition.id)
    ).all()
    reads = db.scalars(
        select(MemoryAccess)
        .join(InteractionMemory, InteractionMemory.id == MemoryAccess.memory_id)
        .options(contains_eager(MemoryAccess.memory))
        .where(MemoryAccess.session_id == session_id)
        .order_by(MemoryAccess.created_at, MemoryAccess.id)
    ).all()
    written = db.scalars(
        select(InteractionMemory)
        .where(InteractionMemory.session_id == session_id)
        .order_by(InteractionMemory.created_at, InteractionMemory.id)
    ).all()
    errors = db.scalars(
        select(AgentError)
        .where(AgentError.session_id == session_id)
        .order_by(AgentError.created_at, AgentError.id)
    ).all()
    return _assemble(session, executions, calls, events, transitions, reads, written, errors)


def _assemble(
    session: Session,
    executions: list[AgentExecution],
    calls: list[LlmInteraction],
    events: list[Event],
    transitions: list[StateTransition],
    reads: list[MemoryAccess],
    written: list[InteractionMemory],
    errors: list[AgentError],
) -> SessionTrace:
    turns = [Turn(number=n, execution=e) for n, e in enumerate(executions, start=1)]
    by_id = {t.execution.id: t for t in turns}
    by_trace = {t.execution.trace_id: t for t in turns}
    by_trigger = {str(t.execution.id): t for t in turns}

    def turn_of(execution_id: uuid.UUID | None, trace_id: uuid.UUID | None = None) -> Turn | None:
        if execution_id is not None and execution_id in by_id:
            return by_id[execution_id]
        return by_trace.get(trace_id) if trace_id is not None else None

    outside: dict[str, list] = defaultdict(list)
    for call in calls:
        turn = turn_of(call.agent_execution_id, call.trace_id)
        (turn.llm_calls if turn else outside["calls"]).append(call)
    for event in events:
        turn = turn_of(event.agent_execution_id)
        (turn.events if turn else outside["events"]).append(event)
    for transition in transitions:
        turn = by_trigger.get(transition.trigger_id or "")
        (turn.transitions if turn else outside["transitions"]).append(transition)
    for read in reads:
        turn = turn_of(read.agent_execution_id)
        (turn.memories_read if turn else outside["reads"]).append(read)
    named = _memory_ids_written(events)
    for memory in written:
        turn = turn_of(named.get(str(memory.id))) or _turn_in_window(turns, memory.created_at)
        (turn.memories_written if turn else outside["written"]).append(memory)
    for error in errors:
        context_trace = (error.context or {}).get("trace_id")
        try:
            trace_id = uuid.UUID(str(context_trace)) if context_trace else None
        except ValueError:
            trace_id = None
        turn = turn_of(error.agent_execution_id, trace_id)
        (turn.errors if turn else outside["errors"]).append(error)
    return SessionTrace(
        session=session,
        turns=turns,
        outside_events=outside["events"],
        outside_llm_calls=outside["calls"],
        outside_transitions=outside["transitions"],
        outside_memories_read=outside["reads"],
        outside_memories_written=outside["written"],
        outside_errors=outside["errors"],
    )


@dataclass(frozen=True)
class TraceLocation:
    session_id: uuid.UUID
    execution_id: uuid.UUID | None


def find_by_trace_id(db: DbSession, trace_id: uuid.UUID) -> TraceLocation | None:
    """The session (and turn, when it has one) of a trace id, or None when nothing has it."""
    execution = db.execute(
        select(AgentExecution.session_id, AgentExecution.id)
        .where(AgentExecution.trace_id == trace_id, AgentExecution.session_id.is_not(None))
        .limit(1)
    ).first()
    if execution is not None:
        return TraceLocation(execution.session_id, execution.id)
    for column in (LlmInteraction, Event):
        session_id = db.scalar(
            select(column.session_id)
            .where(column.trace_id == trace_id, column.session_id.is_not(None))
            .limit(1)
        )
        if session_id is not None:
            return TraceLocation(session_id, None)
    return None


@dataclass(frozen=True)
class RecentSession:
    session: Session
    storyteller_name: str
    turns: int


def recent_sessions(db: DbSession, limit: int = 30) -> list[RecentSession]:
    """The sessions worked on most recently, with their storyteller and number of turns."""
    sessions = db.scalars(
        select(Session)
        .options(joinedload(Session.storyteller))
        .order_by(
            func.coalesce(Session.last_activity_at, Session.started_at, Session.created_at).desc(),
            Session.id,
        )
        .limit(limit)
    ).all()
    counts: dict[uuid.UUID, int] = {}
    if sessions:
        counts = {
            session_id: int(n)
            for session_id, n in db.execute(
                select(AgentExecution.session_id, func.count(AgentExecution.id))
                .where(AgentExecution.session_id.in_([s.id for s in sessions]))
                .group_by(AgentExecution.session_id)
            ).all()
        }
    return [RecentSession(s, s.storyteller.display_name, counts.get(s.id, 0)) for s in sessions]


def session_exists(db: DbSession, session_id: uuid.UUID) -> bool:
    return db.scalar(select(Session.id).where(Session.id == session_id)) is not None
