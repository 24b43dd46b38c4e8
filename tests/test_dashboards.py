"""The admin dashboards: figures against the raw rows, the merge of rollups and today, the
sessions' definitions, the pages, CSV downloads and refusals of bad input."""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from storyteller import dashboards, rollups
from storyteller.models import (
    Agent,
    AgentVersion,
    LlmInteraction,
    LlmUsageDaily,
    Session,
    SessionArtifact,
    utcnow,
)
from tests import telemetry_data


@pytest.fixture
def dataset(db_session, make_storyteller):
    return telemetry_data.build(db_session, make_storyteller)


def _raw_by(db, data, dimension):
    """Figures per group computed from the raw rows (independently of the rollups)."""
    groups = defaultdict(
        lambda: {
            "calls": 0,
            "failed": 0,
            "fallbacks": 0,
            "cost": Decimal(0),
            "priced": 0,
            "unpriced": 0,
            "tokens": 0,
            "latencies": [],
            "ttfts": [],
        }
    )
    for r in telemetry_data.raw_calls(db, data.first_day, data.last_day):
        call = r["call"]
        g = groups[r[dimension]]
        g["calls"] += 1
        g["failed"] += 0 if call.success else 1
        g["fallbacks"] += 1 if r["fallback"] else 0
        g["tokens"] += (call.prompt_tokens or 0) + (call.response_tokens or 0)
        if call.cost is None:
            g["unpriced"] += 1
        else:
            g["priced"] += 1
            g["cost"] += call.cost
        if call.latency_ms is not None:
            g["latencies"].append(call.latency_ms)
        if call.time_to_first_token_ms is not None:
            g["ttfts"].append(call.time_to_first_token_ms)
    return groups


def _nearest_rank_bucket(values, q):
    """The bucket bound of the nearest-rank q-quantile of raw values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))
    value = ordered[int(rank) - 1]
    bounds = rollups.LATENCY_BUCKETS_MS
    for bound in bounds:
        if value <= bound:
            return bound
    return bounds[-1]


@pytest.mark.parametrize(
    ("group_by", "dimension"),
    [
        ("model", "model"),
        ("agent_version", "version_id"),
        ("storyteller", "storyteller_id"),
        ("agent", "agent_id"),
        ("day", "day"),
    ],
)
def test_llm_usage_equals_the_raw_rows(db_session, dataset, group_by, dimension):
    rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    report = dashboards.llm_usage(
        db_session,
        dataset.first_day,
        dataset.last_day,
        group_by,
        today=dataset.last_day + timedelta(days=30),
    )
    raw = _raw_by(db_session, dataset, dimension)
    rows = {row.key: row for row in report.rows}
    assert set(rows) == {str(k) if k is not None else "" for k in raw}
    for key, expected in raw.items():
        row = rows[str(key) if key is not None else ""]
        assert row.calls == expected["calls"]
        assert row.failed_calls == expected["failed"]
        assert row.fallback_calls == expected["fallbacks"]
        assert row.priced_calls == expected["priced"]
        assert row.unpriced_calls == expected["unpriced"]
        assert row.cost == expected["cost"]
        assert row.prompt_tokens + row.response_tokens == expected["tokens"]
        assert row.error_rate == expected["failed"] / expected["calls"]
        assert row.fallback_rate == expected["fallbacks"] / expected["calls"]
        assert row.latency_p50 == _nearest_rank_bucket(expected["latencies"], 0.5)
        assert row.latency_p95 == _nearest_rank_bucket(expected["latencies"], 0.95)
        assert row.ttft_p50 == _nearest_rank_bucket(expected["ttfts"], 0.5)
        assert row.ttft_p95 == _nearest_rank_bucket(expected["ttfts"], 0.95)
    assert report.total.calls == len(dataset.calls)


def test_today_is_read_from_the_raw_rows_and_merged(db_session, dataset):
    # The rollup ran for the first days only; "today" is the last day of the data.
    rollups.rollup(db_session, dataset.first_day, dataset.last_day - timedelta(days=1))
    report = dashboards.llm_usage(
        db_session, dataset.first_day, dataset.last_day, "day", today=dataset.last_day
    )
    assert report.reads_raw_today
    raw = _raw_by(db_session, dataset, "day")
    assert [row.key for row in report.rows] == [
        (dataset.first_day + timedelta(days=n)).isoformat() for n in range(4)
    ]
    for row in report.rows:
        expected = raw[datetime.fromisoformat(row.key).date()]
        assert (row.calls, row.cost, row.unpriced_calls) == (
            expected["calls"],
            expected["cost"],
            expected["unpriced"],
        )
    # Today's rollup rows are not read even when they exist (they may be stale).
    rollups.rollup(db_session, dataset.last_day, dataset.last_day)
    db_session.add(
        LlmInteraction(
            model="gpt-4o-mini",
            success=True,
            cost=Decimal("0.5"),
            created_at=datetime.combine(dataset.last_day, datetime.min.time(), tzinfo=UTC)
            + timedelta(hours=23),
        )
    )
    db_session.flush()
    again = dashboards.llm_usage(
        db_session, dataset.first_day, dataset.last_day, "day", today=dataset.last_day
    )
    assert again.rows[-1].calls == report.rows[-1].calls + 1


def test_unpriced_calls_are_counted_apart_never_as_zero_cost(db_session, dataset):
    only_unpriced_day = dataset.last_day + timedelta(days=2)
    for _ in range(3):
        db_session.add(
            LlmInteraction(
                model="local-model",
                success=True,
                cost=None,
                prompt_tokens=5,
                created_at=datetime.combine(only_unpriced_day, datetime.min.time(), tzinfo=UTC),
            )
        )
    db_session.flush()
    rollups.rollup(db_session, only_unpriced_day, only_unpriced_day)
    report = dashboards.llm_usage(
        db_session,
        only_unpriced_day,
        only_unpriced_day,
        "model",
        today=only_unpriced_day + timedelta(days=1),
    )
    (row,) = report.rows
    assert (row.calls, row.unpriced_calls, row.priced_calls) == (3, 3, 0)
    assert row.cost_display is None


def _session(db, storyteller, agent_version=None, **fields):
    fields.setdefault("intention", "Childhood")
    session = Session(
        storyteller_id=storyteller.id,
        agent_id=agent_version.agent_id if agent_version else None,
        agent_version_id=agent_version.id if agent_version else None,
        **fields,
    )
    db.add(session)
    db.flush()
    return session


def test_sessions_figures_follow_their_definitions(db_session, make_storyteller):
    teller = make_storyteller()
    agent = Agent(name="interviewer-sessions-test", type="interviewer")
    db_session.add(agent)
    db_session.flush()
    v1 = AgentVersion(agent_id=agent.id, version_number="1")
    v2 = AgentVersion(agent_id=agent.id, version_number="2")
    db_session.add_all([v1, v2])
    db_session.flush()
    now = utcnow()
    today = now.date()
    day = datetime.combine(today - timedelta(days=20), datetime.min.time(), tzinfo=UTC)
    recent = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    done = _session(
        db_session,
        teller,
        v1,
        status="completed",
        scheduled_at=day,
        started_at=day + timedelta(hours=1),
        ended_at=day + timedelta(hours=2),
        actual_duration_minutes=30,
        completion_percentage=100,
        quality_score=0.8,
        user_satisfaction=4,
    )
    _session(
        db_session,
        teller,
        v1,
        status="completed",
        started_at=day + timedelta(hours=3),
        ended_at=day + timedelta(hours=4),
        actual_duration_minutes=50,
        completion_percentage=60,
        quality_score=0.6,
    )
    _session(  # abandoned: started 20 days ago, paused, idle since
        db_session,
        teller,
        v2,
        status="paused",
        started_at=day + timedelta(hours=5),
        last_activity_at=day + timedelta(hours=6),
        completion_percentage=20,
    )
    _session(  # not abandoned: still active today
        db_session,
        teller,
        v2,
        status="in_progress",
        started_at=day + timedelta(hours=7),
        last_activity_at=recent,
        completion_percentage=40,
    )
    _session(db_session, teller, v2, status="scheduled", scheduled_at=recent)
    _session(  # outside the range
        db_session,
        teller,
        v2,
        status="completed",
        started_at=day - timedelta(days=60),
        ended_at=day - timedelta(days=60),
        actual_duration_minutes=999,
    )
    for status in ("approved", "approved", "provisional"):
        db_session.add(
            SessionArtifact(session_id=done.id, artifact_type="scene_capture", review_status=status)
        )
    db_session.flush()

    report = dashboards.sessions(
        db_session, today - timedelta(days=29), today, "day", abandoned_after_days=14
    )
    t = report.total
    assert (t.scheduled, t.started, t.completed, t.abandoned) == (2, 4, 2, 1)
    assert t.avg_duration_minutes == 40
    assert t.avg_quality_score == pytest.approx(0.7)
    assert (t.avg_satisfaction, t.satisfaction_n) == (4, 1)
    assert t.avg_completion_percentage == (100 + 60 + 20 + 40) / 4
    assert (t.artifacts_created, t.artifacts_approved) == (3, 2)
    assert t.artifacts_per_session == 3 / 4 and t.approved_per_session == 2 / 4
    assert len(report.rows) == 30
    busy = {row.key: row for row in report.rows}[(today - timedelta(days=20)).isoformat()]
    assert (busy.scheduled, busy.started, busy.completed) == (1, 4, 2)

    longer = dashboards.sessions(
        db_session, today - timedelta(days=29), today, "day", abandoned_after_days=30
    )
    assert longer.total.abandoned == 0

    by_version = dashboards.sessions(
        db_session, today - timedelta(days=29), today, "agent_version", abandoned_after_days=14
    )
    rows = {row.label: row for row in by_version.rows}
    assert rows[f"{agent.name} v1"].completed == 2
    assert rows[f"{agent.name} v2"].started == 2
    assert rows[f"{agent.name} v2"].abandoned == 1


# ----------------------------------------------------------------------------- the pages


@pytest.fixture
def admin(make_user, login):
    user = make_user("admin")
    login(user)
    return user


def test_llm_page_shows_charts_tables_and_summary(app, client, admin, db_session, dataset):
    today = utcnow().date()
    call = dataset.calls[0]
    call.created_at = datetime.now(UTC)  # today: read from the raw rows
    db_session.flush()
    page = client.get("/admin/dashboards/?range=7&group=model")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="dashboard-data"' in html and 'data-chart="llm-calls"' in html
    assert "vendor/chart.umd.min.js" in html and "js/dashboards.js" in html
    assert "1 LLM call;" in html
    assert f"{(today - timedelta(days=6)).isoformat()} to {today.isoformat()}" in html
    assert call.model in html
    assert "<table" in html and "Error rate" in html and "Fallback rate" in html
    errors_link = "agent_errors.index" in app.view_functions
    assert (">Errors</a>" in html) == errors_link


def test_llm_csv_download(client, admin, db_session, dataset):
    rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    response = client.get(
        "/admin/dashboards/?range=custom&from=2026-03-01&to=2026-03-04&group=model&format=csv"
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows[-1]["model"] == "All"
    assert int(rows[-1]["calls"]) == len(dataset.calls)
    raw = _raw_by(db_session, dataset, "model")
    for row in rows[:-1]:
        expected = raw[row["model"]]
        assert int(row["calls"]) == expected["calls"]
        assert int(row["unpriced_calls"]) == expected["unpriced"]
        assert Decimal(row["cost_usd"]) == expected["cost"]
    assert sum(int(r["calls"]) for r in rows[:-1]) == len(dataset.calls)


def test_sessions_page_and_csv(client, admin, db_session, make_storyteller):
    teller = make_storyteller()
    now = utcnow()
    _session(
        db_session,
        teller,
        status="completed",
        started_at=now,
        ended_at=now,
        actual_duration_minutes=12,
        user_satisfaction=5,
    )
    page = client.get("/admin/dashboards/sessions?range=7")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "0 sessions scheduled, 1 started, 1 completed and 0 abandoned" in html
    assert "What these words mean here" in html and "no activity for 14 days" in html
    assert 'data-chart="session-counts"' in html
    response = client.get("/admin/dashboards/sessions?range=7&format=csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 8 and rows[-1]["day"] == "All"
    assert rows[-1]["completed"] == "1" and rows[-1]["avg_duration_minutes"] == "12.0"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("range=custom&from=2026-02-30&to=2026-03-01", "must look like 2026-01-31"),
        ("range=custom&from=yesterday&to=2026-03-01", "must look like 2026-01-31"),
        ("range=custom&from=2026-03-05&to=2026-03-01", "before the first date"),
        ("range=custom&from=2026-03-05", "give both a first and a last date"),
        ("range=custom&from=2020-01-01&to=2026-03-01", "at most 400 days"),
        ("range=12", "7, 30 or 90 days"),
        ("group=colour", "Group by one of"),
        ("format=xml", "html or csv"),
    ],
)
@pytest.mark.parametrize("path", ["/admin/dashboards/", "/admin/dashboards/sessions"])
def test_bad_input_is_a_400_with_a_message(client, admin, path, query, message):
    if path.endswith("sessions") and query == "group=colour":
        query = "group=model"  # a grouping of the other dashboard only
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html.replace("&#34;", '"')
    assert 'name="range"' in html  # the form is there to correct it


def test_abandoned_after_days_comes_from_the_config(app, client, admin, db_session):
    app.config["STORYTELLER_ABANDONED_AFTER_DAYS"] = 3
    try:
        html = client.get("/admin/dashboards/sessions").get_data(as_text=True)
    finally:
        app.config.pop("STORYTELLER_ABANDONED_AFTER_DAYS")
    assert "no activity for 3 days" in html


def test_sessions_are_dated_by_their_utc_day(db_session, make_storyteller):
    teller = make_storyteller()
    today = utcnow().date()
    late = datetime.combine(today - timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    _session(db_session, teller, status="in_progress", started_at=late + timedelta(hours=23.9))
    _session(db_session, teller, status="in_progress", started_at=late + timedelta(hours=24.1))
    report = dashboards.sessions(db_session, today - timedelta(days=6), today, "day")
    started = {row.key: row.started for row in report.rows}
    assert started[(today - timedelta(days=2)).isoformat()] == 1
    assert started[(today - timedelta(days=1)).isoformat()] == 1


def test_many_groups_show_the_busiest_and_sum_the_rest():
    today = utcnow().date()
    rows = []
    for n in range(35):
        row = dashboards.LlmUsageRow(key=str(n), label=f"Teller {n}")
        row.calls, row.unpriced_calls = 100 - n, 1
        rows.append(row)
    total = dashboards.LlmUsageRow(key="total")
    report = dashboards.LlmUsageReport(today, today, "storyteller", rows, total, today, None)
    shown = report.shown_rows
    assert len(shown) == dashboards.SHOWN_GROUPS and report.hidden_count == 6
    assert [r.label for r in shown[:29]] == [f"Teller {n}" for n in range(29)]
    assert shown[-1].label == "The other 6"
    assert shown[-1].calls == sum(100 - n for n in range(29, 35))
    assert shown[-1].unpriced_calls == 6
    by_day = dashboards.LlmUsageReport(today, today, "day", rows, total, today, None)
    assert by_day.shown_rows == rows and by_day.hidden_count == 0


def test_rollup_rows_with_empty_histograms_add_up(db_session, dataset):
    rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    later = dataset.last_day + timedelta(1)
    before = dashboards.llm_usage(
        db_session, dataset.first_day, dataset.last_day, "day", today=later
    )
    db_session.add(
        LlmUsageDaily(
            date=dataset.first_day,
            dimension_key="-|-|-|hand-made",
            model="hand-made",
            calls=2,
            unpriced_calls=2,
            latency_histogram={},
            ttft_histogram={},
        )
    )
    db_session.flush()
    after = dashboards.llm_usage(
        db_session, dataset.first_day, dataset.last_day, "day", today=later
    )
    assert after.total.calls == before.total.calls + 2
    assert after.total.latency_histogram == before.total.latency_histogram
    assert sum(before.total.latency_histogram) > 0


def test_histograms_are_stored_sparse_and_old_dense_rows_are_rewritten(db_session, dataset):
    rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    later = dataset.last_day + timedelta(1)
    stored = db_session.scalars(select(LlmUsageDaily)).all()
    assert stored
    for row in stored:
        assert isinstance(row.latency_histogram, dict)
        assert all(count > 0 for count in row.latency_histogram.values())
        assert sum(row.latency_histogram.values()) <= row.calls
    expected = dashboards.llm_usage(
        db_session, dataset.first_day, dataset.last_day, "model", today=later
    )
    # A row written before histograms were sparse (a dense list): no error, its buckets are
    # left out until `flask rollup` rewrites it.
    dense = next(row for row in stored if row.latency_histogram)
    buckets = dict(dense.latency_histogram)
    dense.latency_histogram = [buckets.get(str(i), 0) for i in range(rollups.HISTOGRAM_SIZE)]
    db_session.flush()
    partial = dashboards.llm_usage(
        db_session, dataset.first_day, dataset.last_day, "model", today=later
    )
    assert partial.total.calls == expected.total.calls
    assert sum(partial.total.latency_histogram) == sum(expected.total.latency_histogram) - sum(
        buckets.values()
    )
    report = rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    assert report.tables["llm_usage_daily"].updated == 1
    db_session.refresh(dense)
    assert dense.latency_histogram == buckets
    again = dashboards.llm_usage(
        db_session, dataset.first_day, dataset.last_day, "model", today=later
    )
    assert [(r.key, r.latency_histogram, r.ttft_histogram) for r in again.rows] == [
        (r.key, r.latency_histogram, r.ttft_histogram) for r in expected.rows
    ]


def test_summed_histograms_are_reused_only_while_their_rows_are_unchanged(db_session, dataset):
    rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    later = dataset.last_day + timedelta(1)
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def report():
        statements.clear()
        return dashboards.llm_usage(
            db_session, dataset.first_day, dataset.last_day, "agent_version", today=later
        )

    engine = db_session.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        first = report()
        first_statements = len(statements)
        second = report()
        assert len(statements) == first_statements - 1  # the histograms were not summed again
        assert second.total.latency_histogram == first.total.latency_histogram
        # Only a histogram changes (calls and sums stay): its row's updated_at moves on.
        row = next(r for r in db_session.scalars(select(LlmUsageDaily)) if r.latency_histogram)
        original = dict(row.latency_histogram)
        moved = dict(original)
        bucket, n = next(iter(moved.items()))
        del moved[bucket]
        target = "0" if bucket != "0" else "1"  # another bucket than the one emptied
        moved[target] = moved.get(target, 0) + n
        row.latency_histogram = moved
        db_session.flush()
        third = report()
        assert len(statements) == first_statements
        assert third.total.latency_histogram != first.total.latency_histogram
        assert third.total.latency_histogram[int(bucket)] == (
            first.total.latency_histogram[int(bucket)] - n
        )
        # A deleted row changes the fingerprint too.
        db_session.delete(row)
        db_session.flush()
        fourth = report()
        assert len(statements) == first_statements
        assert sum(fourth.total.latency_histogram) == sum(first.total.latency_histogram) - sum(
            original.values()
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _figures(report):
    return [
        (
            row.key,
            row.label,
            row.calls,
            row.failed_calls,
            row.fallback_calls,
            row.prompt_tokens,
            row.response_tokens,
            row.priced_calls,
            row.unpriced_calls,
            row.cost,
            row.latency_sum_ms,
            row.latency_histogram,
            row.ttft_histogram,
        )
        for row in [*report.rows, report.total]
    ]


@pytest.mark.parametrize("group_by", list(dashboards.LLM_GROUPS))
def test_today_from_raw_rows_equals_today_rolled_up(db_session, dataset, group_by):
    """Today is summed from the raw rows at the page's grouping only; the figures are those
    of the same day read from its rollup rows (every column, histograms included)."""
    rollups.rollup(db_session, dataset.first_day, dataset.last_day)
    raw_today = dashboards.llm_usage(
        db_session, dataset.first_day, dataset.last_day, group_by, today=dataset.last_day
    )
    rolled_up = dashboards.llm_usage(
        db_session,
        dataset.first_day,
        dataset.last_day,
        group_by,
        today=dataset.last_day + timedelta(days=1),
    )
    assert raw_today.reads_raw_today and not rolled_up.reads_raw_today
    assert _figures(raw_today) == _figures(rolled_up)
    assert raw_today.total.calls == len(dataset.calls)
    last_day = rollups.llm_usage_of_day(db_session, dataset.last_day)
    assert sum(u.calls for u in last_day) > 0
    coarse = rollups.llm_usage_of_day(db_session, dataset.last_day, only=group_by)
    assert sum(u.calls for u in coarse) == sum(u.calls for u in last_day)
    assert all(not u.session_ids for u in coarse)


def _shown_figures(report):
    return [
        (
            row.key,
            row.label,
            row.calls,
            row.failed_calls,
            row.priced_calls,
            row.unpriced_calls,
            row.cost,
            row.prompt_tokens,
            row.latency_histogram,
            row.ttft_histogram,
        )
        for row in [*report.shown_rows, report.total]
    ]


def test_the_page_reads_names_and_histograms_of_the_shown_groups_only(
    db_session, make_storyteller
):
    """40 storytellers (and calls with none), past days rolled up and today raw: the page's
    read (every_group=False) shows the same rows, "others" row and total as the full read,
    ties at the cut-off broken by name, while looking up the names of the shown ones only."""
    today = utcnow().date()
    first = today - timedelta(days=2)
    tag = uuid.uuid4().hex[:6]
    # Calls per storyteller: 40 - n, except a tie of five across the cut-off (29th place).
    tellers = [make_storyteller(display_name=f"Teller {tag} {n:02d}") for n in range(40)]
    counts = [40 - n for n in range(40)]
    for n in range(26, 31):
        counts[n] = 12
    rng = random.Random(3)
    for teller, count in zip([*tellers, None], [*counts, 20], strict=True):
        for k in range(count):
            day = first + timedelta(days=k % 3)  # the last of them today
            at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(
                seconds=rng.randrange(0, 60 if day == today else 86_000)
            )
            db_session.add(
                LlmInteraction(
                    storyteller_id=teller.id if teller else None,
                    model="gpt-4o-mini",
                    prompt_tokens=rng.randrange(10, 900),
                    cost=Decimal(rng.randrange(1, 9000)) / 1_000_000 if k % 4 else None,
                    latency_ms=rng.choice([None, rng.randrange(10, 40_000)]),
                    time_to_first_token_ms=rng.choice([None, rng.randrange(5, 3000)]),
                    success=k % 7 != 3,
                    created_at=min(at, utcnow()),
                )
            )
    db_session.flush()
    rollups.rollup(db_session, first, today - timedelta(days=1))
    full = dashboards.llm_usage(db_session, first, today, "storyteller", today=today)
    statements = []

    def count(conn, cursor, statement, parameters, *args):
        statements.append((statement, parameters))

    engine = db_session.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = dashboards.llm_usage(
            db_session, first, today, "storyteller", today=today, every_group=False
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(page.rows) == dashboards.SHOWN_GROUPS - 1 and page.hidden_count == 12
    assert full.hidden_count == 12 and len(full.rows) == 41
    assert _shown_figures(page) == _shown_figures(full)
    labels = [row.label for row in page.shown_rows]
    # 40 down to 21 calls, then two of 20 (no storyteller first), 19 to 15, then the tie of
    # 12: two of the five make the 29.
    assert labels[19:22] == [f"Teller {tag} 19", "(no storyteller)", f"Teller {tag} 20"]
    assert labels[27:] == [f"Teller {tag} 26", f"Teller {tag} 27", "The other 12"]
    assert sum(page.shown_rows[-1].latency_histogram) > 0
    name_lookups = [p for s, p in statements if "display_name" in s]
    assert len(name_lookups) == 1
    parameters = name_lookups[0]
    if isinstance(parameters, dict):  # PostgreSQL: one array
        (looked_up,) = parameters.values()
    else:  # SQLite: one parameter per id
        looked_up = list(parameters)
    assert len(looked_up) == 31  # the 26 busiest with names and the five tied, no more


def test_a_chart_with_nothing_to_draw_says_so_and_long_tables_scroll(
    app, client, admin, db_session, make_storyteller
):
    empty = "/admin/dashboards/?range=custom&from=2001-01-01&to=2001-01-07"
    html = client.get(empty).get_data(as_text=True)
    assert 'id="calls-no-chart"' in html and 'data-chart="llm-calls"' not in html
    assert "No LLM calls in this range." in html and "the offline interviewer asks" in html
    app.config["OPENAI_API_KEY"] = "sk-test"
    try:
        html = client.get(empty).get_data(as_text=True)
    finally:
        app.config["OPENAI_API_KEY"] = None
    assert "calls appear here as storytellers answer" in html
    teller = make_storyteller()
    call = LlmInteraction(
        storyteller_id=teller.id, model="unpriced-model", cost=None, success=True
    )
    db_session.add(call)
    db_session.flush()
    html = client.get("/admin/dashboards/?range=7&group=model").get_data(as_text=True)
    assert 'id="cost-no-chart"' in html and 'data-chart="llm-cost"' not in html
    assert "1 LLM call;" in html and "1 call has no price and is not in that cost" in html
    assert 'id="speed-no-chart"' in html and 'data-chart="llm-speed"' not in html
    assert "table-long" not in html  # seven days fit
    call.cost, call.latency_ms = Decimal("0.002"), 900
    db_session.flush()
    html = client.get("/admin/dashboards/?range=30&group=day").get_data(as_text=True)
    assert 'data-chart="llm-cost"' in html and 'id="cost-no-chart"' not in html
    assert 'data-chart="llm-speed"' in html and 'id="speed-no-chart"' not in html
    assert html.count('class="table-wrap table-long by-day"') == 3  # thirty days scroll in place
    sessions = client.get("/admin/dashboards/sessions?range=7").get_data(as_text=True)
    assert 'id="quality-no-chart"' in sessions and 'id="artifacts-no-chart"' in sessions
    assert 'id="counts-no-chart"' in sessions and 'data-chart="session-counts"' not in sessions
    started = _session(
        db_session, teller, status="in_progress", started_at=utcnow(), completion_percentage=40
    )
    sessions = client.get("/admin/dashboards/sessions?range=30").get_data(as_text=True)
    assert 'data-chart="session-quality"' in sessions
    assert "No piece of story has been made in these sessions yet" in sessions
    db_session.add(SessionArtifact(session_id=started.id, artifact_type="scene_capture"))
    db_session.flush()
    sessions = client.get("/admin/dashboards/sessions?range=30").get_data(as_text=True)
    assert 'data-chart="session-artifacts"' in sessions and "artifacts-no-chart" not in sessions
    assert 'data-chart="session-counts"' in sessions and "counts-no-chart" not in sessions
    assert sessions.count('class="table-wrap table-long by-day"') == 3


def test_the_tables_figures_read_as_people_write_them():
    from storyteller.views.dashboards import figure, milliseconds, percentage

    assert figure(1234567) == "1,234,567" and figure(None) == "—"
    assert figure(Decimal("1234.5"), 2) == "1,234.50" and figure(0.25, 4) == "0.2500"
    assert percentage(0.1234) == "12.3%" and percentage(0) == "0.0%" and percentage(None) == "—"
    assert milliseconds(1500) == "1,500 ms" and milliseconds(None) == "—"
