"""/healthz, /readyz and /metrics: what a load balancer and Prometheus see, and who may look."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask_migrate import stamp

from storyteller import create_app, metrics, readiness, rollups
from storyteller.extensions import db
from storyteller.models import AgentError, LlmInteraction, utcnow
from tests import interview_helpers
from tests.conftest import IsolatedClient, create_postgres_database, drop_postgres_database
from tests.conftest import test_config as make_config
from tests.test_migrations import MIGRATIONS, script_directory

app_factory = interview_helpers.app_factory

OUTSIDER = {"REMOTE_ADDR": "203.0.113.9"}


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or None when it is absent."""
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return None


# ----------------------------------------------------------------------------- /healthz, /readyz


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def scratch_app(request, tmp_path) -> Iterator[Flask]:
    """An app on an empty database of its own, for stamping Alembic revisions."""
    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'ready.db'}", None
    else:
        url = create_postgres_database("storyteller_readyz")
        drop = url
    app = create_app(make_config(url, str(tmp_path / "instance")))
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if drop:
        drop_postgres_database(drop)


def test_readyz_follows_the_database_revision(scratch_app):
    client = scratch_app.test_client()
    head = script_directory().get_current_head()
    history = [s.revision for s in script_directory().walk_revisions()]
    older = history[1]  # the revision just before the head

    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "not ready"
    assert "no migrations applied" in response.json["reason"]

    with scratch_app.app_context():
        stamp(directory=str(MIGRATIONS), revision=older)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["reason"].startswith("database is not at the latest migration")
    assert response.json["database_revision"] == [older]
    assert response.json["head_revision"] == [head]

    with scratch_app.app_context():
        stamp(directory=str(MIGRATIONS), revision="head")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ready",
        "database_revision": [head],
        "head_revision": [head],
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_without_a_database_and_readyz_says_it_is_unreachable(tmp_path):
    # A database that cannot be opened: the folder does not exist.
    url = f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}"
    app = create_app(make_config(url, str(tmp_path / "instance")))
    client = app.test_client()
    response = client.get("/healthz")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok\n")
    assert response.mimetype == "text/plain"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["reason"] == "database unreachable (OperationalError)"
    assert "nowhere.db" not in response.get_data(as_text=True)  # no connection details


def test_the_head_is_read_from_the_migration_scripts():
    assert readiness.migration_heads(str(MIGRATIONS)) == tuple(script_directory().get_heads())


# ----------------------------------------------------------------------------- /metrics: figures


def test_metrics_count_requests_by_endpoint_not_by_path(client, make_user, login):
    before = client.get("/metrics").get_data(as_text=True)
    base = _sample(
        before, "storyteller_http_requests_total", endpoint="unmatched", method="GET", status="404"
    )
    client.get("/no-such-page/1")
    client.get("/no-such-page/2")
    client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    assert (
        _sample(
            text,
            "storyteller_http_requests_total",
            endpoint="unmatched",
            method="GET",
            status="404",
        )
        == (base or 0) + 2
    )
    assert "no-such-page" not in text
    assert (
        _sample(
            text,
            "storyteller_http_requests_total",
            endpoint="operations.healthz",
            method="GET",
            status="200",
        )
        >= 1
    )
    count = _sample(
        text,
        "storyteller_http_request_duration_seconds_count",
        endpoint="operations.healthz",
        method="GET",
    )
    assert count is not None and count >= 1
    assert (
        _sample(
            text,
            "storyteller_http_request_duration_seconds_bucket",
            endpoint="operations.healthz",
            method="GET",
            le="+Inf",
        )
        == count
    )


def test_metrics_read_llm_calls_tokens_cost_and_errors_from_the_database(client, db_session):
    model = "metrics-test-model"
    rows = [
        (True, 100, 20, Decimal("0.0015"), 400),
        (True, 50, 10, None, 600),  # unpriced: counted apart, not in the cost
        (False, 30, None, None, 1000),
    ]
    for success, prompt, response, cost, latency in rows:
        db_session.add(
            LlmInteraction(
                model=model,
                success=success,
                prompt_tokens=prompt,
                response_tokens=response,
                cost=cost,
                latency_ms=latency,
            )
        )
    db_session.add(AgentError(error_type="metrics_test_timeout", error_message="slow"))
    db_session.add(
        AgentError(error_type="metrics_test_timeout", error_message="slow", is_resolved=True)
    )
    db_session.flush()

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert _sample(text, "storyteller_llm_calls_total", model=model, outcome="success") == 2
    assert _sample(text, "storyteller_llm_calls_total", model=model, outcome="error") == 1
    assert _sample(text, "storyteller_llm_tokens_total", model=model, kind="prompt") == 180
    assert _sample(text, "storyteller_llm_tokens_total", model=model, kind="response") == 30
    assert _sample(text, "storyteller_llm_cost_usd_total", model=model) == pytest.approx(0.0015)
    assert _sample(text, "storyteller_llm_unpriced_calls_total", model=model) == 2
    assert _sample(text, "storyteller_llm_latency_seconds_sum_total", model=model) == 2.0
    assert _sample(text, "storyteller_agent_errors_total", error_type="metrics_test_timeout") == 2
    assert (
        _sample(text, "storyteller_agent_errors_unresolved", error_type="metrics_test_timeout") == 1
    )


def test_metrics_read_rolled_up_days_from_the_rollup_and_do_not_drop_when_calls_are_purged(
    client, db_session
):
    """Days summed by `flask rollup` come from llm_usage_daily: purging their raw calls (as
    `flask retention` does) leaves the counters where they were, and today's calls are read
    raw even when the rollup was run over today."""
    model = f"metrics-rollup-{uuid.uuid4().hex[:6]}"
    today = utcnow().date()
    past = datetime.combine(today - timedelta(days=3), datetime.min.time(), tzinfo=UTC)

    def call(at, success=True, cost=Decimal("0.001")):
        row = LlmInteraction(
            model=model,
            success=success,
            prompt_tokens=40,
            response_tokens=5,
            cost=cost,
            latency_ms=250,
            created_at=at,
        )
        db_session.add(row)
        return row

    old = [call(past + timedelta(hours=1)), call(past + timedelta(hours=2), success=False)]
    call(utcnow())
    db_session.flush()

    def figures():
        text = client.get("/metrics").get_data(as_text=True)
        return (
            _sample(text, "storyteller_llm_calls_total", model=model, outcome="success"),
            _sample(text, "storyteller_llm_calls_total", model=model, outcome="error"),
            _sample(text, "storyteller_llm_tokens_total", model=model, kind="prompt"),
            _sample(text, "storyteller_llm_cost_usd_total", model=model),
            _sample(text, "storyteller_llm_latency_seconds_sum_total", model=model),
        )

    before = figures()
    assert before == (2, 1, 120, pytest.approx(0.003), 0.75)
    rollups.rollup(db_session, today - timedelta(days=5), today)  # today included
    db_session.flush()
    assert figures() == before
    for row in old:  # what retention does to calls past their period
        db_session.delete(row)
    db_session.flush()
    assert figures() == before
    call(utcnow(), success=False, cost=None)  # after the rollup of today: read raw
    db_session.flush()
    assert figures() == (2, 2, 160, pytest.approx(0.003), 1.0)


# ----------------------------------------------------------------------------- /metrics: access


def test_metrics_from_elsewhere_need_the_token(app_factory):
    secured = app_factory(METRICS_TOKEN="s3cret-metrics-token")
    client = secured.test_client()
    assert client.get("/metrics", environ_base=OUTSIDER).status_code == 404
    wrong = {"Authorization": "Bearer not-the-token"}
    assert client.get("/metrics", environ_base=OUTSIDER, headers=wrong).status_code == 404
    right = {"Authorization": "Bearer s3cret-metrics-token"}
    assert client.get("/metrics", environ_base=OUTSIDER, headers=right).status_code == 200
    # From this machine no token is needed.
    assert client.get("/metrics").status_code == 200

    open_app = app_factory()  # no METRICS_TOKEN configured: no token opens it
    outsider = open_app.test_client()
    assert outsider.get("/metrics", environ_base=OUTSIDER).status_code == 404
    assert outsider.get("/metrics", environ_base=OUTSIDER, headers=right).status_code == 404


def test_a_forwarded_request_is_not_local(app_factory):
    # Without ProxyFix, a proxy on this host connects from 127.0.0.1: the header gives it away.
    direct = app_factory().test_client()
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    assert direct.get("/metrics", headers=forwarded).status_code == 404
    assert direct.get("/metrics", headers={"Forwarded": "for=203.0.113.9"}).status_code == 404

    # With ProxyFix, remote_addr is the client the proxy names: an outsider stays outside.
    proxied = app_factory(STORYTELLER_PROXY_FIX=True).test_client()
    assert proxied.get("/metrics", headers=forwarded).status_code == 404
    spoofed = {"X-Forwarded-For": "127.0.0.1, 203.0.113.9"}  # only the proxy's entry counts
    assert proxied.get("/metrics", headers=spoofed).status_code == 404
    assert proxied.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


@pytest.mark.parametrize(
    ("remote", "headers", "token", "behind_proxy", "allowed"),
    [
        ("127.0.0.1", {}, None, False, True),
        ("::1", {}, None, False, True),
        ("10.0.0.5", {}, None, False, False),
        ("127.0.0.1", {"X-Real-IP": "198.51.100.1"}, None, False, False),
        ("127.0.0.1", {"X-Forwarded-For": "198.51.100.1"}, None, True, True),
        ("10.0.0.5", {"Authorization": "Bearer t"}, "t", False, True),
        ("10.0.0.5", {"Authorization": "Bearer t"}, None, False, False),
        ("10.0.0.5", {"Authorization": "Basic t"}, "t", False, False),
        ("10.0.0.5", {"Authorization": "Bearer "}, "t", False, False),
    ],
)
def test_may_scrape(remote, headers, token, behind_proxy, allowed):
    assert (
        metrics.may_scrape(
            remote_addr=remote, headers=headers, token=token, behind_proxy=behind_proxy
        )
        is allowed
    )


MULTIPROCESS_SCRIPT = """
import sys
from storyteller import create_app
from storyteller.extensions import db

app = create_app({
    "SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "x", "INSTANCE_PATH": sys.argv[2],
    "TESTING": True, "LOG_LEVEL": "WARNING",
})
with app.app_context():
    db.create_all()
client = app.test_client()
for _ in range(int(sys.argv[3])):
    client.get("/healthz")
if sys.argv[4] == "scrape":
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
"""


def test_worker_processes_add_up_through_prometheus_multiproc_dir(tmp_path):
    """Two "workers" (processes) count into PROMETHEUS_MULTIPROC_DIR; a scrape sums them."""
    import os
    import subprocess
    import sys

    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    url = f"sqlite:///{tmp_path / 'multi.db'}"

    def worker(requests: int, mode: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", MULTIPROCESS_SCRIPT, url, str(tmp_path / "i"), str(requests),
             mode],
            env=env, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        return done.stdout

    worker(3, "quiet")
    text = worker(2, "scrape")
    assert (
        _sample(
            text,
            "storyteller_http_requests_total",
            endpoint="operations.healthz",
            method="GET",
            status="200",
        )
        == 5
    )
    assert "# TYPE storyteller_llm_calls_total counter" in text  # the database figures too
