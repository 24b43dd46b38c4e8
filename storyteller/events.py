"""The event log (seed 002 Event + seed 000 SessionEvent): one row per thing that happened.

Events of one session are numbered 1, 2, 3, ... in ``sequence`` (UNIQUE per session); events
without a session have no sequence. ``timestamp_ms`` is epoch milliseconds (UTC).

Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from storyteller.models import Event, utcnow

__all__ = [
    "EVENT_TYPE_MAX_LENGTH",
    "EventBatch",
    "epoch_ms",
    "next_event_sequence",
    "record_event",
]

EVENT_TYPE_MAX_LENGTH = 100
# Two writers may pick the same next sequence for one session; the UNIQUE(session_id,
# sequence) constraint refuses the second, which then retries with a fresh number.
_SEQUENCE_ATTEMPTS = 5


def epoch_ms() -> int:
    """Now, as integer milliseconds since the Unix epoch (UTC)."""
    return int(utcnow().timestamp() * 1000)


def next_event_sequence(db: DbSession, session_id: uuid.UUID) -> int:
    """The sequence number the next event of this session gets: the highest so far + 1."""
    highest = db.scalar(
        select(func.coalesce(func.max(Event.sequence), 0)).where(Event.session_id == session_id)
    )
    return int(highest or 0) + 1


def _checked_type(event_type: str, duration_ms: int | None) -> str:
    event_type = (event_type or "").strip()
    if not event_type:
        raise ValueError("event_type must not be empty")
    if len(event_type) > EVENT_TYPE_MAX_LENGTH:
        raise ValueError(f"event_type is longer than {EVENT_TYPE_MAX_LENGTH} characters")
    if duration_ms is not None and duration_ms < 0:
        raise ValueError("duration_ms must not be negative")
    return event_type


def _new_event(
    *,
    event_type: str,
    session_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    trace_id: uuid.UUID | None,
    payload: dict[str, Any] | None,
    duration_ms: int | None,
    agent_execution_id: uuid.UUID | None,
    llm_interaction_id: uuid.UUID | None,
) -> Event:
    return Event(
        event_type=_checked_type(event_type, duration_ms),
        session_id=session_id,
        user_id=user_id,
        trace_id=trace_id,
        payload=dict(payload or {}),
        duration_ms=duration_ms,
        agent_execution_id=agent_execution_id,
        llm_interaction_id=llm_interaction_id,
        timestamp_ms=epoch_ms(),
        created_at=utcnow(),
    )


class EventBatch:
    """The events of one unit of work on one session, written together by ``write()``.

    ``add`` only builds the event (its time is the time of ``add``); ``write`` numbers the
    batch after the session's highest sequence with one query and inserts it with one
    flush. If another writer took those numbers meanwhile, the batch is renumbered and
    written again (the same UNIQUE(session_id, sequence) guard as ``record_event``).
    """

    def __init__(self, db: DbSession, session_id: uuid.UUID) -> None:
        self.db = db
        self.session_id = session_id
        self.pending: list[Event] = []
        self._next: int | None = None  # known after a write: the batch's last number + 1

    def add(
        self,
        *,
        event_type: str,
        user_id: uuid.UUID | None = None,
        trace_id: uuid.UUID | None = None,
        payload: dict[str, Any] | None = None,
        duration_ms: int | None = None,
        agent_execution_id: uuid.UUID | None = None,
        llm_interaction_id: uuid.UUID | None = None,
    ) -> Event:
        event = _new_event(
            event_type=event_type,
            session_id=self.session_id,
            user_id=user_id,
            trace_id=trace_id,
            payload=payload,
            duration_ms=duration_ms,
            agent_execution_id=agent_execution_id,
            llm_interaction_id=llm_interaction_id,
        )
        self.pending.append(event)
        return event

    def write(self) -> list[Event]:
        batch, self.pending = self.pending, []
        if not batch:
            return batch
        self.db.flush()  # everything else first: only the events are inside the savepoint
        for attempt in range(_SEQUENCE_ATTEMPTS):
            # A second write of the same batch object continues its numbering without asking
            # the database; a conflict (another writer) makes it ask again.
            first = self._next if self._next is not None else None
            self._next = None
            if first is None:
                first = next_event_sequence(self.db, self.session_id)
            for offset, event in enumerate(batch):
                event.sequence = first + offset
            try:
                with self.db.begin_nested():
                    self.db.add_all(batch)
            except IntegrityError:
                if attempt == _SEQUENCE_ATTEMPTS - 1:
                    raise
                continue
            self._next = first + len(batch)
            return batch
        raise AssertionError("unreachable")  # pragma: no cover


def record_event(
    db: DbSession,
    *,
    event_type: str,
    session_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    trace_id: uuid.UUID | None = None,
    payload: dict[str, Any] | None = None,
    duration_ms: int | None = None,
    agent_execution_id: uuid.UUID | None = None,
    llm_interaction_id: uuid.UUID | None = None,
) -> Event:
    """Add one event (numbered within its session, if any) and flush it."""
    fields = {
        "event_type": event_type,
        "user_id": user_id,
        "trace_id": trace_id,
        "payload": payload,
        "duration_ms": duration_ms,
        "agent_execution_id": agent_execution_id,
        "llm_interaction_id": llm_interaction_id,
    }
    if session_id is None:
        event = _new_event(session_id=None, **fields)
        db.add(event)
        db.flush()
        return event
    batch = EventBatch(db, session_id)
    event = batch.add(**fields)
    batch.write()
    return event
