"""Seed 004's retention periods, applied to operational records only.

Configuration (days, from the environment; seed 004's defaults):

* ``RETENTION_MESSAGES_DAYS`` (183): LLM calls (``llm_interaction``: the messages sent and
  the response) and events (``event`` rows and their payloads), by ``created_at``.
* ``RETENTION_ERRORS_DAYS`` (183): ``agent_error`` rows, by ``created_at``.
* ``RETENTION_SESSIONS_DAYS`` (365): operational session telemetry: ``agent_execution``
  (by when it finished, else started), ``session_metric`` and ``agent_metric`` (by
  ``timestamp``), ``performance_daily`` (by ``date``), ``memory_access`` (the log of the
  agent reading memories; the memory keeps its access count), and sign-in records:
  ``login_session`` (by last use, else creation) and ``login_attempt``.
* ``RETENTION_USAGE_DAYS`` (730): the usage rollups ``usage_daily`` and
  ``llm_usage_daily``, by ``date``.

Never purged by age (only an explicit erasure removes them): sessions, their interactions
(the storyteller's answers, which keep the model, tokens and cost copied from their LLM
call), artifacts and their revisions, book chapters, consent records, memories and their
annotations, documents, photos and recordings, life events, module state (a paused
session resumes from it), the audit log (the record of who saw what) and the mail outbox.

References to purged rows from rows that stay (an answer's ``llm_interaction_id``, an
error's ``agent_execution_id``) are cleared by the database (ON DELETE SET NULL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.sql.elements import ColumnElement

from storyteller.models import Base

DEFAULT_DAYS = {
    "RETENTION_MESSAGES_DAYS": 183,
    "RETENTION_ERRORS_DAYS": 183,
    "RETENTION_SESSIONS_DAYS": 365,
    "RETENTION_USAGE_DAYS": 730,
}


def _t(name: str) -> Table:
    return Base.metadata.tables[name]


def _before(column: str) -> Callable[[Table, datetime], ColumnElement[bool]]:
    return lambda t, cutoff: t.c[column] < cutoff


def _day_before(column: str) -> Callable[[Table, datetime], ColumnElement[bool]]:
    return lambda t, cutoff: t.c[column] < cutoff.date()


def _first_before(*columns: str) -> Callable[[Table, datetime], ColumnElement[bool]]:
    return lambda t, cutoff: func.coalesce(*(t.c[c] for c in columns)) < cutoff


@dataclass(frozen=True)
class Rule:
    table: str
    setting: str
    older: Callable[[Table, datetime], ColumnElement[bool]]
    by: str  # what the age is measured by, for the report


# Children before parents: events and errors point at LLM calls and executions.
RULES: tuple[Rule, ...] = (
    Rule("event", "RETENTION_MESSAGES_DAYS", _before("created_at"), "created_at"),
    Rule("agent_error", "RETENTION_ERRORS_DAYS", _before("created_at"), "created_at"),
    Rule("memory_access", "RETENTION_SESSIONS_DAYS", _before("created_at"), "created_at"),
    Rule("llm_interaction", "RETENTION_MESSAGES_DAYS", _before("created_at"), "created_at"),
    Rule(
        "agent_execution",
        "RETENTION_SESSIONS_DAYS",
        _first_before("completed_at", "started_at"),
        "completed_at, else started_at",
    ),
    Rule("session_metric", "RETENTION_SESSIONS_DAYS", _before("timestamp"), "timestamp"),
    Rule("agent_metric", "RETENTION_SESSIONS_DAYS", _before("timestamp"), "timestamp"),
    Rule("performance_daily", "RETENTION_SESSIONS_DAYS", _day_before("date"), "date"),
    Rule(
        "login_session",
        "RETENTION_SESSIONS_DAYS",
        _first_before("last_seen_at", "created_at"),
        "last_seen_at, else created_at",
    ),
    Rule("login_attempt", "RETENTION_SESSIONS_DAYS", _before("created_at"), "created_at"),
    Rule("usage_daily", "RETENTION_USAGE_DAYS", _day_before("date"), "date"),
    Rule("llm_usage_daily", "RETENTION_USAGE_DAYS", _day_before("date"), "date"),
)

NEVER_PURGED = (
    "session",
    "session_interaction",
    "session_artifact",
    "artifact_revision",
    "book_chapter",
    "chapter_revision",
    "consent_record",
    "interaction_memory",
    "memory_annotation",
    "document",
    "audio_recording",
    "audio_chunk",
    "life_event",
    "module_state",
    "audit_log",
)


@dataclass(frozen=True)
class Line:
    table: str
    setting: str
    days: int
    cutoff: datetime
    by: str
    rows: int


def periods(config: Mapping[str, Any]) -> dict[str, int]:
    """The configured period of each setting; ValueError when one is not a positive number."""
    result = {}
    for name, default in DEFAULT_DAYS.items():
        value = config.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a whole number of days, 1 or more (got {value!r}).")
        result[name] = value
    return result


def _cutoffs(now: datetime, days: Mapping[str, int]) -> dict[str, datetime]:
    return {name: now - timedelta(days=value) for name, value in days.items()}


def plan(db: DbSession, now: datetime, days: Mapping[str, int]) -> list[Line]:
    """What applying would delete: rows per table older than its period (nothing deleted)."""
    cutoffs = _cutoffs(now, days)
    lines = []
    for rule in RULES:
        t = _t(rule.table)
        cutoff = cutoffs[rule.setting]
        count = db.scalar(select(func.count()).select_from(t).where(rule.older(t, cutoff))) or 0
        lines.append(Line(rule.table, rule.setting, days[rule.setting], cutoff, rule.by, count))
    return lines


def apply(db: DbSession, now: datetime, days: Mapping[str, int]) -> list[Line]:
    """Delete what ``plan`` lists, in one transaction (the caller commits)."""
    cutoffs = _cutoffs(now, days)
    lines = []
    for rule in RULES:
        t = _t(rule.table)
        cutoff = cutoffs[rule.setting]
        result = db.execute(delete(t).where(rule.older(t, cutoff)))
        lines.append(
            Line(rule.table, rule.setting, days[rule.setting], cutoff, rule.by, result.rowcount)
        )
    db.expire_all()
    return lines
