"""How long does one Prometheus scrape of /metrics take on a large PostgreSQL database?

    .venv/bin/python bench/metrics_scrape.py [--calls 200000] [--errors 5000] [--repeat 20]

Creates a scratch PostgreSQL database (TEST_DATABASE_URL or postgres@127.0.0.1:5432) with
the schema, bulk-inserts (INSERT ... SELECT over generate_series) N llm_interaction rows
over 5 models and 90 days (a fifth failed, a tenth unpriced) and M agent_error rows over 6
types, then times GET /metrics through the Flask test client from 127.0.0.1 (the database
collector's grouped queries plus the in-process request series), and the collector's
queries alone. Prints p50 / p95 / max in ms. The scratch database is dropped at the end.
A report: it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import text  # noqa: E402

from storyteller import create_app, metrics  # noqa: E402
from storyteller.extensions import db  # noqa: E402
from tests.conftest import create_postgres_database, drop_postgres_database  # noqa: E402

MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "llama3.1:8b", "offline")
ERROR_TYPES = ("timeout", "server_error", "rate_limited", "bad_response", "refused", "other")


def fill(calls: int, errors: int) -> None:
    """Server-side bulk insert (INSERT ... SELECT over generate_series): seconds, not minutes."""
    models = "ARRAY[" + ", ".join(f"'{m}'" for m in MODELS) + "]"
    types = "ARRAY[" + ", ".join(f"'{t}'" for t in ERROR_TYPES) + "]"
    db.session.execute(
        text(
            f"""
            INSERT INTO llm_interaction (id, created_at, model, success, prompt_tokens,
                response_tokens, cost, latency_ms, is_streaming, attempts)
            SELECT gen_random_uuid(), now() - (i % 90) * interval '1 day',
                ({models})[1 + i % {len(MODELS)}], i % 5 <> 0, 50 + (i * 7919) % 1950,
                CASE WHEN i % 5 = 0 THEN NULL ELSE 5 + (i * 104729) % 195 END,
                CASE WHEN i % 10 = 3 THEN NULL ELSE ((i * 31) % 900 + 1) / 1000000.0 END,
                100 + (i * 7) % 3900, false, 1
            FROM generate_series(1::bigint, :calls) AS i
            """
        ),
        {"calls": calls},
    )
    db.session.execute(
        text(
            f"""
            INSERT INTO agent_error (id, created_at, error_type, error_message, is_resolved)
            SELECT gen_random_uuid(), now(), ({types})[1 + i % {len(ERROR_TYPES)}], 'bench',
                i % 3 = 0
            FROM generate_series(1, :errors) AS i
            """
        ),
        {"errors": errors},
    )
    db.session.commit()


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (
        f"p50 {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   max {ordered[-1]:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--errors", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    url = create_postgres_database("storyteller_bench_metrics")
    try:
        with tempfile.TemporaryDirectory() as instance:
            app = create_app(
                {
                    "SQLALCHEMY_DATABASE_URI": url,
                    "SECRET_KEY": "bench",
                    "INSTANCE_PATH": instance,
                    "LOG_LEVEL": "WARNING",
                }
            )
            with app.app_context():
                db.create_all()
                started = time.perf_counter()
                fill(args.calls, args.errors)
                db.session.execute(text("ANALYZE"))
                db.session.commit()
                print(
                    f"filled {args.calls:,} LLM calls and {args.errors:,} agent errors "
                    f"in {time.perf_counter() - started:.1f} s"
                )
            client = app.test_client()
            client.get("/metrics")  # warm up: connection pool, imports
            scrapes = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                response = client.get("/metrics")
                scrapes.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200
            queries = []
            with app.app_context():
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    list(metrics.DatabaseCollector(db.session).collect())
                    queries.append((time.perf_counter() - t0) * 1000)
                    db.session.rollback()
            size = len(response.data)
            print(f"GET /metrics ({size:,} bytes), {args.repeat} scrapes: {summary(scrapes)}")
            print(f"database collector alone:            {summary(queries)}")
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    finally:
        drop_postgres_database(url)


if __name__ == "__main__":
    main()
