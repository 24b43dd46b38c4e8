"""The admin dashboards' figures: LLM usage and sessions over a range of UTC dates.

LLM usage: full past days come from ``llm_usage_daily`` (written by ``flask rollup``); the
current UTC day is computed from the raw llm_interaction rows with the same code the rollup
uses (``rollups.llm_usage_of_day``), and the two are merged. Definitions of calls, failed
calls, fallbacks and unpriced calls: see ``storyteller.rollups``. Cost is the sum over
priced calls; unpriced calls are counted apart and never add $0. Percentiles come from the
latency histograms (to within one bucket of ``LATENCY_BUCKETS_MS``). The page shows the
``SHOWN_GROUPS - 1`` busiest groups and sums the rest in one row; it reads names and
histograms for those alone (``llm_usage(every_group=False)``), the CSV reads every group.

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

from sqlalchemy import BigInteger, case, cast, func, select
from sqlalchemy.orm import Session as DbSession

from storyteller import rollups
from storyteller.database import one_of
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

    def add_counts(self, values: Any) -> None:
        """Add the counts and sums of ``values`` (a row or a ``rollups.LlmUsage``: anything
        with these attributes; ``total_cost`` may be None)."""
        self.calls += int(values.calls or 0)
        self.failed_calls += int(values.failed_calls or 0)
        self.fallback_calls += int(values.fallback_calls or 0)
        self.prompt_tokens += int(values.prompt_tokens or 0)
        self.response_tokens += int(values.response_tokens or 0)
        self.priced_calls += int(values.priced_calls or 0)
        self.unpriced_calls += int(values.unpriced_calls or 0)
        cost = values.total_cost or 0
        self.cost += cost if isinstance(cost, Decimal) else Decimal(str(cost))
        self.latency_sum_ms += int(values.latency_sum_ms or 0)

    def add_histograms(self, latency: Any, ttft: Any) -> None:
        """Add histograms, dense (a count per bucket) or sparse ({"<bucket>": count})."""
        self.latency_histogram = _added(self.latency_histogram, latency)
        self.ttft_histogram = _added(self.ttft_histogram, ttft)

    @classmethod
    def summed(
        cls, key: str, label: str, rows: list[LlmUsageRow], *, histograms: bool = True
    ) -> LlmUsageRow:
        """One row adding up ``rows`` (column by column: a thousand groups add up quickly);
        ``histograms=False``: the counts only, the histograms left empty."""
        total = cls(key=key, label=label)
        for name in _ROW_COUNTS:
            setattr(total, name, sum(getattr(row, name) for row in rows))
        total.cost = sum((row.cost for row in rows), Decimal("0"))
        if rows and histograms:
            total.latency_histogram = [
                sum(c) for c in zip(*(r.latency_histogram for r in rows), strict=True)
            ]
            total.ttft_histogram = [
                sum(c) for c in zip(*(r.ttft_histogram for r in rows), strict=True)
            ]
        return total

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
    # Read for the page alone (llm_usage(every_group=False)) with more groups than it shows:
    # ``rows`` holds the shown groups only, and this row the others summed.
    others: LlmUsageRow | None = None
    others_count: int = 0

    @property
    def reads_raw_today(self) -> bool:
        return self.start <= self.today <= self.end

    @property
    def hidden_count(self) -> int:
        """How many groups the page sums into one "others" row (the CSV has every one)."""
        if self.others is not None:
            return self.others_count
        if self.group_by == "day" or len(self.rows) <= SHOWN_GROUPS:
            return 0
        return len(self.rows) - SHOWN_GROUPS + 1

    @cached_property
    def shown_rows(self) -> list[LlmUsageRow]:
        """The rows the page shows: every day; otherwise the groups with most calls, the rest
        summed in one last row (a chart of a thousand storytellers is read by nobody)."""
        if self.others is not None:
            return [*self.rows, self.others]
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
    return values.date if group_by == "day" else getattr(values, _DIMENSION_COLUMNS[group_by])


class _HistogramCache:
    """The summed histograms of recent (database, range, grouping, groups) reads, each kept
    with the fingerprint of the rollup rows it was summed from: per group, the number of rows,
    their latest ``updated_at`` and their counts, sums and cost. The fingerprint comes with
    the counts query every read runs anyway, so a reused entry is one whose rows have not
    changed (``flask rollup`` updates ``updated_at`` of every row it rewrites, deleted or
    inserted rows change the count); any change and the histograms are summed again. Each app
    process keeps its own few entries: nothing is shared, nothing can go stale."""

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


def _stored_dimension(group_by: str) -> Any:
    u = LlmUsageDaily
    return u.date if group_by == "day" else getattr(u, _DIMENSION_COLUMNS[group_by])


def _add_stored_counts(
    db: DbSession, start: date, end: date, group_by: str, groups: dict[Any, LlmUsageRow]
) -> dict[Any, tuple[Any, ...]]:
    """Add the counts and sums of the rollup rows of [start, end] to ``groups``, summed per
    group in SQL; returns each group's fingerprint (see _HistogramCache). The integer sums
    come back as integers (cast in SQL: PostgreSQL sums bigints as numeric) and are read by
    position: a thousand groups are read in a few milliseconds."""
    u = LlmUsageDaily
    dimension = _stored_dimension(group_by)
    query = (
        select(
            dimension,
            *(cast(func.sum(getattr(u, name)), BigInteger) for name in _ROW_COUNTS),
            func.sum(u.total_cost),
            func.count(),
            func.max(u.updated_at),
        )
        .where(u.date >= start, u.date <= end)
        .group_by(dimension)
    )
    fingerprints = {}
    for key, *sums, cost, row_count, last_updated in db.execute(query):
        row = _group(groups, key)
        for name, value in zip(_ROW_COUNTS, sums, strict=True):
            setattr(row, name, getattr(row, name) + value)
        row.cost += cost if isinstance(cost, Decimal) else Decimal(str(cost or 0))
        fingerprints[key] = (row_count, last_updated, *sums, cost)
    return fingerprints


def _stored_histograms(
    db: DbSession,
    start: date,
    end: date,
    group_by: str | None,
    keys: list[Any] | None,
    fingerprints: dict[Any, tuple[Any, ...]],
) -> dict[Any, tuple[list[int], list[int]]]:
    """The latency and TTFT histograms of the rollup rows of [start, end], summed in SQL per
    group (``group_by`` None: all of them, keyed None; ``keys``: those groups only), bucket
    by bucket, each read by its key from the stored sparse object (a missing key is 0), so no
    JSON is decoded in Python; reused while their rows are unchanged (see _HistogramCache).
    Measured on PostgreSQL (bench/operator_dashboards.py) faster than expanding each row's
    entries (jsonb_each) and grouping by bucket. A stored histogram that is not an object (a
    dense list, as written before histograms were sparse) counts as empty; ``flask rollup``
    over its dates rewrites it."""
    u = LlmUsageDaily
    cache_key = (
        str(db.get_bind().engine.url),
        start,
        end,
        group_by,
        None if keys is None else frozenset(keys),
    )
    fingerprint = fingerprints if keys is None else {k: fingerprints.get(k) for k in keys}
    histograms = _histogram_cache.get(cache_key, fingerprint)
    if histograms is not None:
        return histograms
    size = rollups.HISTOGRAM_SIZE
    buckets = [
        func.sum(column[str(index)].as_integer()).label(f"{prefix}{index}")
        for prefix, column in (("l", u.latency_histogram), ("t", u.ttft_histogram))
        for index in range(size)
    ]
    query = select(*buckets).where(u.date >= start, u.date <= end)
    if group_by is not None:
        dimension = _stored_dimension(group_by)
        query = query.add_columns(dimension.label("dimension")).group_by(dimension)
        if keys is not None:
            query = query.where(one_of(db, dimension, keys))
    histograms = {}
    for row in db.execute(query):
        histograms[row.dimension if group_by is not None else None] = (
            [int(row[i] or 0) for i in range(size)],
            [int(row[size + i] or 0) for i in range(size)],
        )
    _histogram_cache.put(cache_key, fingerprint, histograms)
    return histograms


def _group(groups: dict[Any, LlmUsageRow], key: Any) -> LlmUsageRow:
    row = groups.get(key)
    if row is None:
        row = groups[key] = LlmUsageRow(key=str(key) if key is not None else "")
    return row


@dataclass
class _UsageRead:
    """One dashboard read: full past days from the rollups, today from the raw rows."""

    db: DbSession
    group_by: str
    today: date
    stored: tuple[date, date] | None  # the range read from the rollups
    raw_today: bool
    groups: dict[Any, LlmUsageRow] = field(default_factory=dict)
    fingerprints: dict[Any, tuple[Any, ...]] = field(default_factory=dict)

    def add_counts(self) -> None:
        if self.stored:
            self.fingerprints = _add_stored_counts(
                self.db, *self.stored, self.group_by, self.groups
            )
        if self.raw_today:
            for usage in rollups.llm_usage_of_day(
                self.db, self.today, only=self.group_by, histograms=False
            ):
                _group(self.groups, _dimension(self.group_by, usage)).add_counts(usage)

    def add_histograms(self, keys: list[Any] | None) -> None:
        """The histograms of the groups ``keys`` (None: of every group)."""
        if self.stored:
            for key, pair in _stored_histograms(
                self.db, *self.stored, self.group_by, keys, self.fingerprints
            ).items():
                _group(self.groups, key).add_histograms(*pair)
        if self.raw_today:
            for key, pair in rollups.llm_histograms_of_day(
                self.db, self.today, only=self.group_by, among=keys
            ).items():
                self.groups[self.today if self.group_by == "day" else key[0]].add_histograms(*pair)

    def total(self) -> LlmUsageRow:
        """Every group summed; the histograms summed in SQL, not from the groups'."""
        total = LlmUsageRow.summed("total", "All", list(self.groups.values()), histograms=False)
        if self.stored:
            stored = _stored_histograms(self.db, *self.stored, None, None, self.fingerprints)
            total.add_histograms(*stored[None])
        if self.raw_today:
            for pair in rollups.llm_histograms_of_day(self.db, self.today, only="day").values():
                total.add_histograms(*pair)
        return total


def llm_usage(
    db: DbSession,
    start: date,
    end: date,
    group_by: str,
    *,
    today: date | None = None,
    every_group: bool = True,
) -> LlmUsageReport:
    """LLM calls from ``start`` to ``end`` (UTC dates, both included) grouped by ``group_by``.

    ``every_group=False`` reads what the page shows and no more: with more than
    ``SHOWN_GROUPS`` groups, only the busiest get their names and histograms (``rows``); the
    rest are summed in ``others``, their histograms the total's (summed in SQL) less the
    shown ones'. The figures of the shown rows, the others and the total are the same either
    way (a test compares them)."""
    if group_by not in LLM_GROUPS:
        raise ValueError(f"Unknown grouping {group_by!r}.")
    today = today or _utc_today()
    last_stored = min(end, today - timedelta(days=1))
    read = _UsageRead(
        db,
        group_by,
        today,
        stored=(start, last_stored) if start <= last_stored else None,
        raw_today=start <= today <= end,
    )
    read.add_counts()
    groups = read.groups
    if group_by == "day":
        day = start
        while day <= min(end, today):
            groups.setdefault(day, LlmUsageRow(key=day.isoformat()))
            day += timedelta(days=1)
    rolled_up_through = db.scalar(select(func.max(LlmUsageDaily.date)))
    if every_group or group_by == "day" or len(groups) <= SHOWN_GROUPS:
        _label(db, group_by, groups)
        read.add_histograms(None)
        rows = _in_order(group_by, list(groups.values()))
        total = LlmUsageRow.summed("total", "All", rows)
        return LlmUsageReport(start, end, group_by, rows, total, today, rolled_up_through)
    shown = _busiest(db, group_by, groups, SHOWN_GROUPS - 1)
    read.add_histograms(shown)
    rows = _in_order(group_by, [groups[key] for key in shown])
    total = read.total()
    shown_keys = set(shown)
    hidden = [row for key, row in groups.items() if key not in shown_keys]
    others = LlmUsageRow.summed("others", f"The other {len(hidden)}", hidden, histograms=False)
    shown_total = LlmUsageRow.summed("shown", "", rows)
    for name in ("latency_histogram", "ttft_histogram"):
        difference = map(operator.sub, getattr(total, name), getattr(shown_total, name))
        setattr(others, name, list(difference))
    report = LlmUsageReport(start, end, group_by, rows, total, today, rolled_up_through)
    report.others, report.others_count = others, len(hidden)
    return report


def _busiest(db: DbSession, group_by: str, groups: dict[Any, LlmUsageRow], n: int) -> list[Any]:
    """The keys of the ``n`` groups with most calls, ties by name (as the full list is
    ordered); names are looked up for those and any tied with the last of them only."""
    floor = sorted((row.calls for row in groups.values()), reverse=True)[n - 1]
    candidates = {key: row for key, row in groups.items() if row.calls >= floor}
    _label(db, group_by, candidates)
    ranked = sorted(candidates.items(), key=lambda item: (-item[1].calls, item[1].label))
    return [key for key, _row in ranked[:n]]


def _label(db: DbSession, group_by: str, groups: dict[Any, LlmUsageRow]) -> None:
    labels = _labels(db, group_by, [k for k in groups if k is not None])
    for key, row in groups.items():
        if group_by == "day":
            row.label = key.isoformat()
        elif key is None:
            row.label = NONE_LABELS.get(group_by, "(none)")
        else:
            row.label = labels.get(key, str(key))


def _in_order(group_by: str, rows: list[LlmUsageRow]) -> list[LlmUsageRow]:
    if group_by == "day":
        return sorted(rows, key=lambda r: r.key)
    return sorted(rows, key=lambda r: (-r.calls, r.label))


def _labels(db: DbSession, group_by: str, keys: Iterable[Any]) -> dict[Any, str]:
    ids = [k for k in keys if isinstance(k, uuid.UUID)]
    if group_by == "storyteller" and ids:
        query = select(Storyteller.id, Storyteller.display_name).where(
            one_of(db, Storyteller.id, ids)
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
