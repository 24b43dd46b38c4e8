"""Prometheus metrics: HTTP requests counted in the process, LLM figures read from the database.

Two sources, so that several app servers side by side report consistent figures:

- HTTP requests by endpoint (the Flask endpoint name, never the raw path, so an id in the
  address does not make a new series), method and status, and a latency histogram, are kept
  in this process. Each app server is scraped on its own; under gunicorn with several workers
  set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory (before start) and every worker
  writes its counts there; a scrape of any worker then adds them all up.
- LLM calls, tokens, cost and errors come from the database at scrape time (a few grouped
  queries): they are the same whichever server is scraped, and survive restarts. The LLM
  figures of the days ``flask rollup`` has summed (through yesterday at the latest) are read
  from ``llm_usage_daily``, the calls since from ``llm_interaction``: a scrape costs the same
  after a year as after a week, and the totals do not drop when ``flask retention`` purges
  old calls (183 days; a drop would read to Prometheus as a counter reset). Days before the
  latest rolled-up day that the rollup never summed are not counted: run ``flask rollup``
  over every day once, then daily.

The request hooks are registered by the operations blueprint (``before_app_request``);
``may_scrape`` decides who may read the figures.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session as DbSession

from storyteller.models import AgentError, LlmInteraction, LlmUsageDaily, utcnow
from storyteller.rollups import day_bounds

__all__ = ["may_scrape", "observe_request_end", "observe_request_start", "render_metrics"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Not registered in the global registry: each scrape builds its own (see render_metrics), so
# several app instances in one process (tests) never clash.
HTTP_REQUESTS = Counter(
    "storyteller_http_requests",
    "HTTP requests answered, by Flask endpoint, method and status code.",
    ("endpoint", "method", "status"),
    registry=None,
)
HTTP_LATENCY = Histogram(
    "storyteller_http_request_duration_seconds",
    "Time to answer an HTTP request (until the response is returned), by endpoint and method.",
    ("endpoint", "method"),
    buckets=LATENCY_BUCKETS,
    registry=None,
)
_STARTED = "_metrics_started"


def _endpoint() -> str:
    # No rule matched (a 404 or 405): one series for all of them, whatever the path.
    return request.url_rule.endpoint if request.url_rule is not None else "unmatched"


def observe_request_start() -> None:
    setattr(g, _STARTED, time.perf_counter())


def observe_request_end(response: Response) -> Response:
    started = getattr(g, _STARTED, None)
    endpoint, method = _endpoint(), request.method
    HTTP_REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
    if started is not None:
        HTTP_LATENCY.labels(endpoint, method).observe(time.perf_counter() - started)
    return response


class _InProcessCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from HTTP_REQUESTS.collect()
        yield from HTTP_LATENCY.collect()


class DatabaseCollector(Collector):
    """LLM calls, tokens, cost and errors: all-time totals from the database at scrape time."""

    def __init__(self, db: DbSession) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "storyteller_llm_calls",
            "LLM calls recorded, by model and outcome.",
            labels=["model", "outcome"],
        )
        tokens = CounterMetricFamily(
            "storyteller_llm_tokens",
            "LLM tokens, by model and kind (prompt or response).",
            labels=["model", "kind"],
        )
        cost = CounterMetricFamily(
            "storyteller_llm_cost_usd",
            "Cost of the priced LLM calls in US dollars, by model.",
            labels=["model"],
        )
        unpriced = CounterMetricFamily(
            "storyteller_llm_unpriced_calls",
            "LLM calls without a known price (not counted in the cost), by model.",
            labels=["model"],
        )
        latency = CounterMetricFamily(
            "storyteller_llm_latency_seconds_sum",
            "Summed latency of the LLM calls that reported one, by model.",
            labels=["model"],
        )
        per_model: dict[str, list[float]] = {}
        outcomes: dict[tuple[str, str], int] = {}
        for model, succeeded, failed, prompt, response, spent, no_price, latency_ms in _llm_totals(
            self.db
        ):
            outcomes[model, "success"] = outcomes.get((model, "success"), 0) + int(succeeded)
            outcomes[model, "error"] = outcomes.get((model, "error"), 0) + int(failed)
            totals = per_model.setdefault(model, [0, 0, 0.0, 0, 0])
            totals[0] += int(prompt or 0)
            totals[1] += int(response or 0)
            totals[2] += float(Decimal(str(spent))) if spent is not None else 0.0
            totals[3] += int(no_price or 0)
            totals[4] += int(latency_ms or 0)
        for (model, outcome), count in sorted(outcomes.items()):
            calls.add_metric([model, outcome], count)
        for model, (prompt, response, spent, no_price, latency_ms) in sorted(per_model.items()):
            tokens.add_metric([model, "prompt"], prompt)
            tokens.add_metric([model, "response"], response)
            cost.add_metric([model], spent)
            unpriced.add_metric([model], no_price)
            latency.add_metric([model], latency_ms / 1000)
        yield from (calls, tokens, cost, unpriced, latency)

        errors = CounterMetricFamily(
            "storyteller_agent_errors", "Agent errors recorded, by type.", labels=["error_type"]
        )
        open_errors = GaugeMetricFamily(
            "storyteller_agent_errors_unresolved",
            "Agent errors not yet marked resolved, by type.",
            labels=["error_type"],
        )
        for error_type, count, unresolved in self.db.execute(
            select(
                AgentError.error_type,
                func.count(AgentError.id),
                func.sum(case((AgentError.is_resolved.is_(False), 1), else_=0)),
            ).group_by(AgentError.error_type)
        ):
            errors.add_metric([error_type], count)
            open_errors.add_metric([error_type], int(unresolved or 0))
        yield from (errors, open_errors)


def _llm_totals(db: DbSession) -> list[tuple[Any, ...]]:
    """(model, succeeded, failed, prompt tokens, response tokens, cost, unpriced calls,
    latency ms) rows: the rolled-up days through yesterday at the latest, then the raw calls
    since (a model may have a row of each)."""
    u = LlmUsageDaily
    llm = LlmInteraction
    today = utcnow().date()
    last_rolled_up = db.scalar(select(func.max(u.date)).where(u.date < today))
    rows: list[tuple[Any, ...]] = []
    raw = select(
        llm.model,
        func.sum(case((llm.success.is_(False), 0), else_=1)),
        func.sum(case((llm.success.is_(False), 1), else_=0)),
        func.sum(llm.prompt_tokens),
        func.sum(llm.response_tokens),
        func.sum(llm.cost),
        func.sum(case((llm.cost.is_(None), 1), else_=0)),
        func.sum(llm.latency_ms),
    ).group_by(llm.model)
    if last_rolled_up is not None:
        rows += db.execute(
            select(
                u.model,
                func.sum(u.calls - u.failed_calls),
                func.sum(u.failed_calls),
                func.sum(u.prompt_tokens),
                func.sum(u.response_tokens),
                func.sum(u.total_cost),
                func.sum(u.unpriced_calls),
                func.sum(u.latency_sum_ms),
            )
            .where(u.date <= last_rolled_up)
            .group_by(u.model)
        ).all()
        raw = raw.where(llm.created_at >= day_bounds(last_rolled_up + timedelta(days=1))[0])
    return rows + list(db.execute(raw).all())


def render_metrics(db: DbSession) -> tuple[bytes, str]:
    """The metrics text of this scrape and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_InProcessCollector())
    registry.register(DatabaseCollector(db))
    return generate_latest(registry), CONTENT_TYPE_LATEST


LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def may_scrape(
    *,
    remote_addr: str | None,
    headers: Mapping[str, str],
    token: str | None,
    behind_proxy: bool,
) -> bool:
    """Who may read /metrics: the bearer of ``METRICS_TOKEN``, or this machine itself.

    "This machine" is a loopback ``remote_addr``. Behind a proxy with ProxyFix on
    (``STORYTELLER_PROXY_FIX``), ``remote_addr`` is already the client the proxy reports, so it
    is trusted as it is. Without ProxyFix a proxy on the same host would make every visitor
    look local, so a loopback request that carries a forwarding header is refused.
    """
    authorization = headers.get("Authorization", "")
    if token and authorization.startswith("Bearer "):
        offered = authorization[len("Bearer ") :].strip()
        if hmac.compare_digest(offered.encode(), token.encode()):
            return True
    if remote_addr not in LOOPBACK:
        return False
    if behind_proxy:
        return True
    return not any(headers.get(name) for name in FORWARDING_HEADERS)
