"""agent_comparison.compare_versions against figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from storyteller import agent_comparison, agent_versions
from storyteller.models import AgentExecution, LlmInteraction

STARTED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def two_versions(db_session, make_storyteller, make_session):
    agent, v1 = agent_versions.ensure_interviewer_agent(db_session)
    v2 = agent_versions.create_agent_version(
        db_session, agent_id=agent.id, version_number="2.0.0-cmp", is_active=True
    )
    unused = agent_versions.create_agent_version(
        db_session, agent_id=agent.id, version_number="3.0.0-cmp"
    )
    storyteller = make_storyteller()

    def session(version, **fields):
        return make_session(storyteller, agent_id=agent.id, agent_version_id=version.id, **fields)

    # Version 1: three sessions; two started (one completed), one only scheduled.
    s1 = session(
        v1,
        status="completed",
        started_at=STARTED,
        completion_percentage=100,
        user_satisfaction=5,
    )
    s2 = session(
        v1, status="in_progress", started_at=STARTED, completion_percentage=40, user_satisfaction=2
    )
    session(v1, status="scheduled")
    # Version 2: one completed session rated 3.
    session(
        v2, status="completed", started_at=STARTED, completion_percentage=80, user_satisfaction=3
    )
    # Someone else's version does not count: a session with no version at all.
    make_session(storyteller, status="completed", started_at=STARTED)

    def call(version, sess, prompt, response, cost, success=True):
        db_session.add(
            LlmInteraction(
                session_id=sess.id,
                storyteller_id=storyteller.id,
                agent_id=agent.id,
                agent_version_id=version.id,
                model="gpt-4o-mini",
                prompt_tokens=prompt,
                response_tokens=response,
                cost=cost,
                success=success,
            )
        )

    call(v1, s1, 100, 20, Decimal("0.001"))
    call(v1, s1, 50, 10, None)  # unpriced: counted apart, never as $0
    call(v1, s2, 30, None, Decimal("0.0005"), success=False)
    for status in ("succeeded", "succeeded", "failed"):
        db_session.add(
            AgentExecution(
                agent_id=agent.id, agent_version_id=v1.id, session_id=s1.id, status=status
            )
        )
    db_session.flush()
    return v1, v2, unused


def test_figures_per_version_match_the_hand_computed_ones(db_session, two_versions):
    v1, v2, unused = two_versions
    first, second, third = agent_comparison.compare_versions(db_session, [v1, v2, unused])

    assert first.version is v1
    assert (first.sessions, first.started, first.completed) == (3, 2, 1)
    assert first.completion_rate == pytest.approx(0.5)
    assert first.average_completion == pytest.approx(70.0)  # (100 + 40) / 2; scheduled has none
    assert first.average_satisfaction == pytest.approx(3.5)  # (5 + 2) / 2
    assert first.rated_sessions == 2
    assert (first.llm_calls, first.failed_calls) == (3, 1)
    assert first.error_rate == pytest.approx(1 / 3)
    assert first.tokens == 210  # 120 + 60 + 30
    assert first.tokens_per_session == pytest.approx(70.0)  # 210 / 3 sessions
    assert first.cost == Decimal("0.001500")
    assert first.cost_per_session == Decimal("0.000500")  # 0.0015 / 3
    assert first.unpriced_calls == 1
    assert (first.executions, first.failed_executions) == (3, 1)
    assert first.execution_error_rate == pytest.approx(1 / 3)

    assert (second.sessions, second.started, second.completed) == (1, 1, 1)
    assert second.completion_rate == pytest.approx(1.0)
    assert second.average_completion == pytest.approx(80.0)
    assert second.average_satisfaction == pytest.approx(3.0)
    assert second.llm_calls == 0
    assert second.error_rate is None  # no calls: no rate, not 0 %
    assert second.tokens_per_session == 0
    assert second.cost_per_session == Decimal("0")
    assert second.execution_error_rate is None

    assert third.sessions == 0
    assert third.completion_rate is None
    assert third.tokens_per_session is None
    assert third.cost_per_session is None
    assert third.average_satisfaction is None


def test_the_order_asked_for_is_kept_and_nothing_asked_is_nothing(db_session, two_versions):
    v1, v2, _unused = two_versions
    figures = agent_comparison.compare_versions(db_session, [v2, v1])
    assert [f.version for f in figures] == [v2, v1]
    assert agent_comparison.compare_versions(db_session, []) == []


def test_agent_totals_count_every_version_of_the_agent(db_session, two_versions):
    v1, _v2, _unused = two_versions
    totals = agent_comparison.agent_totals(db_session)[v1.agent_id]
    # v1: 3 sessions (2 started, 1 completed); v2: 1 (started, completed); the session
    # without an agent is nobody's.
    assert (totals.sessions, totals.started, totals.completed) == (4, 3, 2)
    assert totals.success_rate == pytest.approx(2 / 3)
