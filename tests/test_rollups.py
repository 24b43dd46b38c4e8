"""The daily rollups against aggregates computed straight from the raw rows; reruns; ranges."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from storyteller import rollups
from storyteller.models import (
    AgentMetric,
    LlmInteraction,
    LlmUsageDaily,
    PerformanceDaily,
    Session,
    SessionInteraction,
    UsageDaily,
)
from tests import telemetry_data


@pytest.fixture
def dataset(db_session, make_storyteller):
    return telemetry_data.build(db_session, make_storyteller)


def _stored_llm_usage(db):
    out = {}
    for row in db.scalars(select(LlmUsageDaily)):
        key = (row.date, row.storyteller_id, row.agent_id, row.agent_version_id, row.model)
        out[key] = {
            name: getattr(row, name)
            for name in (
                "calls",
                "failed_calls",
                "fallback_calls",
                "prompt_tokens",
                "response_tokens",
                "priced_calls",
                "unpriced_calls",
                "total_cost",
                "latency_sum_ms",
                "latency_histogram",
                "ttft_count",
                "ttft_sum_ms",
                "ttft_histogram",
            )
        }
    return out


def _assert_llm_usage_matches_raw(db, data):
    expected = telemetry_data.expected_llm_usage(db, data.first_day, data.last_day)
    stored = _stored_llm_usage(db)
    assert set(stored) == set(expected)
    for key, figures in expected.items():
        assert stored[key] == figures, key


def test_llm_usage_daily_equals_the_raw_rows(db_session, dataset):
    report = rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    assert report.days == 4
    _assert_llm_usage_matches_raw(db_session, dataset)
    # The dataset really is varied: failures, unpriced calls, fallbacks, several groups.
    totals = defaultdict(int)
    for figures in _stored_llm_usage(db_session).values():
        for name in ("calls", "failed_calls", "fallback_calls", "unpriced_calls"):
            totals[name] += figures[name]
    assert totals["calls"] == len(dataset.calls)
    assert totals["failed_calls"] > 0 and totals["fallback_calls"] > 0
    assert totals["unpriced_calls"] > 0
    assert len({key[4] for key in _stored_llm_usage(db_session)}) == 3  # models
    assert any(key[1] is None for key in _stored_llm_usage(db_session))  # no storyteller


def test_usage_daily_equals_the_raw_rows(db_session, dataset):
    rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    raw = telemetry_data.raw_calls(db_session, dataset.first_day, dataset.last_day)
    expected = defaultdict(
        lambda: {"calls": 0, "tokens": 0, "cost": Decimal(0), "unpriced": 0, "sessions": set()}
    )
    for r in raw:
        if r["storyteller_id"] is None or r["agent_id"] is None:
            continue
        e = expected[(r["day"], r["storyteller_id"], r["agent_id"])]
        call = r["call"]
        e["calls"] += 1
        e["tokens"] += (call.prompt_tokens or 0) + (call.response_tokens or 0)
        if call.cost is None:
            e["unpriced"] += 1
        else:
            e["cost"] += call.cost
        e["sessions"].add(call.session_id)
    messages = defaultdict(int)
    tools = defaultdict(set)
    for si in db_session.scalars(select(SessionInteraction)):
        session = db_session.get(Session, si.session_id)
        key = (si.created_at.astimezone(UTC).date(), session.storyteller_id, session.agent_id)
        expected[key]["sessions"].add(si.session_id)
        messages[key] += (si.agent_prompt is not None) + (si.storyteller_response is not None)
        for tool in si.tools_used or []:
            tools[key].add(tool["name"] if isinstance(tool, dict) else tool)
    rows = {
        (row.date, row.storyteller_id, row.agent_id): row
        for row in db_session.scalars(select(UsageDaily))
    }
    assert set(rows) == set(expected)
    for key, e in expected.items():
        row = rows[key]
        assert row.llm_calls == e["calls"], key
        assert row.total_tokens == e["tokens"], key
        assert row.total_cost == e["cost"], key
        assert row.unpriced_calls == e["unpriced"], key
        assert row.session_count == len(e["sessions"]), key
        assert row.message_count == messages[key], key
        assert row.unique_tools_used == len(tools[key]), key
    assert any(row.unique_tools_used == 2 for row in rows.values())


def test_performance_daily_equals_the_raw_rows(db_session, dataset):
    rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    raw = telemetry_data.raw_calls(db_session, dataset.first_day, dataset.last_day)
    calls = defaultdict(lambda: {"n": 0, "failed": 0, "sessions": set(), "tokens": 0})
    for r in raw:
        if r["agent_id"] is None:
            continue
        c = calls[(r["day"], r["agent_id"])]
        c["n"] += 1
        c["failed"] += 0 if r["call"].success else 1
        c["sessions"].add(r["call"].session_id)
        c["tokens"] += (r["call"].prompt_tokens or 0) + (r["call"].response_tokens or 0)
    started = defaultdict(list)
    for s in dataset.sessions:
        started[(s.started_at.astimezone(UTC).date(), s.agent_id)].append(s)
    rows = {(r.date, r.agent_id): r for r in db_session.scalars(select(PerformanceDaily))}
    assert set(rows) == set(calls) | set(started)
    for key, row in rows.items():
        sessions = started.get(key, [])
        assert row.total_sessions == len(sessions)
        assert row.successful_sessions == sum(s.status == "completed" for s in sessions)
        assert row.failed_sessions == sum(s.status == "cancelled" for s in sessions)
        rated = [s.user_satisfaction for s in sessions if s.user_satisfaction]
        assert row.user_satisfaction_score == pytest.approx(
            sum(rated) / len(rated) if rated else 0.0
        )
        c = calls.get(key)
        assert row.error_rate == pytest.approx(c["failed"] / c["n"] if c else 0.0, abs=1e-6)
        if c:
            assert row.avg_tokens_per_session == round(c["tokens"] / len(c["sessions"]))
        expected_rate = (
            row.successful_sessions / row.total_sessions * 100 if row.total_sessions else 0.0
        )
        assert row.success_rate == expected_rate


def test_rerun_changes_nothing_and_keeps_the_same_rows(db_session, dataset):
    rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    before = {
        model: sorted(str(i) for i in db_session.scalars(select(model.id)))
        for model in (LlmUsageDaily, UsageDaily, PerformanceDaily)
    }
    metrics_before = db_session.scalar(select(func.count(AgentMetric.id)))
    report = rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    assert report.changed == 0
    for model, ids in before.items():
        assert sorted(str(i) for i in db_session.scalars(select(model.id))) == ids
    assert db_session.scalar(select(func.count(AgentMetric.id))) == metrics_before
    _assert_llm_usage_matches_raw(db_session, dataset)


def test_agent_metrics_are_written_per_day_and_replaced_on_rerun(db_session, dataset):
    rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    rows = db_session.scalars(select(AgentMetric).where(AgentMetric.metric_type == "llm_calls"))
    by_key = defaultdict(list)
    for row in rows:
        by_key[(row.timestamp.date(), row.agent_id, row.agent_version_id)].append(row)
    assert by_key and all(len(found) == 1 for found in by_key.values())
    raw = telemetry_data.raw_calls(db_session, dataset.first_day, dataset.last_day)
    counted = defaultdict(int)
    for r in raw:
        counted[(r["day"], r["agent_id"], r["version_id"])] += 1
    assert {k: v[0].metric_value for k, v in by_key.items()} == {
        k: float(v) for k, v in counted.items()
    }
    assert all(v[0].timeframe == "daily" for v in by_key.values())


def test_range_recompute_after_raw_rows_change(db_session, dataset):
    rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    second = dataset.first_day + timedelta(days=1)
    start = datetime(second.year, second.month, second.day, tzinfo=UTC)
    # Every call of day two disappears (an erasure); a priced call changes its cost; a call
    # lands on a day after the range that was rolled up before.
    db_session.execute(
        delete(LlmInteraction).where(
            LlmInteraction.created_at >= start,
            LlmInteraction.created_at < start + timedelta(days=1),
        )
    )
    survivor = db_session.scalars(
        select(LlmInteraction).where(LlmInteraction.cost.is_not(None))
    ).first()
    survivor.cost = Decimal("1.234567")
    later = dataset.last_day + timedelta(days=1)
    db_session.add(
        LlmInteraction(
            session_id=dataset.sessions[0].id,
            storyteller_id=dataset.sessions[0].storyteller_id,
            agent_id=dataset.agents[0].id,
            model="gpt-4o-mini",
            prompt_tokens=10,
            response_tokens=5,
            cost=None,
            latency_ms=120,
            success=True,
            created_at=datetime(later.year, later.month, later.day, 9, tzinfo=UTC),
        )
    )
    db_session.flush()
    report = rollups.rollup(db_session, dataset.first_day, later)
    assert report.tables["llm_usage_daily"].deleted > 0
    assert report.tables["llm_usage_daily"].updated > 0
    dataset.last_day = later
    _assert_llm_usage_matches_raw(db_session, dataset)
    stale = db_session.scalars(select(LlmUsageDaily).where(LlmUsageDaily.date == second)).all()
    assert stale == []
    assert (
        db_session.scalars(
            select(UsageDaily).where(UsageDaily.date == second, UsageDaily.llm_calls > 0)
        ).all()
        == []
    )
    new_day = db_session.scalars(select(LlmUsageDaily).where(LlmUsageDaily.date == later)).one()
    assert (new_day.calls, new_day.unpriced_calls, new_day.total_cost) == (1, 1, Decimal(0))


def test_percentile_reads_the_histogram():
    histogram = [0] * rollups.HISTOGRAM_SIZE
    assert rollups.percentile(histogram, 0.5) is None
    for value in [10, 20, 30, 120, 130, 140, 150, 900, 2400, 70_000]:
        histogram[rollups.bucket_of(value)] += 1
    assert rollups.percentile(histogram, 0.5) == 150  # 5th of 10 falls in (100, 150]
    assert rollups.percentile(histogram, 0.95) == 60_000  # the open last bucket
    assert rollups.percentile(histogram, 0.2) == 25


def test_rollup_refuses_a_backwards_range(db_session):
    with pytest.raises(ValueError, match="before"):
        rollups.rollup(
            db_session, telemetry_data.FIRST_DAY, telemetry_data.FIRST_DAY - timedelta(1)
        )


def test_flask_rollup_command(runner, db_session, dataset):
    result = runner.invoke(args=["rollup", "--from", "2026-03-01", "--to", "2026-03-04"])
    assert result.exit_code == 0, result.output
    assert "Rolled up 4 day(s), 2026-03-01 to 2026-03-04." in result.output
    assert "llm_usage_daily:" in result.output
    _assert_llm_usage_matches_raw(db_session, dataset)
    again = runner.invoke(args=["rollup", "--from", "2026-03-01", "--to", "2026-03-04"])
    assert "0 inserted, 0 updated, 0 deleted" in again.output


def test_flask_rollup_command_refuses_bad_dates(runner):
    result = runner.invoke(args=["rollup", "--from", "2026-02-30"])
    assert result.exit_code == 2
    assert "is not a date like 2026-01-31" in result.output
    result = runner.invoke(args=["rollup", "--from", "2026-03-05", "--to", "2026-03-01"])
    assert result.exit_code == 2
    assert "--to is before --from" in result.output


def test_flask_rollup_defaults_to_yesterday_and_today(runner, db_session):
    result = runner.invoke(args=["rollup"])
    assert result.exit_code == 0, result.output
    today = datetime.now(UTC).date()
    assert f"Rolled up 2 day(s), {(today - timedelta(1)).isoformat()} to {today}" in result.output
