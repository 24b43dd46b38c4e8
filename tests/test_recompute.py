"""storyteller.recompute: every derived figure recomputed from the source rows, idempotently.

The expected values are computed here, in Python, from the rows the test inserted; the
counters are first corrupted with UPDATEs so that a recompute that did nothing would fail.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from storyteller import recompute
from storyteller.models import (
    Agent,
    AgentExecution,
    Event,
    InteractionMemory,
    LlmInteraction,
    MemoryAccess,
    Session,
    SessionInteraction,
)

WRONG_TIME = datetime(1999, 12, 31, 23, 59, tzinfo=UTC)
STEP_NAMES = {"session_counters", "agent_totals", "memory_access_counts"}


def at(day: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, 10, minute, tzinfo=UTC)


@pytest.fixture
def world(db_session, make_storyteller, make_session):
    """A small but complete set of source rows, and the lists they were made from."""
    db = db_session
    storyteller = make_storyteller()
    agent = Agent(name=f"Interviewer {uuid.uuid4().hex[:6]}", type="interviewer")
    idle_agent = Agent(name=f"Idle {uuid.uuid4().hex[:6]}", type="analyzer")
    db.add_all([agent, idle_agent])
    db.flush()

    def session(**fields):
        return make_session(storyteller, **fields)

    sessions = {
        "talking": session(agent_id=agent.id, status="in_progress", started_at=at(1)),
        "done": session(
            agent_id=agent.id, status="completed", started_at=at(2), ended_at=at(2, 30)
        ),
        "planned": session(agent_id=agent.id, status="scheduled"),
        "dropped": session(agent_id=agent.id, status="cancelled", started_at=at(4)),
        "other_agent": session(status="completed", started_at=at(5)),
        # Inconsistent on purpose: completed but never started. Counted in total_sessions,
        # not in the success rate (which would otherwise exceed 1).
        "odd": session(agent_id=agent.id, status="completed"),
    }
    talking, done = sessions["talking"], sessions["done"]

    interactions = [
        SessionInteraction(
            session_id=talking.id,
            interaction_sequence=1,
            agent_prompt="Where did you grow up?",
            storyteller_response="In Leeds.",
            response_method="text",
            created_at=at(1, 10),
            answered_at=at(1, 20),
        ),
        SessionInteraction(
            session_id=talking.id,
            interaction_sequence=2,
            agent_prompt="Who lived with you?",
            response_method="skip",
            created_at=at(1, 30),
            answered_at=at(1, 31),
        ),
        SessionInteraction(
            session_id=talking.id,
            interaction_sequence=3,
            agent_prompt="What did the kitchen smell of?",
            created_at=at(1, 40),
        ),
        SessionInteraction(
            session_id=done.id,
            interaction_sequence=1,
            agent_prompt="What changed that year?",
            storyteller_response="Everything.",
            created_at=at(2, 5),
            answered_at=at(2, 59),
        ),
    ]
    llm_calls = [
        LlmInteraction(
            session_id=talking.id,
            agent_id=agent.id,
            model="m",
            prompt_tokens=100,
            response_tokens=20,
            cost=Decimal("0.001500"),
            success=True,
            created_at=at(1, 9),
        ),
        LlmInteraction(
            session_id=talking.id,
            agent_id=agent.id,
            model="m",
            prompt_tokens=50,
            response_tokens=None,
            cost=None,
            created_at=at(1, 29),
        ),
        LlmInteraction(
            session_id=talking.id,
            agent_id=agent.id,
            model="m",
            cost=Decimal("0.000500"),
            created_at=at(1, 39),
        ),
        # An agent's call outside any session: the agent's activity, no session's.
        LlmInteraction(agent_id=agent.id, model="m", prompt_tokens=7, created_at=at(7)),
    ]
    events = [
        Event(
            event_type="interview.turn",
            session_id=talking.id,
            sequence=1,
            timestamp_ms=0,
            created_at=at(1, 50),
        ),
    ]
    executions = [
        AgentExecution(
            agent_id=agent.id,
            session_id=talking.id,
            status="succeeded",
            started_at=at(1, 8),
            completed_at=at(1, 12),
        ),
        AgentExecution(agent_id=agent.id, status="running", started_at=at(6)),
    ]
    db.add_all(interactions + llm_calls + events + executions)
    db.flush()

    read_memory = InteractionMemory(
        storyteller_id=storyteller.id, memory_type="place", content={"value": "Leeds"}
    )
    unread_memory = InteractionMemory(
        storyteller_id=storyteller.id, memory_type="person", content={"name": "Mary"}
    )
    db.add_all([read_memory, unread_memory])
    db.flush()
    accesses = [
        MemoryAccess(
            memory_id=read_memory.id,
            access_type="read",
            accessed_by="agent",
            accessor_type="agent",
            created_at=moment,
        )
        for moment in (at(1, 1), at(1, 3), at(1, 2))
    ]
    db.add_all(accesses)
    db.flush()
    return {
        "agents": [agent, idle_agent],
        "sessions": list(sessions.values()),
        "interactions": interactions,
        "llm_calls": llm_calls,
        "events": events,
        "executions": executions,
        "memories": [read_memory, unread_memory],
        "accesses": accesses,
    }


def _latest(values):
    present = [v for v in values if v is not None]
    return max(present) if present else None


def expected_session(world, session):
    mine = [i for i in world["interactions"] if i.session_id == session.id]
    calls = [c for c in world["llm_calls"] if c.session_id == session.id]
    events = [e for e in world["events"] if e.session_id == session.id]
    return {
        "message_count": sum(i.agent_prompt is not None for i in mine)
        + sum(i.storyteller_response is not None for i in mine),
        "total_tokens": sum((c.prompt_tokens or 0) + (c.response_tokens or 0) for c in calls),
        "total_cost": sum((c.cost for c in calls if c.cost is not None), Decimal(0)),
        "last_activity_at": _latest(
            [i.created_at for i in mine]
            + [i.answered_at for i in mine]
            + [e.created_at for e in events]
            + [c.created_at for c in calls]
            + [session.started_at, session.ended_at]
        ),
    }


def expected_agent(world, agent):
    mine = [s for s in world["sessions"] if s.agent_id == agent.id]
    started = [
        s
        for s in mine
        if s.started_at is not None
        and s.status in ("in_progress", "paused", "completed", "cancelled")
    ]
    completed = [s for s in started if s.status == "completed"]
    executions = [x for x in world["executions"] if x.agent_id == agent.id]
    calls = [c for c in world["llm_calls"] if c.agent_id == agent.id]
    return {
        "total_sessions": len(mine),
        "success_rate": len(completed) / len(started) if started else None,
        "last_active_at": _latest(
            [x.started_at for x in executions]
            + [x.completed_at for x in executions]
            + [c.created_at for c in calls]
        ),
    }


def expected_memory(world, memory):
    mine = [a for a in world["accesses"] if a.memory_id == memory.id]
    return {
        "access_count": len(mine),
        "last_accessed_at": _latest([a.created_at for a in mine]),
    }


def corrupt(db, world):
    session_ids = [s.id for s in world["sessions"]]
    db.execute(
        update(Session)
        .where(Session.id.in_(session_ids))
        .values(message_count=99, total_tokens=99, total_cost=99, last_activity_at=WRONG_TIME)
    )
    db.execute(
        update(Agent)
        .where(Agent.id.in_([a.id for a in world["agents"]]))
        .values(total_sessions=42, success_rate=0.99, last_active_at=WRONG_TIME)
    )
    db.execute(
        update(InteractionMemory)
        .where(InteractionMemory.id.in_([m.id for m in world["memories"]]))
        .values(access_count=42, last_accessed_at=WRONG_TIME)
    )
    db.expire_all()


def stored(db, model, row_id, fields):
    row = db.execute(select(*(getattr(model, f) for f in fields)).where(model.id == row_id)).one()
    return dict(zip(fields, row, strict=True))


def check_all(db, world):
    for session in world["sessions"]:
        want = expected_session(world, session)
        got = stored(db, Session, session.id, list(want))
        assert got["total_cost"] == pytest.approx(want.pop("total_cost"), abs=Decimal("1e-6"))
        got.pop("total_cost")
        assert got == want, session.status
    for agent in world["agents"]:
        want = expected_agent(world, agent)
        got = stored(db, Agent, agent.id, list(want))
        if want["success_rate"] is not None:
            assert got.pop("success_rate") == pytest.approx(want.pop("success_rate"))
        assert got == want, agent.name
    for memory in world["memories"]:
        want = expected_memory(world, memory)
        assert stored(db, InteractionMemory, memory.id, list(want)) == want


def test_expectations_are_not_trivial(world):
    # Guards the test itself: the world exercises every branch of the definitions.
    talking = expected_session(world, world["sessions"][0])
    assert talking == {
        "message_count": 4,
        "total_tokens": 170,
        "total_cost": Decimal("0.002"),
        "last_activity_at": at(1, 50),
    }
    assert expected_session(world, world["sessions"][1])["last_activity_at"] == at(2, 59)
    assert expected_session(world, world["sessions"][2])["last_activity_at"] is None
    agent = expected_agent(world, world["agents"][0])
    assert agent["total_sessions"] == 5
    assert agent["success_rate"] == pytest.approx(1 / 3)
    assert agent["last_active_at"] == at(7)
    assert expected_agent(world, world["agents"][1]) == {
        "total_sessions": 0,
        "success_rate": None,
        "last_active_at": None,
    }


def test_recompute_all_finds_the_true_values_twice(db_session, world):
    corrupt(db_session, world)
    updated_at = stored(db_session, Session, world["sessions"][0].id, ["updated_at"])

    first = recompute.recompute_all(db_session)
    assert set(first) == STEP_NAMES
    assert first["session_counters"] >= len(world["sessions"])
    assert first["agent_totals"] >= len(world["agents"])
    assert first["memory_access_counts"] >= len(world["memories"])
    check_all(db_session, world)
    # A recomputed counter is not an edit of the row.
    assert stored(db_session, Session, world["sessions"][0].id, ["updated_at"]) == updated_at

    second = recompute.recompute_all(db_session)
    assert second == dict.fromkeys(STEP_NAMES, 0)
    check_all(db_session, world)


def test_recompute_refreshes_loaded_objects(db_session, world):
    talking = world["sessions"][0]
    corrupt(db_session, world)
    assert talking.message_count == 99
    recompute.recompute_all(db_session)
    assert talking.message_count == 4
    assert world["memories"][0].access_count == 3


def test_recompute_sees_unflushed_rows(db_session, world):
    talking = world["sessions"][0]
    db_session.add(
        SessionInteraction(
            session_id=talking.id,
            interaction_sequence=4,
            agent_prompt="And then?",
            created_at=at(1, 55),
        )
    )
    recompute.recompute_all(db_session)
    got = stored(db_session, Session, talking.id, ["message_count", "last_activity_at"])
    assert got == {"message_count": 5, "last_activity_at": at(1, 55)}


def test_steps_are_an_extension_point(db_session, monkeypatch):
    calls = []
    monkeypatch.setattr(recompute, "STEPS", list(recompute.STEPS))

    @recompute.recompute_step("usage_daily")
    def usage_daily(db):
        calls.append(db)
        return 7

    report = recompute.recompute_all(db_session)
    assert list(report)[-1] == "usage_daily"
    assert report["usage_daily"] == 7
    assert calls == [db_session]
    with pytest.raises(ValueError):
        recompute.recompute_step("usage_daily")(usage_daily)
