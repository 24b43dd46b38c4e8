"""What every log line of this request or turn is about: its request id and trace id.

Plain context variables, no Flask: ``storyteller/logging_setup.py`` sets the request id per
HTTP request and puts both ids on every log record. The trace id is the ``trace_id`` of the
agent execution being run: whenever an ``AgentExecution`` is added to a database session
(``interview._begin_execution`` does this at the start of every opening question and turn),
its trace id becomes the current one, so the logs of a turn can be found from its trace and
the other way round, without the interview knowing about logging.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session as DbSession

__all__ = ["current_request_id", "current_trace_id", "set_request_id", "set_trace_id"]

_request_id: ContextVar[str | None] = ContextVar("storyteller_request_id", default=None)
_trace_id: ContextVar[str | None] = ContextVar("storyteller_trace_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def current_trace_id() -> str | None:
    return _trace_id.get()


def set_request_id(value: str | None) -> None:
    _request_id.set(value)


def set_trace_id(value: uuid.UUID | str | None) -> None:
    _trace_id.set(str(value) if value is not None else None)


@event.listens_for(DbSession, "transient_to_pending")
def _agent_execution_added(_session: DbSession, instance: Any) -> None:
    from storyteller.models import AgentExecution

    if isinstance(instance, AgentExecution) and instance.trace_id is not None:
        set_trace_id(instance.trace_id)
