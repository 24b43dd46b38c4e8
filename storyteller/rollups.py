"""Daily rollups of the telemetry rows: llm_usage_daily, usage_daily, performance_daily, and
the daily agent_metric rows, recomputed from the raw rows for any range of UTC dates.

``rollup(db, start, end)`` recomputes every date from ``start`` to ``end`` (both included) and
makes the stored rows equal to what the raw rows say: rows that changed are updated in place,
missing rows inserted, rows whose date no longer has data deleted. Running it twice changes
nothing; running it after raw rows changed (late writes, an erasure) corrects the range.

A date is a UTC calendar day; a row belongs to the day of its timestamp (an LLM call by
``created_at``, a session interaction by ``created_at``, a session by ``started_at``).

Definitions (the dashboards and the tests read them from here):

- An LLM call's agent and agent version are its own columns, else those of its
  agent_execution. A call "failed" when ``success`` is false. A call "fell back" when an
  ``llm.fallback`` event points at it (its answer was not used; the offline interviewer
  carried on). A call is "unpriced" when ``cost`` is NULL (its model has no price): it is
  counted apart and never adds $0 to a cost.
- ``llm_usage_daily``: one row per date x (storyteller, agent, agent version, model); the
  latency and time-to-first-token histograms count calls per bucket of
  ``LATENCY_BUCKETS_MS`` (bucket i holds values in (bound[i-1], bound[i]], one extra last
  bucket holds everything above the last bound); calls without a latency are not counted
  in the histogram nor in ``latency_sum_ms``. A histogram is stored sparse, as
  ``{"<bucket index>": count}`` with only its non-zero buckets (most rows hold a call or
  two, so a dense list would be almost all zeros, and summing those is what a long-range
  dashboard spends its time on).
- ``usage_daily``: one row per date x (storyteller, agent): that day's LLM calls, tokens
  (prompt + response), priced cost, unpriced calls, mean latency (rounded); messages =
  agent prompts + storyteller answers of the session interactions created that day in the
  storyteller's sessions run by the agent (the session's agent); sessions = distinct
  sessions with a call or an interaction that day; unique tools = distinct names in those
  interactions' ``tools_used``.
- ``performance_daily``: one row per date x agent: sessions started that day by the agent
  (successful = now completed, failed = now cancelled), the mean satisfaction (1-5) of those
  rated, 0 when none; from that day's calls: mean latency, tokens and priced cost per
  session that had calls, error rate = failed calls / calls (0 without calls).
- ``agent_metric``: for each date x (agent, agent version) with calls, one row per
  ``DAILY_AGENT_METRICS`` type, timeframe ``daily``, timestamp = the date at 00:00 UTC.

Functions flush, never commit: the caller (``flask rollup``) commits.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, select
from sqlalchemy.orm import Session as DbSession

from storyteller.database import one_of
from storyteller.models import (
    AgentExecution,
    AgentMetric,
    Event,
    LlmInteraction,
    LlmUsageDaily,
    PerformanceDaily,
    Session,
    SessionInteraction,
    UsageDaily,
)
from storyteller.models.agents import LATENCY_BUCKETS_MS

__all__ = [
    "DAILY_AGENT_METRICS",
    "HISTOGRAM_SIZE",
    "LLM_USAGE_DIMENSIONS",
    "LlmUsage",
    "RollupReport",
    "TableCounts",
    "bucket_of",
    "day_bounds",
    "dimension_key",
    "llm_histograms_of_day",
    "llm_usage_of_day",
    "percentile",
    "rollup",
    "sparse_histogram",
]

CENT_MICROS = Decimal("0.000001")
HISTOGRAM_SIZE = len(LATENCY_BUCKETS_MS) + 1
FALLBACK_EVENT = "llm.fallback"
FALLBACK_SLACK_MS = 3_600_000
DAILY_AGENT_METRICS = (
    "llm_calls",
    "llm_error_rate",
    "llm_fallback_rate",
    "llm_avg_latency_ms",
    "llm_tokens",
    "llm_cost",
)
# Rollups must not shift under a long range: it runs a date at a time.
MAX_RANGE_DAYS = 3660


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[00:00 UTC of ``day``, 00:00 UTC of the next day)."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def bucket_of(value_ms: int) -> int:
    """The histogram bucket of a latency (see the module docstring)."""
    for index, bound in enumerate(LATENCY_BUCKETS_MS):
        if value_ms <= bound:
            return index
    return len(LATENCY_BUCKETS_MS)


def sparse_histogram(histogram: Sequence[int]) -> dict[str, int]:
    """A dense histogram (a count per bucket) as stored: {"<bucket index>": count}, the
    non-zero buckets only."""
    return {str(index): count for index, count in enumerate(histogram) if count}


def percentile(histogram: Sequence[int], q: float) -> int | None:
    """The ``q`` quantile (0-1) of a histogram, as the upper bound of the bucket holding it
    (the last, open bucket reports its lower bound); None for an empty histogram."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total - 1e-9))
    running = 0
    for index, count in enumerate(histogram):
        running += count
        if running >= rank:
            return LATENCY_BUCKETS_MS[min(index, len(LATENCY_BUCKETS_MS) - 1)]
    return LATENCY_BUCKETS_MS[-1]


def dimension_key(
    storyteller_id: uuid.UUID | None,
    agent_id: uuid.UUID | None,
    agent_version_id: uuid.UUID | None,
    model: str,
) -> str:
    parts = [str(v) if v else "-" for v in (storyteller_id, agent_id, agent_version_id)]
    return "|".join([*parts, model])


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT_MICROS)


@dataclass
class LlmUsage:
    """One (date, storyteller, agent, version, model) group of LLM calls: a llm_usage_daily
    row before it is stored (also what the dashboards compute for today from raw rows)."""

    date: date
    storyteller_id: uuid.UUID | None
    agent_id: uuid.UUID | None
    agent_version_id: uuid.UUID | None
    model: str
    calls: int = 0
    failed_calls: int = 0
    fallback_calls: int = 0
    prompt_tokens: int = 0
    response_tokens: int = 0
    priced_calls: int = 0
    unpriced_calls: int = 0
    total_cost: Decimal = Decimal("0")
    latency_sum_ms: int = 0
    latency_histogram: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_SIZE)
    ttft_count: int = 0
    ttft_sum_ms: int = 0
    ttft_histogram: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_SIZE)
    session_ids: set[uuid.UUID] = field(default_factory=set)

    @property
    def key(self) -> str:
        return dimension_key(self.storyteller_id, self.agent_id, self.agent_version_id, self.model)

    def values(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "dimension_key": self.key,
            "storyteller_id": self.storyteller_id,
            "agent_id": self.agent_id,
            "agent_version_id": self.agent_version_id,
            "model": self.model,
            "calls": self.calls,
            "failed_calls": self.failed_calls,
            "fallback_calls": self.fallback_calls,
            "prompt_tokens": self.prompt_tokens,
            "response_tokens": self.response_tokens,
            "priced_calls": self.priced_calls,
            "unpriced_calls": self.unpriced_calls,
            "total_cost": self.total_cost,
            "latency_sum_ms": self.latency_sum_ms,
            "latency_histogram": sparse_histogram(self.latency_histogram),
            "ttft_count": self.ttft_count,
            "ttft_sum_ms": self.ttft_sum_ms,
            "ttft_histogram": sparse_histogram(self.ttft_histogram),
        }


def _bucket_expression(column: Any) -> Any:
    whens = [(column <= bound, index) for index, bound in enumerate(LATENCY_BUCKETS_MS)]
    return case(*whens, else_=len(LATENCY_BUCKETS_MS))


LLM_USAGE_DIMENSIONS = ("storyteller", "agent", "agent_version", "model")


@dataclass(frozen=True)
class _DaySelection:
    """What a query of one day's raw llm_interaction rows selects from and groups by."""

    dims: tuple[Any, ...]  # the grouping columns, each labelled with its dimension's name
    per_session: tuple[Any, ...]
    base_from: Any
    in_day: Any

    @property
    def names(self) -> list[str]:
        return [dimension.name for dimension in self.dims]


def _day_selection(day: date, only: str | None) -> _DaySelection:
    if only is not None and only not in (*LLM_USAGE_DIMENSIONS, "day"):
        raise ValueError(f"Unknown dimension {only!r}.")
    llm = LlmInteraction
    start, end = day_bounds(day)
    every_dimension = {
        "storyteller": llm.storyteller_id,
        "agent": func.coalesce(llm.agent_id, AgentExecution.agent_id).label("agent_id"),
        "agent_version": func.coalesce(llm.agent_version_id, AgentExecution.agent_version_id).label(
            "version_id"
        ),
        "model": llm.model,
    }
    if only is None:
        dims: tuple[Any, ...] = tuple(every_dimension.values())
        per_session: tuple[Any, ...] = (llm.session_id,)
    else:
        dims = (every_dimension[only],) if only in every_dimension else ()
        per_session = ()
    base_from = llm.__table__.outerjoin(
        AgentExecution.__table__, AgentExecution.id == llm.agent_execution_id
    )
    in_day = and_(llm.created_at >= start, llm.created_at < end)
    return _DaySelection(dims, per_session, base_from, in_day)


def llm_histograms_of_day(
    db: DbSession,
    day: date,
    *,
    only: str | None = None,
    among: Collection[Any] | None = None,
) -> dict[tuple[Any, ...], tuple[list[int], list[int]]]:
    """The latency and time-to-first-token histograms of the day's LLM calls, from raw rows,
    per group: keyed by the tuple of the group's dimension values (as in ``llm_usage_of_day``;
    the empty tuple when grouped by nothing). ``among`` (with ``only`` one dimension): only
    the groups whose value is one of these (None included), summed in SQL for those alone."""
    selection = _day_selection(day, only)
    condition = selection.in_day
    if among is not None:
        if len(selection.dims) != 1:
            raise ValueError("among needs one dimension to pick groups by.")
        condition = and_(condition, one_of(db, selection.dims[0], among))
    histograms: dict[tuple[Any, ...], tuple[list[int], list[int]]] = {}
    size = len(selection.dims)
    for position, column in enumerate(
        (LlmInteraction.latency_ms, LlmInteraction.time_to_first_token_ms)
    ):
        bucket = _bucket_expression(column).label("bucket")
        rows = db.execute(
            select(*selection.dims, bucket, func.count().label("n"))
            .select_from(selection.base_from)
            .where(condition, column.is_not(None))
            .group_by(*selection.dims, bucket)
        )
        for row in rows:
            key = tuple(row[:size])
            pair = histograms.get(key)
            if pair is None:
                pair = histograms[key] = ([0] * HISTOGRAM_SIZE, [0] * HISTOGRAM_SIZE)
            pair[position][row.bucket] += row.n
    return histograms


def llm_usage_of_day(
    db: DbSession, day: date, *, only: str | None = None, histograms: bool = True
) -> list[LlmUsage]:
    """The day's LLM calls grouped by (storyteller, agent, agent version, model), from raw rows.

    ``only`` (one of ``LLM_USAGE_DIMENSIONS``, or "day"): grouped by that dimension alone (by
    nothing for "day"), the other dimensions None (model "") and ``session_ids`` empty: the
    same figures summed coarser in SQL, what the dashboards read for the current day.
    ``histograms=False``: the counts and sums only (the histograms left empty)."""
    selection = _day_selection(day, only)
    llm = LlmInteraction
    start, _end = day_bounds(day)
    fell_back = (
        select(Event.llm_interaction_id)
        .where(
            Event.event_type == FALLBACK_EVENT,
            Event.llm_interaction_id.is_not(None),
            # Written after its call, so never before the day began (an hour of slack for
            # clocks): the index on timestamp_ms keeps this to the day's events and later.
            Event.timestamp_ms >= int(start.timestamp() * 1000) - FALLBACK_SLACK_MS,
        )
        .distinct()
        .subquery()
    )
    dims, per_session = selection.dims, selection.per_session
    groups: dict[tuple[Any, ...], LlmUsage] = {}
    names = selection.names  # each row begins with these, in order

    def group(key: tuple[Any, ...]) -> LlmUsage:
        usage = groups.get(key)
        if usage is None:
            values = dict(zip(names, key, strict=True))
            usage = groups[key] = LlmUsage(
                day,
                values.get("storyteller_id"),
                values.get("agent_id"),
                values.get("version_id"),
                values.get("model", ""),
            )
        return usage

    main = db.execute(
        select(
            *dims,
            *per_session,
            func.count().label("calls"),
            func.sum(case((llm.success.is_(False), 1), else_=0)).label("failed"),
            func.count(fell_back.c.llm_interaction_id).label("fallbacks"),
            func.coalesce(func.sum(llm.prompt_tokens), 0).label("prompt_tokens"),
            func.coalesce(func.sum(llm.response_tokens), 0).label("response_tokens"),
            func.count(llm.cost).label("priced"),
            func.coalesce(func.sum(llm.cost), 0).label("cost"),
            func.coalesce(func.sum(llm.latency_ms), 0).label("latency_sum"),
            func.count(llm.time_to_first_token_ms).label("ttft_count"),
            func.coalesce(func.sum(llm.time_to_first_token_ms), 0).label("ttft_sum"),
        )
        .select_from(
            selection.base_from.outerjoin(fell_back, fell_back.c.llm_interaction_id == llm.id)
        )
        .where(selection.in_day)
        .group_by(*dims, *per_session)
    )
    for row in main:
        if not row.calls:
            continue  # grouped by nothing ("day"), a day without calls is one row of zeros
        usage = group(tuple(row[: len(names)]))
        usage.calls += row.calls
        usage.failed_calls += int(row.failed or 0)
        usage.fallback_calls += row.fallbacks
        usage.prompt_tokens += int(row.prompt_tokens)
        usage.response_tokens += int(row.response_tokens)
        usage.priced_calls += row.priced
        usage.unpriced_calls += row.calls - row.priced
        usage.total_cost += Decimal(str(row.cost or 0))
        usage.latency_sum_ms += int(row.latency_sum)
        usage.ttft_count += row.ttft_count
        usage.ttft_sum_ms += int(row.ttft_sum)
        if per_session and row.session_id is not None:
            usage.session_ids.add(row.session_id)
    if histograms:
        for key, (latency, ttft) in llm_histograms_of_day(db, day, only=only).items():
            usage = group(key)
            usage.latency_histogram = latency
            usage.ttft_histogram = ttft
    for usage in groups.values():
        usage.total_cost = _money(usage.total_cost)
    return sorted(groups.values(), key=lambda u: u.key)


@dataclass
class TableCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return (
            f"{self.inserted} inserted, {self.updated} updated, {self.deleted} deleted, "
            f"{self.unchanged} unchanged"
        )


@dataclass
class RollupReport:
    start: date
    end: date
    days: int = 0
    tables: dict[str, TableCounts] = field(
        default_factory=lambda: {
            name: TableCounts()
            for name in ("llm_usage_daily", "usage_daily", "performance_daily", "agent_metric")
        }
    )

    @property
    def changed(self) -> int:
        return sum(
            c.inserted + c.updated + c.deleted
            for name, c in self.tables.items()
            if name != "agent_metric"
        )


def _same(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, Decimal) or isinstance(current, Decimal):
        return _money(current) == _money(wanted)
    return current == wanted


def _sync(
    db: DbSession,
    model: Any,
    day: date,
    key_of: Any,
    wanted: dict[Any, dict[str, Any]],
    counts: TableCounts,
) -> None:
    """Make the stored rows of ``model`` for ``day`` equal ``wanted`` (key -> column values)."""
    existing = {key_of(row): row for row in db.scalars(select(model).where(model.date == day))}
    new_rows = []
    for key, values in wanted.items():
        row = existing.pop(key, None)
        if row is None:
            new_rows.append({"id": uuid.uuid4(), **values})
            continue
        changed = False
        for name, value in values.items():
            if not _same(getattr(row, name), value):
                setattr(row, name, value)
                changed = True
        if changed:
            counts.updated += 1
        else:
            counts.unchanged += 1
    if new_rows:
        db.execute(insert(model), new_rows)
        counts.inserted += len(new_rows)
    if existing:
        db.execute(
            delete(model)
            .where(model.id.in_([row.id for row in existing.values()]))
            .execution_options(synchronize_session="fetch")
        )
        counts.deleted += len(existing)


def _usage_daily(
    db: DbSession, day: date, usages: Iterable[LlmUsage]
) -> dict[tuple[uuid.UUID, uuid.UUID], dict[str, Any]]:
    start, end = day_bounds(day)
    acc: dict[tuple[uuid.UUID, uuid.UUID], dict[str, Any]] = defaultdict(
        lambda: {
            "calls": 0,
            "tokens": 0,
            "cost": Decimal("0"),
            "unpriced": 0,
            "latency_sum": 0,
            "latency_n": 0,
            "messages": 0,
            "sessions": set(),
            "tools": set(),
        }
    )
    for u in usages:
        if u.storyteller_id is None or u.agent_id is None:
            continue
        a = acc[(u.storyteller_id, u.agent_id)]
        a["calls"] += u.calls
        a["tokens"] += u.prompt_tokens + u.response_tokens
        a["cost"] += u.total_cost
        a["unpriced"] += u.unpriced_calls
        a["latency_sum"] += u.latency_sum_ms
        a["latency_n"] += sum(u.latency_histogram)
        a["sessions"].update(u.session_ids)
    si = SessionInteraction
    rows = db.execute(
        select(
            Session.storyteller_id,
            Session.agent_id,
            si.session_id,
            si.agent_prompt.is_not(None).label("prompted"),
            si.storyteller_response.is_not(None).label("answered"),
            si.tools_used,
        )
        .join(Session, Session.id == si.session_id)
        .where(si.created_at >= start, si.created_at < end, Session.agent_id.is_not(None))
    )
    for row in rows:
        a = acc[(row.storyteller_id, row.agent_id)]
        a["messages"] += int(bool(row.prompted)) + int(bool(row.answered))
        a["sessions"].add(row.session_id)
        for tool in row.tools_used or ():
            name = tool.get("name") if isinstance(tool, dict) else tool
            if name:
                a["tools"].add(str(name))
    return {
        key: {
            "date": day,
            "storyteller_id": key[0],
            "agent_id": key[1],
            "session_count": len(a["sessions"]),
            "message_count": a["messages"],
            "llm_calls": a["calls"],
            "total_tokens": a["tokens"],
            "total_cost": _money(a["cost"]),
            "unpriced_calls": a["unpriced"],
            "avg_response_time_ms": round(a["latency_sum"] / a["latency_n"])
            if a["latency_n"]
            else 0,
            "unique_tools_used": len(a["tools"]),
        }
        for key, a in acc.items()
    }


def _performance_daily(
    db: DbSession, day: date, usages: Iterable[LlmUsage]
) -> dict[uuid.UUID, dict[str, Any]]:
    start, end = day_bounds(day)
    calls: dict[uuid.UUID, dict[str, Any]] = defaultdict(
        lambda: {
            "calls": 0,
            "failed": 0,
            "tokens": 0,
            "cost": Decimal("0"),
            "latency_sum": 0,
            "latency_n": 0,
            "sessions": set(),
        }
    )
    for u in usages:
        if u.agent_id is None:
            continue
        c = calls[u.agent_id]
        c["calls"] += u.calls
        c["failed"] += u.failed_calls
        c["tokens"] += u.prompt_tokens + u.response_tokens
        c["cost"] += u.total_cost
        c["latency_sum"] += u.latency_sum_ms
        c["latency_n"] += sum(u.latency_histogram)
        c["sessions"].update(u.session_ids)
    started = {
        row.agent_id: row
        for row in db.execute(
            select(
                Session.agent_id,
                func.count().label("total"),
                func.sum(case((Session.status == "completed", 1), else_=0)).label("completed"),
                func.sum(case((Session.status == "cancelled", 1), else_=0)).label("cancelled"),
                func.avg(Session.user_satisfaction).label("satisfaction"),
            )
            .where(
                Session.started_at >= start,
                Session.started_at < end,
                Session.agent_id.is_not(None),
            )
            .group_by(Session.agent_id)
        )
    }
    wanted: dict[uuid.UUID, dict[str, Any]] = {}
    for agent_id in set(calls) | set(started):
        c = calls.get(agent_id)
        s = started.get(agent_id)
        with_calls = len(c["sessions"]) if c else 0
        wanted[agent_id] = {
            "date": day,
            "agent_id": agent_id,
            "total_sessions": s.total if s else 0,
            "successful_sessions": int(s.completed or 0) if s else 0,
            "failed_sessions": int(s.cancelled or 0) if s else 0,
            "user_satisfaction_score": round(float(s.satisfaction), 4)
            if s and s.satisfaction is not None
            else 0.0,
            "avg_response_time_ms": round(c["latency_sum"] / c["latency_n"])
            if c and c["latency_n"]
            else 0,
            "avg_tokens_per_session": round(c["tokens"] / with_calls) if with_calls else 0,
            "avg_cost_per_session": _money(c["cost"] / with_calls) if with_calls else Decimal(0),
            "error_rate": round(c["failed"] / c["calls"], 6) if c and c["calls"] else 0.0,
        }
    return wanted


def _agent_metrics(
    db: DbSession, day: date, usages: Iterable[LlmUsage], counts: TableCounts
) -> None:
    start, end = day_bounds(day)
    removed = db.execute(
        delete(AgentMetric)
        .where(
            AgentMetric.timeframe == "daily",
            AgentMetric.metric_type.in_(DAILY_AGENT_METRICS),
            AgentMetric.timestamp >= start,
            AgentMetric.timestamp < end,
        )
        .execution_options(synchronize_session="fetch")
    )
    counts.deleted += removed.rowcount or 0
    per_version: dict[tuple[uuid.UUID, uuid.UUID | None], list[LlmUsage]] = defaultdict(list)
    for u in usages:
        if u.agent_id is not None:
            per_version[(u.agent_id, u.agent_version_id)].append(u)
    rows = []
    for (agent_id, version_id), group in sorted(per_version.items(), key=lambda i: str(i[0])):
        n = sum(u.calls for u in group)
        latency_n = sum(sum(u.latency_histogram) for u in group)
        unpriced = sum(u.unpriced_calls for u in group)
        figures = {
            "llm_calls": float(n),
            "llm_error_rate": sum(u.failed_calls for u in group) / n,
            "llm_fallback_rate": sum(u.fallback_calls for u in group) / n,
            "llm_avg_latency_ms": sum(u.latency_sum_ms for u in group) / latency_n
            if latency_n
            else None,
            "llm_tokens": float(sum(u.prompt_tokens + u.response_tokens for u in group)),
            "llm_cost": float(sum((u.total_cost for u in group), Decimal(0))),
        }
        for metric_type, value in figures.items():
            if value is None:
                continue
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "agent_id": agent_id,
                    "agent_version_id": version_id,
                    "metric_type": metric_type,
                    "metric_value": value,
                    "timestamp": start,
                    "timeframe": "daily",
                    "metadata_": {"source": "rollup", "date": day.isoformat(), "calls": n}
                    | ({"unpriced_calls": unpriced} if metric_type == "llm_cost" else {}),
                }
            )
    if rows:
        db.execute(insert(AgentMetric), rows)
    counts.inserted += len(rows)


def rollup(db: DbSession, start: date, end: date) -> RollupReport:
    """Recompute every rollup for each UTC date from ``start`` to ``end`` (both included)."""
    if end < start:
        raise ValueError("The end date is before the start date.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValueError(f"At most {MAX_RANGE_DAYS} days can be rolled up at once.")
    db.flush()
    report = RollupReport(start, end)
    day = start
    while day <= end:
        usages = llm_usage_of_day(db, day)
        _sync(
            db,
            LlmUsageDaily,
            day,
            lambda row: row.dimension_key,
            {u.key: u.values() for u in usages},
            report.tables["llm_usage_daily"],
        )
        _sync(
            db,
            UsageDaily,
            day,
            lambda row: (row.storyteller_id, row.agent_id),
            _usage_daily(db, day, usages),
            report.tables["usage_daily"],
        )
        _sync(
            db,
            PerformanceDaily,
            day,
            lambda row: row.agent_id,
            _performance_daily(db, day, usages),
            report.tables["performance_daily"],
        )
        _agent_metrics(db, day, usages, report.tables["agent_metric"])
        report.days += 1
        day += timedelta(days=1)
    db.flush()
    return report
