"""Agent errors (seed 004 AgentOSError): filtering, resolving with a note, counts per day.

Functions take a SQLAlchemy session, flush and never commit; filter values come in as text
(from a query string) and are checked by ``parse_filters``, which raises FormInputError with
every mistake at once.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session as DbSession

from storyteller.day_input import parse_day
from storyteller.form_errors import FormInputError
from storyteller.models import Agent, AgentError, AgentExecution, Storyteller, utcnow

RESOLVED_CHOICES = {"": None, "all": None, "unresolved": False, "resolved": True}
MAX_CHART_DAYS = 366
DEFAULT_CHART_DAYS = 30
NOTE_MAX_LENGTH = 2000


@dataclass(frozen=True)
class ErrorFilters:
    error_type: str | None = None
    agent_id: uuid.UUID | None = None
    storyteller_id: uuid.UUID | None = None
    resolved: bool | None = None
    start: date | None = None
    end: date | None = None

    def query_args(self) -> dict[str, str]:
        """The filters as query-string values (for links that keep them)."""
        args = {
            "type": self.error_type or "",
            "agent": str(self.agent_id or ""),
            "storyteller": str(self.storyteller_id or ""),
            "status": {None: "", False: "unresolved", True: "resolved"}[self.resolved],
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
        }
        return {k: v for k, v in args.items() if v}


def _uuid(raw: str, name: str, label: str, errors: dict[str, str]) -> uuid.UUID | None:
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        errors[name] = f"{label} is not a valid id."
        return None


def _date(raw: str, name: str, label: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return parse_day(raw, label)
    except ValueError as exc:
        errors[name] = str(exc)
        return None


def parse_filters(args: Mapping[str, str]) -> ErrorFilters:
    """Filters from a query string; FormInputError (field -> message) when any is wrong."""
    errors: dict[str, str] = {}
    error_type = (args.get("type") or "").strip() or None
    if error_type and len(error_type) > 100:
        errors["type"] = "The error type is at most 100 characters."
    agent_id = _uuid((args.get("agent") or "").strip(), "agent", "The agent", errors)
    storyteller_id = _uuid(
        (args.get("storyteller") or "").strip(), "storyteller", "The storyteller", errors
    )
    status = (args.get("status") or "").strip()
    if status not in RESOLVED_CHOICES:
        errors["status"] = "Status must be all, unresolved or resolved."
    start = _date((args.get("from") or "").strip(), "from", "first", errors)
    end = _date((args.get("to") or "").strip(), "to", "last", errors)
    if start and end and start > end:
        errors["to"] = "The last day must not be before the first day."
    if errors:
        raise FormInputError(errors)
    return ErrorFilters(
        error_type=error_type,
        agent_id=agent_id,
        storyteller_id=storyteller_id,
        resolved=RESOLVED_CHOICES.get(status),
        start=start,
        end=end,
    )


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _apply(query: Select[Any], filters: ErrorFilters) -> Select[Any]:
    if filters.error_type:
        query = query.where(AgentError.error_type == filters.error_type)
    if filters.agent_id:
        query = query.where(AgentError.agent_id == filters.agent_id)
    if filters.storyteller_id:
        query = query.where(AgentError.storyteller_id == filters.storyteller_id)
    if filters.resolved is not None:
        query = query.where(AgentError.is_resolved.is_(filters.resolved))
    if filters.start:
        query = query.where(AgentError.created_at >= _day_start(filters.start))
    if filters.end:
        query = query.where(AgentError.created_at < _day_start(filters.end + timedelta(days=1)))
    return query


@dataclass(frozen=True)
class ErrorRow:
    error: AgentError
    agent_name: str | None
    storyteller_name: str | None
    trace_id: uuid.UUID | None


def _trace_id_of(error: AgentError, execution_trace: uuid.UUID | None) -> uuid.UUID | None:
    if execution_trace is not None:
        return execution_trace
    raw = (error.context or {}).get("trace_id")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


def _rows(db: DbSession, query: Select[Any]) -> list[ErrorRow]:
    rows = db.execute(
        query.add_columns(Agent.name, Storyteller.display_name, AgentExecution.trace_id)
        .outerjoin(Agent, Agent.id == AgentError.agent_id)
        .outerjoin(Storyteller, Storyteller.id == AgentError.storyteller_id)
        .outerjoin(AgentExecution, AgentExecution.id == AgentError.agent_execution_id)
    ).all()
    return [ErrorRow(e, agent, teller, _trace_id_of(e, trace)) for e, agent, teller, trace in rows]


def list_errors(
    db: DbSession, filters: ErrorFilters, *, page: int = 1, page_size: int = 50
) -> tuple[list[ErrorRow], int]:
    """One page of errors matching the filters, newest first, and how many match in all."""
    total = db.scalar(_apply(select(func.count(AgentError.id)), filters)) or 0
    query = (
        _apply(select(AgentError), filters)
        .order_by(AgentError.created_at.desc(), AgentError.id)
        .limit(page_size)
        .offset((max(1, page) - 1) * page_size)
    )
    return _rows(db, query), int(total)


def error_row(db: DbSession, error_id: uuid.UUID) -> ErrorRow | None:
    found = _rows(db, select(AgentError).where(AgentError.id == error_id))
    return found[0] if found else None


def resolve(db: DbSession, error: AgentError, *, user_id: uuid.UUID, note: str) -> AgentError:
    """Mark an error resolved with a note saying what was done; the note is required."""
    note = (note or "").strip()
    if not note:
        raise FormInputError("note", "Please write a short note on what was done about it.")
    if len(note) > NOTE_MAX_LENGTH:
        raise FormInputError("note", f"The note is at most {NOTE_MAX_LENGTH} characters.")
    if error.is_resolved:
        raise FormInputError("note", "This error was already marked resolved.")
    error.is_resolved = True
    error.resolved_at = utcnow()
    error.resolved_by_id = user_id
    error.resolution_note = note
    db.flush()
    return error


@dataclass(frozen=True)
class FilterChoices:
    error_types: list[str]
    agents: list[tuple[uuid.UUID, str]]
    storytellers: list[tuple[uuid.UUID, str]]


def filter_choices(db: DbSession) -> FilterChoices:
    """The values the filter form offers: the error types, agents and storytellers that occur."""
    types = db.scalars(
        select(AgentError.error_type).distinct().order_by(AgentError.error_type)
    ).all()
    agents = db.execute(
        select(Agent.id, Agent.name)
        .where(Agent.id.in_(select(AgentError.agent_id).where(AgentError.agent_id.is_not(None))))
        .order_by(Agent.name)
    ).all()
    storytellers = db.execute(
        select(Storyteller.id, Storyteller.display_name)
        .where(
            Storyteller.id.in_(
                select(AgentError.storyteller_id).where(AgentError.storyteller_id.is_not(None))
            )
        )
        .order_by(Storyteller.display_name)
    ).all()
    return FilterChoices(
        list(types), [(a, n) for a, n in agents], [(s, n) for s, n in storytellers]
    )


# ----------------------------------------------------------------------------- counts per day


@dataclass
class DailyCounts:
    """Errors per type per day: ``counts[error_type][i]`` is the count on ``days[i]``."""

    days: list[date]
    counts: dict[str, list[int]] = field(default_factory=dict)

    @property
    def types(self) -> list[str]:
        return sorted(self.counts)

    def total(self, error_type: str) -> int:
        return sum(self.counts.get(error_type, []))

    def day_totals(self) -> list[int]:
        return [sum(c[i] for c in self.counts.values()) for i in range(len(self.days))]

    def chart_data(self) -> dict[str, Any]:
        return {
            "labels": [d.isoformat() for d in self.days],
            "series": [{"label": t, "values": self.counts[t]} for t in self.types],
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["date", "error_type", "count"])
        for i, day in enumerate(self.days):
            for error_type in self.types:
                writer.writerow([day.isoformat(), error_type, self.counts[error_type][i]])
        return out.getvalue()


def chart_range(filters: ErrorFilters, today: date | None = None) -> tuple[date, date]:
    """The chart's days: the filter's range, else the last 30 days; at most a year."""
    today = today or utcnow().date()
    end = filters.end or today
    start = filters.start or end - timedelta(days=DEFAULT_CHART_DAYS - 1)
    if (end - start).days + 1 > MAX_CHART_DAYS:
        raise FormInputError("from", f"The chart shows at most {MAX_CHART_DAYS} days at once.")
    return start, end


def _day_expression(db: DbSession) -> Any:
    """created_at as its UTC calendar day, on either database."""
    if db.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", AgentError.created_at))
    return func.date(AgentError.created_at)  # SQLite keeps naive UTC text


def counts_per_day(db: DbSession, filters: ErrorFilters, start: date, end: date) -> DailyCounts:
    """How many errors of each type on each day from start to end (UTC days, inclusive)."""
    day = _day_expression(db)
    ranged = ErrorFilters(
        error_type=filters.error_type,
        agent_id=filters.agent_id,
        storyteller_id=filters.storyteller_id,
        resolved=filters.resolved,
        start=start,
        end=end,
    )
    rows = db.execute(
        _apply(select(day, AgentError.error_type, func.count(AgentError.id)), ranged).group_by(
            day, AgentError.error_type
        )
    ).all()
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    index = {d: i for i, d in enumerate(days)}
    result = DailyCounts(days=days)
    for raw_day, error_type, count in rows:
        when = raw_day if isinstance(raw_day, date) else date.fromisoformat(str(raw_day)[:10])
        series = result.counts.setdefault(error_type, [0] * len(days))
        if when in index:
            series[index[when]] += int(count)
    return result
