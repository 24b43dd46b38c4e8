"""A varied telemetry dataset for the rollup and dashboard tests, and the figures computed
straight from its raw rows (independently of storyteller.rollups).

Several days, agents, versions, models and storytellers; failed calls, unpriced calls (cost
NULL), calls without a latency, calls whose version is only on their agent_execution, calls
without a storyteller, fallbacks (``llm.fallback`` events), session interactions with tools.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from storyteller import events
from storyteller.models import (
    Agent,
    AgentExecution,
    AgentVersion,
    Event,
    LlmInteraction,
    Session,
    SessionInteraction,
    Storyteller,
)
from storyteller.models.agents import LATENCY_BUCKETS_MS

FIRST_DAY = date(2026, 3, 1)
DAYS = 4
MODELS = ("gpt-4o-mini", "llama-3-8b", "claude-haiku")


@dataclass
class Dataset:
    storytellers: list[Storyteller]
    agents: list[Agent]
    versions: list[AgentVersion]
    sessions: list[Session]
    calls: list[LlmInteraction] = field(default_factory=list)
    first_day: date = FIRST_DAY
    last_day: date = FIRST_DAY + timedelta(days=DAYS - 1)


def _at(day: date, rng: random.Random) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        seconds=rng.randrange(0, 86_400)
    )


def build(db: DbSession, make_storyteller: Any, seed: int = 7, calls: int = 160) -> Dataset:
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:6]
    storytellers = [make_storyteller(display_name=f"Teller {tag} {n}") for n in range(3)]
    interviewer = Agent(name=f"interviewer-{tag}", type="interviewer")
    summarizer = Agent(name=f"summarizer-{tag}", type="summarizer")
    db.add_all([interviewer, summarizer])
    db.flush()
    versions = [
        AgentVersion(agent_id=interviewer.id, version_number="1", is_active=False),
        AgentVersion(agent_id=interviewer.id, version_number="2", is_active=True),
        AgentVersion(agent_id=summarizer.id, version_number="1", is_active=True),
    ]
    db.add_all(versions)
    db.flush()
    sessions = []
    for n in range(8):
        day = FIRST_DAY + timedelta(days=n % DAYS)
        status = ("completed", "in_progress", "cancelled", "paused")[n % 4]
        version = versions[n % 2]
        session = Session(
            storyteller_id=storytellers[n % 3].id,
            intention="Childhood",
            session_name=f"S{n}",
            agent_id=interviewer.id,
            agent_version_id=version.id,
            status=status,
            started_at=_at(day, rng),
            ended_at=_at(day, rng) if status == "completed" else None,
            actual_duration_minutes=20 + n if status == "completed" else None,
            completion_percentage=[100, 40, 10, 60][n % 4],
            quality_score=[0.9, None, None, None][n % 4],
            user_satisfaction=[5, None, None, None][n % 4] if n != 4 else 3,
            scheduled_at=_at(day, rng),
        )
        db.add(session)
        sessions.append(session)
    db.flush()
    data = Dataset(storytellers, [interviewer, summarizer], versions, sessions)
    for n in range(calls):
        session = rng.choice(sessions)
        day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        use_summarizer = rng.random() < 0.2
        agent = summarizer if use_summarizer else interviewer
        version = versions[2] if use_summarizer else rng.choice(versions[:2])
        execution = AgentExecution(
            agent_id=agent.id,
            agent_version_id=version.id,
            session_id=session.id,
            status="succeeded",
            started_at=_at(day, rng),
        )
        db.add(execution)
        db.flush()
        success = rng.random() > 0.15
        priced = rng.random() > 0.25
        version_on_call = rng.random() > 0.3  # else only on the execution
        no_storyteller = rng.random() < 0.05
        latency = rng.choice([None, rng.randrange(10, 70_000), rng.randrange(100, 3000)])
        ttft = rng.choice([None, rng.randrange(5, 2000)])
        call = LlmInteraction(
            session_id=session.id,
            storyteller_id=None if no_storyteller else session.storyteller_id,
            agent_id=agent.id if version_on_call else None,
            agent_version_id=version.id if version_on_call else None,
            agent_execution_id=execution.id,
            trace_id=execution.trace_id,
            purpose="next_question",
            model=rng.choice(MODELS),
            prompt_tokens=rng.randrange(50, 2000) if success or n % 2 else None,
            response_tokens=rng.randrange(10, 500) if success else None,
            cost=Decimal(rng.randrange(1, 90_000)) / Decimal(1_000_000) if priced else None,
            latency_ms=latency,
            time_to_first_token_ms=ttft,
            success=success,
            created_at=_at(day, rng),
        )
        db.add(call)
        db.flush()
        data.calls.append(call)
        if not success or rng.random() < 0.1:
            events.record_event(
                db,
                event_type="llm.fallback",
                session_id=session.id,
                llm_interaction_id=call.id,
                payload={"reason": "test"},
            )
    # Interactions: messages and tools, on several days.
    for n, session in enumerate(sessions):
        for k in range(3):
            day = FIRST_DAY + timedelta(days=(n + k) % DAYS)
            db.add(
                SessionInteraction(
                    session_id=session.id,
                    interaction_sequence=k + 1,
                    agent_prompt="Where did you live?",
                    storyteller_response="On Adams Street." if k < 2 else None,
                    tools_used=[{"name": "memory_search"}, "timeline"] if k == 0 else [],
                    created_at=_at(day, rng),
                )
            )
    db.flush()
    return data


# ------------------------------------------------------------- figures from the raw rows


def _bucket(value: int) -> int:
    for index, bound in enumerate(LATENCY_BUCKETS_MS):
        if value <= bound:
            return index
    return len(LATENCY_BUCKETS_MS)


def raw_calls(db: DbSession, first: date, last: date) -> list[dict[str, Any]]:
    """Every call in [first, last] with its resolved agent, version, day and fallback flag."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    fallback_ids = set(
        db.scalars(select(Event.llm_interaction_id).where(Event.event_type == "llm.fallback"))
    )
    out = []
    for call in db.scalars(
        select(LlmInteraction).where(
            LlmInteraction.created_at >= start, LlmInteraction.created_at < end
        )
    ):
        execution = (
            db.get(AgentExecution, call.agent_execution_id) if call.agent_execution_id else None
        )
        out.append(
            {
                "call": call,
                "day": call.created_at.astimezone(UTC).date(),
                "storyteller_id": call.storyteller_id,
                "agent_id": call.agent_id or (execution.agent_id if execution else None),
                "version_id": call.agent_version_id
                or (execution.agent_version_id if execution else None),
                "model": call.model,
                "fallback": call.id in fallback_ids,
            }
        )
    return out


def expected_llm_usage(db: DbSession, first: date, last: date) -> dict[tuple, dict[str, Any]]:
    groups: dict[tuple, dict[str, Any]] = defaultdict(
        lambda: {
            "calls": 0,
            "failed_calls": 0,
            "fallback_calls": 0,
            "prompt_tokens": 0,
            "response_tokens": 0,
            "priced_calls": 0,
            "unpriced_calls": 0,
            "total_cost": Decimal("0"),
            "latency_sum_ms": 0,
            "latency_histogram": [0] * (len(LATENCY_BUCKETS_MS) + 1),
            "ttft_count": 0,
            "ttft_sum_ms": 0,
            "ttft_histogram": [0] * (len(LATENCY_BUCKETS_MS) + 1),
        }
    )
    for r in raw_calls(db, first, last):
        c = r["call"]
        g = groups[(r["day"], r["storyteller_id"], r["agent_id"], r["version_id"], r["model"])]
        g["calls"] += 1
        g["failed_calls"] += 0 if c.success else 1
        g["fallback_calls"] += 1 if r["fallback"] else 0
        g["prompt_tokens"] += c.prompt_tokens or 0
        g["response_tokens"] += c.response_tokens or 0
        if c.cost is None:
            g["unpriced_calls"] += 1
        else:
            g["priced_calls"] += 1
            g["total_cost"] += c.cost
        if c.latency_ms is not None:
            g["latency_sum_ms"] += c.latency_ms
            g["latency_histogram"][_bucket(c.latency_ms)] += 1
        if c.time_to_first_token_ms is not None:
            g["ttft_count"] += 1
            g["ttft_sum_ms"] += c.time_to_first_token_ms
            g["ttft_histogram"][_bucket(c.time_to_first_token_ms)] += 1
    # Stored sparse: {"<bucket index>": count} of the non-zero buckets.
    for g in groups.values():
        for name in ("latency_histogram", "ttft_histogram"):
            g[name] = {str(i): n for i, n in enumerate(g[name]) if n}
    return dict(groups)
