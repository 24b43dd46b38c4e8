"""The admin dashboards' figures: LLM usage and sessions over a range of UTC dates.

LLM usage: full past days come from ``llm_usage_daily`` (written by ``flask rollup``); the
current UTC day is computed from the raw llm_interaction rows with the same code the rollup
uses (``rollups.llm_usage_of_day``), and the two are merged. Definitions of calls, failed
calls, fallbacks and unpriced calls: see ``storyteller.rollups``. Cost is the sum over
priced calls; unpriced calls are counted apart and never add $0. Percentiles come from the
latency histograms (to within one bucket of ``LATENCY_BUCKETS_MS``).

Sessions (read from the session rows; each figure dated by its own moment):
- scheduled: sessions whose ``scheduled_at`` falls in the range;
- started: sessions whose ``started_at`` falls in the range;
- completed: sessions now completed whose ``ended_at`` falls in the range;
- abandoned: started in the range, not completed nor cancelled (running or paused), and no
  activity (``last_activity_at``, else ``started_at``) for ``abandoned_after_days`` days;
- average duration (active minutes), quality score and satisfaction (1-5, of those rated):
  over the completed sessions; completion percentage and artifacts created / approved per
  session: over the started sessions.
"""

from __future__ import annotations

import operator
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from sqlalchemy import Uuid, any_, bindparam, case, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session as DbSession

from storyteller import rollups
from storyteller.models import (
    Agent,
    AgentVersion,
    LlmUsageDaily,
    Session,
    SessionArtifact,
    Storyteller,
    utcnow,
)

__all__ = [
    "LLM_GROUPS",
    "SESSION_GROUPS",
    "LlmUsageReport",
    "SessionReport",
    "by_column",
    "llm_usage",
    "sessions",
]

LLM_GROUPS = {
    "day": "Day",
    "model": "Model",
    "agent": "Agent",
    "agent_version": "Agent version",
    "storyteller": "Storyteller",
}
SESSION_GROUPS = {"day": "Day", "agent_version": "Agent version"}
NONE_LABELS = {
    "storyteller": "(no storyteller)",
    "agent": "(no agent)",
    "agent_version": "(no version)",
}
RUNNING_STATUSES = ("in_progress", "paused")
SHOWN_GROUPS = 30


def _zero_histogram() -> list[int]:
    return [0] * rollups.HISTOGRAM_SIZE


def _added(mine: list[int], theirs: Any) -> list[int]:
    """``mine`` plus a histogram, dense (a count per bucket) or sparse ({"<bucket>": count})."""
    if isinstance(theirs, list) and len(theirs) == len(mine):
        return list(map(operator.add, mine, theirs))
    entries = theirs.items() if isinstance(theirs, dict) else enumerate(theirs or ())
    for index, count in entries:
        mine[int(index)] += count
    return mine


_ROW_COUNTS = (
    "calls",
    "failed_calls",
    "fallback_calls",
    "prompt_tokens",
    "response_tokens",
    "priced_calls",
    "unpriced_calls",
    "latency_sum_ms",
)


@dataclass
class LlmUsageRow:
    key: str
    label: str = ""
    calls: int = 0
    failed_calls: int = 0
    fallback_calls: int = 0
    prompt_tokens: int = 0
    response_tokens: int = 0
    priced_calls: int = 0
    unpriced_calls: int = 0
    cost: Decimal = Decimal("0")
    latency_sum_ms: int = 0
    latency_histogram: list[int] = field(default_factory=_zero_histogram)
    ttft_histogram: list[int] = field(default_factory=_zero_histogram)

    def add(self, values: dict[str, Any] | Any) -> None:
        get = values.get if isinstance(values, dict) else lambda name: getattr(values, name)
        self.calls += get("calls")
        self.failed_calls += get("failed_calls")
        self.fallback_calls += get("fallback_calls")
        self.prompt_tokens += get("prompt_tokens")
        self.response_tokens += get("response_tokens")
        self.priced_calls += get("priced_calls")
        self.unpriced_calls += get("unpriced_calls")
        cost = get("total_cost") or 0
        self.cost += cost if isinstance(cost, Decimal) else Decimal(str(cost))
        self.latency_sum_ms += get("latency_sum_ms")
        self.latency_histogram = _added(self.latency_histogram, get("latency_histogram"))
        self.ttft_histogram = _added(self.ttft_histogram, get("ttft_histogram"))

    @classmethod
    def summed(cls, key: str, label: str, rows: list[LlmUsageRow]) -> LlmUsageRow:
        """One row adding up ``rows`` (column by column: a thousand groups add up quickly)."""
        total = cls(key=key, label=label)
        for name in _ROW_COUNTS:
            setattr(total, name, sum(getattr(row, name) for row in rows))
        total.cost = sum((row.cost for row in rows), Decimal("0"))
        if rows:
            total.latency_histogram = [
                sum(c) for c in zip(*(r.latency_histogram for r in rows), strict=True)
            ]
            total.ttft_histogram = [
                sum(c) for c in zip(*(r.ttft_histogram for r in rows), strict=True)
            ]
        return total

    def as_values(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "failed_calls": self.failed_calls,
            "fallback_calls": self.fallback_calls,
            "prompt_tokens": self.prompt_tokens,
            "response_tokens": self.response_tokens,
            "priced_calls": self.priced_calls,
            "unpriced_calls": self.unpriced_calls,
            "total_cost": self.cost,
            "latency_sum_ms": self.latency_sum_ms,
            "latency_histogram": self.latency_histogram,
            "ttft_histogram": self.ttft_histogram,
        }

    @property
    def error_rate(self) -> float | None:
        return self.failed_calls / self.calls if self.calls else None

    @property
    def fallback_rate(self) -> float | None:
        return self.fallback_calls / self.calls if self.calls else None

    @property
    def latency_p50(self) -> int | None:
        return rollups.percentile(self.latency_histogram, 0.5)

    @property
    def latency_p95(self) -> int | None:
        return rollups.percentile(self.latency_histogram, 0.95)

    @property
    def ttft_p50(self) -> int | None:
        return rollups.percentile(self.ttft_histogram, 0.5)

    @property
    def ttft_p95(self) -> int | None:
        return rollups.percentile(self.ttft_histogram, 0.95)

    @property
    def cost_display(self) -> Decimal | None:
        """The cost of the priced calls; None when every call was unpriced (never $0)."""
        return self.cost.quantize(Decimal("0.0001")) if self.priced_calls else None


@dataclass
class LlmUsageReport:
    start: date
    end: date
    group_by: str
    rows: list[LlmUsageRow]
    total: LlmUsageRow
    today: date
    rolled_up_through: date | None  # the latest date with rollup rows (None: never run)

    @property
    def reads_raw_today(self) -> bool:
        return self.start <= self.today <= self.end

    @property
    def hidden_count(self) -> int:
        """How many groups the page sums into one "others" row (the CSV has every one)."""
        if self.group_by == "day" or len(self.rows) <= SHOWN_GROUPS:
            return 0
        return len(self.rows) - SHOWN_GROUPS + 1

    @cached_property
    def shown_rows(self) -> list[LlmUsageRow]:
        """The rows the page shows: every day; otherwise the groups with most calls, the rest
        summed in one last row (a chart of a thousand storytellers is read by nobody)."""
        hidden = self.hidden_count
        if not hidden:
            return self.rows
        kept = self.rows[: len(self.rows) - hidden]
        others = LlmUsageRow.summed("others", f"The other {hidden}", self.rows[len(kept) :])
        return [*kept, others]


def _utc_today() -> date:
    return utcnow().date()


_DIMENSION_COLUMNS = {
    "model": "model",
    "agent": "agent_id",
    "agent_version": "agent_version_id",
    "storyteller": "storyteller_id",
}


def _dimension(group_by: str, values: Any) -> Any:
    get = values.get if isinstance(values, dict) else lambda name: getattr(values, name)
    if isinstance(values, dict) and "dimension" in values:
        return values["dimension"]
    if group_by == "day":
        return get("date")
    return get(_DIMENSION_COLUMNS[group_by])


_SUMMED = (
    "calls",
    "failed_calls",
    "fallback_calls",
    "prompt_tokens",
    "response_tokens",
    "priced_calls",
    "unpriced_calls",
    "total_cost",
    "latency_sum_ms",
)


class _HistogramCache:
    """The summed histograms of recent (database, range, grouping) reads, each kept with the
    fingerprint of the rollup rows it was summed from: per group, the number of rows, their
    latest ``updated_at`` and the sums of calls and latencies. The fingerprint comes with the
    counts query every read runs anyway, so a reused entry is one whose rows have not changed
    (``flask rollup`` updates ``updated_at`` of every row it rewrites, deleted or inserted rows
    change the count); any change and the histograms are summed again. Each app process keeps
    its own few entries: nothing is shared, nothing can go stale."""

    SIZE = 32

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[Any, ...], tuple[Any, dict[Any, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], fingerprint: Any) -> dict[Any, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != fingerprint:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: tuple[Any, ...], fingerprint: Any, histograms: dict[Any, Any]) -> None:
        with self._lock:
            self._entries[key] = (fingerprint, histograms)
            self._entries.move_to_end(key)
            while len(self._entries) > self.SIZE:
                self._entries.popitem(last=False)


_histogram_cache = _HistogramCache()


def _stored_usage(db: DbSession, start: date, end: date, group_by: str) -> list[dict[str, Any]]:
    """The rollup rows of [start, end] summed per group in SQL: the counts and sums, then the
    histograms (unless their rows are unchanged since the last read, see _HistogramCache),
    bucket by bucket, each read by its key from the stored sparse object (a missing key is 0),
    so no JSON is decoded in Python. Measured on PostgreSQL (bench/operator_dashboards.py)
    faster than expanding each row's entries (jsonb_each) and grouping by bucket. A stored
    histogram that is not an object (a dense list, as written before histograms were sparse)
    counts as empty; ``flask rollup`` over its dates rewrites it."""
    u = LlmUsageDaily
    dimension = u.date if group_by == "day" else getattr(u, _DIMENSION_COLUMNS[group_by])
    in_range = (u.date >= start) & (u.date <= end)
    sums = [func.sum(getattr(u, name)).label(name) for name in _SUMMED]
    fingerprint_columns = [
        func.count().label("row_count"),
        func.max(u.updated_at).label("last_updated"),
        func.sum(u.ttft_sum_ms).label("ttft_sum_ms"),
    ]
    query = select(dimension.label("dimension"), *sums, *fingerprint_columns)
    groups: dict[Any, dict[str, Any]] = {}
    fingerprint = {}
    for row in db.execute(query.where(in_range).group_by(dimension)):
        values = {name: int(getattr(row, name) or 0) for name in _SUMMED if name != "total_cost"}
        values["total_cost"] = row.total_cost or 0
        values["dimension"] = row.dimension
        groups[row.dimension] = values
        fingerprint[row.dimension] = (
            row.row_count,
            row.last_updated,
            values["calls"],
            values["latency_sum_ms"],
            row.ttft_sum_ms,
        )
    key = (str(db.get_bind().engine.url), start, end, group_by)
    histograms = _histogram_cache.get(key, fingerprint)
    if histograms is None:
        buckets = [
            func.sum(column[str(index)].as_integer()).label(f"{prefix}{index}")
            for prefix, column in (("l", u.latency_histogram), ("t", u.ttft_histogram))
            for index in range(rollups.HISTOGRAM_SIZE)
        ]
        histograms = {}
        for row in db.execute(
            select(dimension.label("dimension"), *buckets).where(in_range).group_by(dimension)
        ):
            histograms[row.dimension] = (
                [int(getattr(row, f"l{i}") or 0) for i in range(rollups.HISTOGRAM_SIZE)],
                [int(getattr(row, f"t{i}") or 0) for i in range(rollups.HISTOGRAM_SIZE)],
            )
        _histogram_cache.put(key, fingerprint, histograms)
    for dimension_value, values in groups.items():
        latency, ttft = histograms.get(dimension_value, (_zero_histogram(), _zero_histogram()))
        values["latency_histogram"] = list(latency)
        values["ttft_histogram"] = list(ttft)
    return list(groups.values())


def llm_usage(
    db: DbSession, start: date, end: date, group_by: str, *, today: date | None = None
) -> LlmUsageReport:
    """LLM calls from ``start`` to ``end`` (UTC dates, both included) grouped by ``group_by``."""
    if group_by not in LLM_GROUPS:
        raise ValueError(f"Unknown grouping {group_by!r}.")
    today = today or _utc_today()
    groups: dict[Any, LlmUsageRow] = {}

    def add(values: Any) -> None:
        key = _dimension(group_by, values)
        if key not in groups:
            groups[key] = LlmUsageRow(key=str(key) if key is not None else "")
        groups[key].add(values)

    last_stored = min(end, today - timedelta(days=1))
    if start <= last_stored:
        for values in _stored_usage(db, start, last_stored, group_by):
            add(values)
    if start <= today <= end:
        for usage in rollups.llm_usage_of_day(db, today, only=group_by):
            values = usage.values()
            add(values)
    if group_by == "day":
        day = start
        while day <= min(end, today):
            groups.setdefault(day, LlmUsageRow(key=day.isoformat()))
            day += timedelta(days=1)
    rows = _labelled(db, group_by, groups)
    total = LlmUsageRow.summed("total", "All", rows)
    rolled_up_through = db.scalar(select(func.max(LlmUsageDaily.date)))
    return LlmUsageReport(start, end, group_by, rows, total, today, rolled_up_through)


def _labelled(db: DbSession, group_by: str, groups: dict[Any, LlmUsageRow]) -> list[LlmUsageRow]:
    labels = _labels(db, group_by, [k for k in groups if k is not None])
    for key, row in groups.items():
        if group_by == "day":
            row.label = key.isoformat()
        elif key is None:
            row.label = NONE_LABELS.get(group_by, "(none)")
        else:
            row.label = labels.get(key, str(key))
    if group_by == "day":
        return sorted(groups.values(), key=lambda r: r.key)
    return sorted(groups.values(), key=lambda r: (-r.calls, r.label))


def _among(db: DbSession, column: Any, ids: list[uuid.UUID]) -> Any:
    """``column IN ids``; on PostgreSQL as ``= ANY(<one array parameter>)``: a thousand ids
    as a thousand parameters cost more to send and parse than the lookup itself."""
    if db.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("ids", ids, type_=postgresql.ARRAY(Uuid())))
    return column.in_(ids)


def _labels(db: DbSession, group_by: str, keys: Iterable[Any]) -> dict[Any, str]:
    ids = [k for k in keys if isinstance(k, uuid.UUID)]
    if group_by == "storyteller" and ids:
        query = select(Storyteller.id, Storyteller.display_name).where(
            _among(db, Storyteller.id, ids)
        )
        return {row.id: row.display_name for row in db.execute(query)}
    if group_by == "agent" and ids:
        query = select(Agent.id, Agent.name).where(Agent.id.in_(ids))
        return {row.id: row.name for row in db.execute(query)}
    if group_by == "agent_version" and ids:
        return {
            row.id: f"{row.name} v{row.version_number}"
            for row in db.execute(
                select(AgentVersion.id, AgentVersion.version_number, Agent.name)
                .join(Agent, Agent.id == AgentVersion.agent_id)
                .where(AgentVersion.id.in_(ids))
            )
        }
    return {}


# ------------------------------------------------------------------------------ sessions


@dataclass
class SessionRow:
    key: str
    label: str = ""
    scheduled: int = 0
    started: int = 0
    completed: int = 0
    abandoned: int = 0
    duration_sum: float = 0.0
    duration_n: int = 0
    completion_sum: float = 0.0
    completion_n: int = 0
    quality_sum: float = 0.0
    quality_n: int = 0
    satisfaction_sum: float = 0.0
    satisfaction_n: int = 0
    artifacts_created: int = 0
    artifacts_approved: int = 0

    def merge(self, other: SessionRow) -> None:
        for name in (
            "scheduled",
            "started",
            "completed",
            "abandoned",
            "duration_sum",
            "duration_n",
            "completion_sum",
            "completion_n",
            "quality_sum",
            "quality_n",
            "satisfaction_sum",
            "satisfaction_n",
            "artifacts_created",
            "artifacts_approved",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @staticmethod
    def _mean(total: float, n: int) -> float | None:
        return total / n if n else None

    @property
    def avg_duration_minutes(self) -> float | None:
        return self._mean(self.duration_sum, self.duration_n)

    @property
    def avg_completion_percentage(self) -> float | None:
        return self._mean(self.completion_sum, self.completion_n)

    @property
    def avg_quality_score(self) -> float | None:
        return self._mean(self.quality_sum, self.quality_n)

    @property
    def avg_satisfaction(self) -> float | None:
        return self._mean(self.satisfaction_sum, self.satisfaction_n)

    @property
    def artifacts_per_session(self) -> float | None:
        return self.artifacts_created / self.started if self.started else None

    @property
    def approved_per_session(self) -> float | None:
        return self.artifacts_approved / self.started if self.started else None


@dataclass
class SessionReport:
    start: date
    end: date
    group_by: str
    abandoned_after_days: int
    rows: list[SessionRow]
    total: SessionRow


def _utc_day(db: DbSession, column: Any) -> Any:
    if db.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite keeps UTC text: its date part is the UTC date


def _as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


class _SessionQueries:
    """The four grouped queries of the sessions dashboard."""

    def __init__(self, db: DbSession, group_by: str, low: Any, high: Any) -> None:
        self.db, self.group_by, self.low, self.high = db, group_by, low, high

    def _key(self, column: Any) -> Any:
        if self.group_by == "day":
            return _utc_day(self.db, column).label("k")
        return Session.agent_version_id.label("k")

    def _in_range(self, column: Any) -> Any:
        return (column >= self.low) & (column < self.high)

    def scheduled(self) -> Any:
        key = self._key(Session.scheduled_at)
        return self.db.execute(
            select(key, func.count().label("n"))
            .where(self._in_range(Session.scheduled_at))
            .group_by(key)
        )

    def started(self, stale_before: Any) -> Any:
        key = self._key(Session.started_at)
        idle_since = func.coalesce(Session.last_activity_at, Session.started_at)
        stale = Session.status.in_(RUNNING_STATUSES) & (idle_since < stale_before)
        return self.db.execute(
            select(
                key,
                func.count().label("n"),
                func.sum(case((stale, 1), else_=0)).label("abandoned"),
                func.count(Session.completion_percentage).label("completion_n"),
                func.coalesce(func.sum(Session.completion_percentage), 0).label("completion_sum"),
            )
            .where(self._in_range(Session.started_at))
            .group_by(key)
        )

    def artifacts(self) -> Any:
        key = self._key(Session.started_at)
        approved = case((SessionArtifact.review_status == "approved", 1), else_=0)
        return self.db.execute(
            select(
                key,
                func.count(SessionArtifact.id).label("created"),
                func.sum(approved).label("approved"),
            )
            .select_from(Session)
            .join(SessionArtifact, SessionArtifact.session_id == Session.id)
            .where(self._in_range(Session.started_at))
            .group_by(key)
        )

    def completed(self) -> Any:
        key = self._key(Session.ended_at)
        return self.db.execute(
            select(
                key,
                func.count().label("n"),
                func.count(Session.actual_duration_minutes).label("duration_n"),
                func.coalesce(func.sum(Session.actual_duration_minutes), 0).label("duration_sum"),
                func.count(Session.quality_score).label("quality_n"),
                func.coalesce(func.sum(Session.quality_score), 0).label("quality_sum"),
                func.count(Session.user_satisfaction).label("satisfaction_n"),
                func.coalesce(func.sum(Session.user_satisfaction), 0).label("satisfaction_sum"),
            )
            .where(Session.status == "completed", self._in_range(Session.ended_at))
            .group_by(key)
        )


def _session_rows(
    db: DbSession, group_by: str, groups: dict[Any, SessionRow], start: date, end: date
) -> list[SessionRow]:
    if group_by == "day":
        day = start
        while day <= end:
            groups.setdefault(day, SessionRow(key=day.isoformat()))
            day += timedelta(days=1)
        for day_key, row in groups.items():
            row.label = day_key.isoformat()
        return sorted(groups.values(), key=lambda r: r.key)
    labels = _labels(db, "agent_version", [k for k in groups if k is not None])
    for version_key, row in groups.items():
        row.label = (
            labels.get(version_key, str(version_key))
            if version_key is not None
            else NONE_LABELS["agent_version"]
        )
    return sorted(groups.values(), key=lambda r: (-r.started, r.label))


def sessions(
    db: DbSession,
    start: date,
    end: date,
    group_by: str,
    *,
    abandoned_after_days: int = 14,
) -> SessionReport:
    """Session figures from ``start`` to ``end`` (UTC dates, both included), grouped."""
    if group_by not in SESSION_GROUPS:
        raise ValueError(f"Unknown grouping {group_by!r}.")
    low, _ = rollups.day_bounds(start)
    _, high = rollups.day_bounds(end)
    stale_before = utcnow() - timedelta(days=abandoned_after_days)
    groups: dict[Any, SessionRow] = {}

    def row_for(key: Any) -> SessionRow:
        key = _as_date(key) if group_by == "day" and key is not None else key
        if key not in groups:
            groups[key] = SessionRow(key=str(key) if key is not None else "")
        return groups[key]

    query = _SessionQueries(db, group_by, low, high)
    for row in query.scheduled():
        row_for(row.k).scheduled += row.n
    for row in query.started(stale_before):
        target = row_for(row.k)
        target.started += row.n
        target.abandoned += int(row.abandoned or 0)
        target.completion_n += row.completion_n
        target.completion_sum += float(row.completion_sum)
    for row in query.artifacts():
        target = row_for(row.k)
        target.artifacts_created += row.created
        target.artifacts_approved += int(row.approved or 0)
    for row in query.completed():
        target = row_for(row.k)
        target.completed += row.n
        target.duration_n += row.duration_n
        target.duration_sum += float(row.duration_sum)
        target.quality_n += row.quality_n
        target.quality_sum += float(row.quality_sum)
        target.satisfaction_n += row.satisfaction_n
        target.satisfaction_sum += float(row.satisfaction_sum)

    rows = _session_rows(db, group_by, groups, start, end)
    total = SessionRow(key="total", label="All")
    for row in rows:
        total.merge(row)
    return SessionReport(start, end, group_by, abandoned_after_days, rows, total)


def by_column(rows: Iterable[Any], names: Iterable[str]) -> dict[str, list[Any]]:
    """{attribute: [its value for each row]}: the series a chart draws."""
    rows = list(rows)
    return {name: [_plain(getattr(row, name)) for row in rows] for name in ("label", *names)}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value
