"""How fast are the admin dashboards (and the trace view) on a big PostgreSQL database?

    .venv/bin/python bench/operator_dashboards.py [--sessions 10000] [--events 1000000]
        [--calls 200000] [--days 120] [--requests 20] [--keep | --reuse DBNAME [--rollup]]

Creates a fresh PostgreSQL database (127.0.0.1:5432 as user postgres, or TEST_DATABASE_URL;
dropped at the end unless --keep), builds the schema, and bulk-loads with psycopg COPY:
1,000 storytellers, --sessions sessions spread over the last --days days (about 70%
completed, some running, paused, cancelled or only scheduled), --calls LLM calls over the
started sessions (3 models, 3 interviewer versions, ~6% failed, ~15% unpriced, ~4% with an
``llm.fallback`` event), --events events (the fallbacks among them) and 3 artifacts per
started session. Then:

1. runs ``rollups.rollup`` over every day (timed), then ANALYZE on the rollup tables;
2. signs in an admin through the Flask test client and times each dashboard over a 90-day
   range (``range=90``), each grouping, --requests requests after 2 warm-ups: p50 / p95
   against the 200 ms target, and the first request apart (cold: nothing summed before in
   this process, see dashboards._HistogramCache);
3. times the trace view ``/admin/traces/<session_id>`` against 100 ms, if that route exists,
   and a Prometheus scrape of ``/metrics`` (no target: every scrape, every 15 s or so);
4. times the same aggregate as one raw SQL query over llm_interaction (90 days of calls and
   cost by day; and the full set: errors, fallbacks, tokens, latency and TTFT p50/p95 by
   day), checks the figures agree with the dashboard's, and prints the ratio;
(The indexes an earlier run of this script showed were worth having, on
event.llm_interaction_id and session.started_at / ended_at, are in the schema since
migration d28cd32c6917.)

``--keep`` keeps the filled database and prints its name; ``--reuse DBNAME`` times that
database again without filling it (add ``--rollup`` to recompute its rollups first, e.g.
after the rollup format changed) and never drops it.

The script is a report: it exits 0 even when a target is missed.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import make_url, text  # noqa: E402

from storyteller import accounts, create_app, rollups  # noqa: E402
from storyteller.extensions import db  # noqa: E402
from storyteller.models import Agent, AgentVersion  # noqa: E402
from tests.conftest import (  # noqa: E402
    PASSWORD,
    create_postgres_database,
    drop_postgres_database,
    postgres_server_url,
    test_config,
)

DASHBOARD_TARGET_MS = 200.0
TRACE_TARGET_MS = 100.0
STORYTELLERS = 1000
MODELS = (("gpt-4o-mini", 0.6), ("llama-3-8b", 0.25), ("claude-haiku", 0.15))
EVENT_TYPES = ("turn.started", "answer.saved", "analysis.done", "question.asked", "memory.written")


# ------------------------------------------------------------------------------ loading


def _value(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class CopyWriter:
    """Rows for one COPY ... FROM STDIN (text format), sent in chunks."""

    def __init__(self, cursor, table: str, columns: Iterable[str], chunk: int = 50_000):
        self.cursor, self.table, self.columns = cursor, table, list(columns)
        self.buffer: list[str] = []
        self.chunk = chunk
        self.rows = 0
        self._copy_cm = cursor.copy(f'COPY "{table}" ({", ".join(self.columns)}) FROM STDIN')
        self._copy = self._copy_cm.__enter__()

    def add(self, *values: object) -> None:
        self.buffer.append("\t".join(_value(v) for v in values))
        self.rows += 1
        if len(self.buffer) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self._copy.write("\n".join(self.buffer) + "\n")
            self.buffer = []

    def close(self) -> int:
        self.flush()
        self._copy_cm.__exit__(None, None, None)
        return self.rows


def _pick_model(rng: random.Random) -> str:
    roll = rng.random()
    for name, share in MODELS:
        if roll < share:
            return name
        roll -= share
    return MODELS[0][0]


def fill(args: argparse.Namespace, now: datetime) -> dict[str, object]:
    """Bulk-load the dataset; returns the ids the timings need."""
    rng = random.Random(2026)
    agent = Agent(name="interviewer", type="interviewer")
    db.session.add(agent)
    db.session.flush()
    versions = [
        AgentVersion(agent_id=agent.id, version_number=str(n), is_active=n == 3) for n in (1, 2, 3)
    ]
    db.session.add_all(versions)
    admin = accounts.create_user(
        db.session, email="admin@example.org", name="Admin", role="admin", password=PASSWORD
    )
    db.session.commit()

    raw = db.engine.raw_connection()
    connection = raw.driver_connection
    cursor = connection.cursor()
    first_day = (now - timedelta(days=args.days - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    tellers = [uuid.uuid4() for _ in range(STORYTELLERS)]
    w = CopyWriter(
        cursor,
        "storyteller",
        ("id", "display_name", "preferred_language", "time_zone", "created_at", "updated_at"),
    )
    for n, teller in enumerate(tellers):
        w.add(teller, f"Storyteller {n}", "en", "UTC", first_day, first_day)
    w.close()

    sessions = []  # (id, storyteller, version, started_at or None, status)
    w = CopyWriter(
        cursor,
        "session",
        (
            "id", "storyteller_id", "intention", "session_name", "status", "needs_followup",
            "session_source", "message_count", "total_tokens", "total_cost", "scheduled_at",
            "started_at", "ended_at", "actual_duration_minutes", "completion_percentage",
            "quality_score", "user_satisfaction", "agent_id", "agent_version_id",
            "last_activity_at", "created_at", "updated_at",
        ),
    )  # fmt: skip
    for _ in range(args.sessions):
        sid = uuid.uuid4()
        teller = rng.choice(tellers)
        version = versions[min(2, int(rng.random() * 3))]
        day = first_day + timedelta(days=rng.randrange(args.days))
        start = day + timedelta(seconds=rng.randrange(0, 20 * 3600))
        if start > now:
            start = now - timedelta(minutes=rng.randrange(5, 60))
        roll = rng.random()
        status = (
            "completed" if roll < 0.7 else
            "in_progress" if roll < 0.8 else
            "paused" if roll < 0.9 else
            "cancelled" if roll < 0.95 else
            "scheduled"
        )  # fmt: skip
        started = None if status == "scheduled" else start
        ended = start + timedelta(minutes=rng.randrange(15, 60)) if status == "completed" else None
        done = status == "completed"
        rated = done and rng.random() < 0.6
        w.add(
            sid, teller, "Childhood memories", "Childhood", status, False, "coordinator",
            0, 0, 0, start - timedelta(days=2), started, ended,
            rng.randrange(15, 60) if done else None,
            100 if done else rng.randrange(0, 90) if started else None,
            round(rng.random(), 2) if done else None,
            rng.randrange(1, 6) if rated else None,
            agent.id, version.id, ended or started, start - timedelta(days=3),
            ended or start,
        )  # fmt: skip
        sessions.append((sid, teller, version.id, started, status))
    w.close()

    started_sessions = [s for s in sessions if s[3] is not None]
    per_session, extra = divmod(args.calls, len(started_sessions))
    calls_by_session: dict[uuid.UUID, list[tuple[uuid.UUID, datetime, bool]]] = {}
    w = CopyWriter(
        cursor,
        "llm_interaction",
        (
            "id", "created_at", "session_id", "storyteller_id", "agent_id", "agent_version_id",
            "trace_id", "purpose", "prompt", "response", "model", "prompt_tokens",
            "response_tokens", "cost", "latency_ms", "time_to_first_token_ms", "is_streaming",
            "success", "error_type", "attempts",
        ),
    )  # fmt: skip
    prompt = json.dumps([{"role": "user", "content": "Where did you live as a child?"}])
    for index, (sid, teller, version_id, started, _status) in enumerate(started_sessions):
        trace = uuid.uuid4()
        mine = []
        for k in range(per_session + (1 if index < extra else 0)):
            cid = uuid.uuid4()
            at = min(started + timedelta(seconds=30 * k), now)
            ok = rng.random() > 0.06
            model = _pick_model(rng)
            priced = rng.random() > 0.15
            prompt_tokens = rng.randrange(300, 3000)
            response_tokens = rng.randrange(20, 400) if ok else None
            latency = int(rng.lognormvariate(6.7, 0.5))
            w.add(
                cid, at, sid, teller, agent.id, version_id, trace,
                "next_question" if k % 2 else "analysis", prompt,
                "Tell me about the house." if ok else None, model, prompt_tokens,
                response_tokens,
                f"{(prompt_tokens * 0.15 + (response_tokens or 0) * 0.6) / 1e6:.6f}"
                if priced else None,
                latency, int(latency * rng.uniform(0.2, 0.5)) if k % 2 else None,
                bool(k % 2), ok, None if ok else "timeout", 1,
            )  # fmt: skip
            mine.append((cid, at, ok))
        calls_by_session[sid] = mine
    calls = w.close()

    per_session, extra = divmod(args.events, len(sessions))
    w = CopyWriter(
        cursor,
        "event",
        (
            "id", "event_type", "trace_id", "session_id", "timestamp_ms", "payload", "sequence",
            "duration_ms", "llm_interaction_id", "created_at",
        ),
    )  # fmt: skip
    fallbacks = 0
    for index, (sid, _teller, _version, started, _status) in enumerate(sessions):
        count = per_session + (1 if index < extra else 0)
        session_calls = calls_by_session.get(sid, [])
        fell_back = [c for c in session_calls if not c[2] or rng.random() < 0.01]
        base = started or (now - timedelta(days=rng.randrange(1, args.days)))
        for seq in range(1, count + 1):
            at = min(base + timedelta(seconds=6 * seq), now)
            if fell_back and seq % 3 == 0:
                cid, at, _ok = fell_back.pop()
                event_type, payload, llm_id = "llm.fallback", '{"reason": "timeout"}', cid
                fallbacks += 1
            else:
                event_type, payload, llm_id = EVENT_TYPES[seq % len(EVENT_TYPES)], "{}", None
            w.add(
                uuid.uuid4(), event_type, None, sid, int(at.timestamp() * 1000), payload, seq,
                rng.randrange(1, 400), llm_id, at,
            )  # fmt: skip
    events = w.close()

    w = CopyWriter(
        cursor,
        "session_artifact",
        (
            "id", "session_id", "artifact_type", "content", "is_provisional", "is_approved",
            "included_in_synthesis", "review_status", "created_at", "updated_at",
        ),
    )  # fmt: skip
    for sid, _teller, _version, started, _status in started_sessions:
        for _ in range(3):
            approved = rng.random() < 0.6
            w.add(
                uuid.uuid4(), sid, "scene_capture", "The porch in summer.", not approved,
                approved, False, "approved" if approved else "provisional", started, started,
            )  # fmt: skip
    artifacts = w.close()
    connection.commit()
    cursor.execute("ANALYZE")
    connection.commit()
    raw.close()
    return {
        "admin_email": admin.email,
        "storytellers": STORYTELLERS,
        "sessions": len(sessions),
        "calls": calls,
        "events": events,
        "fallback_events": fallbacks,
        "artifacts": artifacts,
        "first_day": first_day.date(),
        "trace_session": started_sessions[len(started_sessions) // 2][0],
    }


# ------------------------------------------------------------------------------ timing


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return statistics.median(ordered), p95


COLD: list[float] = []  # the first request of each page: nothing summed before in this process


def time_requests(client, url: str, n: int) -> tuple[float, float, int]:
    started = time.perf_counter()
    client.get(url).get_data()
    COLD.append((time.perf_counter() - started) * 1000)
    response = client.get(url)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        response.get_data()
        samples.append((time.perf_counter() - started) * 1000)
    p50, p95 = _percentiles(samples)
    return p50, p95, response.status_code


def time_sql(run: Callable[[], object], n: int) -> tuple[float, float, object]:
    result = run()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        result = run()
        samples.append((time.perf_counter() - started) * 1000)
    p50, p95 = _percentiles(samples)
    return p50, p95, result


RAW_COST_BY_DAY = """
SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS calls,
       sum(cost) AS cost, count(*) - count(cost) AS unpriced
FROM llm_interaction
WHERE created_at >= :start AND created_at < :end
GROUP BY 1 ORDER BY 1
"""

RAW_FULL_BY_DAY = """
SELECT (l.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS calls,
       sum(CASE WHEN NOT l.success THEN 1 ELSE 0 END) AS failed,
       count(f.llm_interaction_id) AS fallbacks,
       sum(coalesce(l.prompt_tokens, 0)) AS prompt_tokens,
       sum(coalesce(l.response_tokens, 0)) AS response_tokens,
       sum(l.cost) AS cost, count(*) - count(l.cost) AS unpriced,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY l.latency_ms) AS latency_p50,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY l.latency_ms) AS latency_p95,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY l.time_to_first_token_ms) AS ttft_p50,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY l.time_to_first_token_ms) AS ttft_p95
FROM llm_interaction l
LEFT JOIN (SELECT DISTINCT llm_interaction_id FROM event
           WHERE event_type = 'llm.fallback' AND llm_interaction_id IS NOT NULL) f
       ON f.llm_interaction_id = l.id
WHERE l.created_at >= :start AND l.created_at < :end
GROUP BY 1 ORDER BY 1
"""


def _line(name: str, p50: float, p95: float, target: float | None) -> str:
    verdict = ""
    if target is not None:
        verdict = "  OK" if p95 <= target else f"  MISSED (target p95 {target:.0f} ms)"
    cold = f"   (first {COLD[-1]:6.1f} ms)" if COLD and target is not None else ""
    return f"  {name:<44} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms{verdict}{cold}"


def measure(app, args, data, label: str) -> dict[str, float]:
    print(
        f"\n== Timings ({label}), {args.requests} requests each, 90-day range; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs =="
    )
    client = app.test_client()
    response = client.post("/sign-in", data={"email": data["admin_email"], "password": PASSWORD})
    assert response.status_code == 303, response.status_code
    figures: dict[str, float] = {}
    for group in ("day", "model", "agent", "agent_version", "storyteller"):
        p50, p95, status = time_requests(
            client, f"/admin/dashboards/?range=90&group={group}", args.requests
        )
        figures[f"llm:{group}"] = p50
        print(_line(f"LLM usage by {group} (HTTP {status})", p50, p95, DASHBOARD_TARGET_MS))
    for group in ("day", "agent_version"):
        p50, p95, status = time_requests(
            client, f"/admin/dashboards/sessions?range=90&group={group}", args.requests
        )
        print(_line(f"Sessions by {group} (HTTP {status})", p50, p95, DASHBOARD_TARGET_MS))
    p50, p95, status = time_requests(
        client, "/admin/dashboards/?range=90&group=day&format=csv", args.requests
    )
    print(_line(f"LLM usage by day, CSV (HTTP {status})", p50, p95, DASHBOARD_TARGET_MS))

    p50, p95, status = time_requests(client, "/metrics", args.requests)
    print(_line(f"Prometheus scrape of /metrics (HTTP {status})", p50, p95, None))

    rules = {rule.rule for rule in app.url_map.iter_rules()}
    if "/admin/traces/<uuid:session_id>" in rules:
        p50, p95, status = time_requests(
            client, f"/admin/traces/{data['trace_session']}", args.requests
        )
        print(_line(f"Trace view of one session (HTTP {status})", p50, p95, TRACE_TARGET_MS))
    else:
        print("  Trace view: /admin/traces/<session_id> does not exist yet; not timed.")

    today = datetime.now(UTC).date()
    start = datetime.combine(today - timedelta(days=89), datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(days=1)
    with app.app_context():
        connection = db.engine.connect()
        params = {"start": start, "end": end}
        for name, sql, compare in (
            ("raw SQL: calls and cost by day", RAW_COST_BY_DAY, "llm:day"),
            ("raw SQL: every LLM figure by day", RAW_FULL_BY_DAY, "llm:day"),
        ):
            p50, p95, rows = time_sql(
                lambda sql=sql: connection.execute(text(sql), params).all(), args.requests
            )
            figures[name] = p50
            ratio = figures[compare] / p50 if p50 else float("nan")
            print(_line(name, p50, p95, None) + f"   dashboard/raw = {ratio:.2f}")
        connection.close()
        report_rows = rows
    return {"figures": figures, "raw_rows": report_rows}


def check_agreement(app, raw_rows) -> None:
    """The dashboard's 90-day figures equal those of the raw SQL."""
    from storyteller import dashboards

    today = datetime.now(UTC).date()
    with app.app_context():
        report = dashboards.llm_usage(db.session, today - timedelta(days=89), today, "day")
    by_day = {row.key: row for row in report.rows}
    mismatches = 0
    for raw in raw_rows:
        row = by_day.get(raw.day.isoformat())
        if row is None or (row.calls, row.failed_calls, row.fallback_calls, row.unpriced_calls) != (
            raw.calls,
            raw.failed,
            raw.fallbacks,
            raw.unpriced,
        ):
            mismatches += 1
        elif abs(float(row.cost) - float(raw.cost or 0)) > 1e-6:
            mismatches += 1
    total_raw = sum(r.calls for r in raw_rows)
    print(
        f"  agreement: {len(raw_rows)} days, {total_raw:,} calls in raw SQL, "
        f"{report.total.calls:,} on the dashboard, {mismatches} day(s) differ "
        "(calls, failed, fallbacks, unpriced, cost)"
    )


def analyze_rollups() -> None:
    """Table statistics for the freshly written rollup tables, as autovacuum gathers after a
    bulk write in production: without them the planner guesses a handful of rows and sorts
    where it should hash (47 ms instead of 28 ms for the storyteller grouping's sums)."""
    with db.engine.connect() as connection:
        connection.execute(
            text("ANALYZE llm_usage_daily, usage_daily, performance_daily, agent_metric")
        )
        connection.commit()


def reuse(args: argparse.Namespace) -> None:
    """Time a database filled by an earlier run with --keep (never dropped here)."""
    url = make_url(postgres_server_url()).set(database=args.reuse)
    url = url.render_as_string(hide_password=False)
    instance = tempfile.mkdtemp(prefix="storyteller-bench-")
    print(f"Database: {args.reuse} (PostgreSQL, reused); load average {os.getloadavg()}")
    app = create_app(test_config(url, instance))
    gc.freeze()  # as wsgi.py does
    logging.getLogger("storyteller").setLevel(logging.CRITICAL)
    with app.app_context():
        first = db.session.scalar(text("SELECT min(created_at) FROM llm_interaction"))
        started_ids = db.session.scalars(
            text("SELECT id FROM session WHERE started_at IS NOT NULL ORDER BY id")
        ).all()
        data = {
            "admin_email": "admin@example.org",
            "first_day": first.astimezone(UTC).date(),
            "trace_session": started_ids[len(started_ids) // 2],
        }
        if args.rollup:
            started = time.perf_counter()
            report = rollups.rollup(db.session, data["first_day"], datetime.now(UTC).date())
            db.session.commit()
            print(f"Rollup of {report.days} days in {time.perf_counter() - started:.1f} s:")
            for name, counts in report.tables.items():
                print(f"  {name}: {counts}")
            analyze_rollups()
        db.session.remove()
    result = measure(app, args, data, "reused database")
    check_agreement(app, result["raw_rows"])
    with app.app_context():
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", metavar="DBNAME", help="time a database kept by --keep")
    parser.add_argument("--rollup", action="store_true", help="with --reuse: rollup again first")
    args = parser.parse_args()
    if args.reuse:
        reuse(args)
        return

    url = create_postgres_database("storyteller_bench")
    instance = tempfile.mkdtemp(prefix="storyteller-bench-")
    print(f"Database: {url.rsplit('/', 1)[-1]} (PostgreSQL); load average {os.getloadavg()}")
    try:
        app = create_app(test_config(url, instance))
        gc.freeze()  # as wsgi.py does
        # One log line per request would drown the figures; errors still count as HTTP 500.
        logging.getLogger("storyteller").setLevel(logging.CRITICAL)
        now = datetime.now(UTC)
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            data = fill(args, now)
            fill_s = time.perf_counter() - started
            print(
                f"Filled in {fill_s:.1f} s: {data['storytellers']:,} storytellers, "
                f"{data['sessions']:,} sessions, {data['calls']:,} LLM calls, "
                f"{data['events']:,} events ({data['fallback_events']:,} fallbacks), "
                f"{data['artifacts']:,} artifacts over {args.days} days"
            )
            started = time.perf_counter()
            report = rollups.rollup(db.session, data["first_day"], now.date())
            db.session.commit()
            rollup_s = time.perf_counter() - started
            print(f"Rollup of {report.days} days in {rollup_s:.1f} s:")
            for name, counts in report.tables.items():
                print(f"  {name}: {counts}")
            started = time.perf_counter()
            again = rollups.rollup(db.session, data["first_day"], now.date())
            db.session.commit()
            analyze_rollups()
            print(
                f"Rerun (idempotent) in {time.perf_counter() - started:.1f} s: "
                f"{again.changed} rows changed"
            )
            db.session.remove()
        result = measure(app, args, data, "schema indexes only")
        check_agreement(app, result["raw_rows"])
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        if args.keep:
            print(f"Kept: {url}")
        else:
            drop_postgres_database(url)


if __name__ == "__main__":
    main()
