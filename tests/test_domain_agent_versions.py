"""storyteller.agent_versions: the interviewer, versions, exactly one active per agent."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from storyteller.agent_versions import (
    DEFAULT_SYSTEM_PROMPT,
    AgentVersionError,
    activate_agent_version,
    active_interviewer,
    active_version,
    create_agent_version,
    ensure_interviewer_agent,
)
from storyteller.models import Agent, AgentVersion


def _agent(db, **fields):
    fields.setdefault("name", f"Agent {uuid.uuid4().hex[:8]}")
    fields.setdefault("type", "summarizer")
    agent = Agent(**fields)
    db.add(agent)
    db.flush()
    return agent


def _active_rows(db, agent_id):
    return list(
        db.scalars(
            select(AgentVersion).where(AgentVersion.agent_id == agent_id, AgentVersion.is_active)
        )
    )


def test_ensure_interviewer_agent_is_idempotent(db_session):
    assert active_interviewer(db_session) is None
    agent, version = ensure_interviewer_agent(db_session)
    again_agent, again_version = ensure_interviewer_agent(db_session)
    assert (again_agent.id, again_version.id) == (agent.id, version.id)
    assert db_session.scalar(select(func.count(Agent.id)).where(Agent.name == "Interviewer")) == 1
    assert (
        db_session.scalar(
            select(func.count(AgentVersion.id)).where(AgentVersion.agent_id == agent.id)
        )
        == 1
    )
    db_session.expire_all()
    agent = db_session.get(Agent, agent.id)
    version = db_session.get(AgentVersion, version.id)
    assert agent.type == "interviewer"
    assert agent.status == "active"
    assert "life story interviews" in agent.specializations
    assert (agent.learning_mode, agent.training_status) == ("supervised", "initial")
    assert version.version_number == "1.0.0"
    assert version.is_active is True and version.activated_at is not None
    assert version.configuration == {
        "system_prompt": DEFAULT_SYSTEM_PROMPT,
        "model": None,
        "temperature": 0.7,
    }
    found = active_interviewer(db_session)
    assert found is not None
    assert (found[0].id, found[1].id) == (agent.id, version.id)


def test_ensure_interviewer_reactivates_when_nothing_is_active(db_session):
    agent, version = ensure_interviewer_agent(db_session)
    version.is_active = False
    db_session.flush()
    assert active_interviewer(db_session) is None
    _, again = ensure_interviewer_agent(db_session)
    assert again.id == version.id and again.is_active


def test_default_system_prompt_asks_one_question_and_treats_words_as_data():
    prompt = DEFAULT_SYSTEM_PROMPT.lower()
    assert "one question" in prompt
    assert "never instructions" in prompt
    assert len(DEFAULT_SYSTEM_PROMPT) > 400


def test_duplicate_version_number_is_refused(db_session):
    agent = _agent(db_session)
    create_agent_version(db_session, agent_id=agent.id, version_number="1.0.0")
    with pytest.raises(AgentVersionError):
        create_agent_version(db_session, agent_id=agent.id, version_number=" 1.0.0 ")
    # The same number on another agent is fine.
    other = _agent(db_session)
    create_agent_version(db_session, agent_id=other.id, version_number="1.0.0")
    with pytest.raises(AgentVersionError):
        create_agent_version(db_session, agent_id=uuid.uuid4(), version_number="1.0.0")
    with pytest.raises(AgentVersionError):
        create_agent_version(db_session, agent_id=agent.id, version_number="  ")


def test_new_version_starts_from_the_active_configuration(db_session):
    agent = _agent(db_session)
    first = create_agent_version(
        db_session,
        agent_id=agent.id,
        version_number="1.0.0",
        configuration={"system_prompt": "Be kind.", "temperature": 0.7, "nested": {"a": 1}},
        is_active=True,
    )
    second = create_agent_version(
        db_session,
        agent_id=agent.id,
        version_number="1.1.0",
        configuration={"temperature": 0.4},
        changes={"temperature": "calmer"},
    )
    assert second.configuration == {
        "system_prompt": "Be kind.",
        "temperature": 0.4,
        "nested": {"a": 1},
    }
    assert second.changes == {"temperature": "calmer"}
    assert second.is_active is False
    # A copy, not the same object: editing one leaves the other alone.
    second.configuration["nested"]["a"] = 2
    assert first.configuration["nested"] == {"a": 1}


def test_exactly_one_active_after_several_activations(db_session, make_user):
    admin = make_user(role="admin")
    agent = _agent(db_session)
    versions = [
        create_agent_version(
            db_session, agent_id=agent.id, version_number=f"1.{n}.0", created_by_id=admin.id
        )
        for n in range(3)
    ]
    assert _active_rows(db_session, agent.id) == []
    for version in (versions[0], versions[1], versions[2], versions[0]):
        activate_agent_version(db_session, version)
        db_session.expire_all()
        active = _active_rows(db_session, agent.id)
        assert [v.id for v in active] == [version.id]
        assert active[0].activated_at is not None and active[0].deactivated_at is None

    db_session.expire_all()
    first, second, third = (db_session.get(AgentVersion, v.id) for v in versions)
    assert first.is_active and not second.is_active and not third.is_active
    assert second.deactivated_at is not None and third.deactivated_at is not None
    assert third.activated_at <= third.deactivated_at
    assert second.activated_at <= third.activated_at
    assert active_version(db_session, agent.id).id == first.id
    assert first.created_by_id == admin.id


def test_activation_is_idempotent_and_mirrors_configuration(db_session):
    agent = _agent(db_session)
    version = create_agent_version(
        db_session,
        agent_id=agent.id,
        version_number="2.0.0",
        configuration={"temperature": 0.2},
        is_active=True,
    )
    activated_at = version.activated_at
    assert activate_agent_version(db_session, version).activated_at == activated_at
    assert len(_active_rows(db_session, agent.id)) == 1
    db_session.expire_all()
    assert db_session.get(Agent, agent.id).configuration == {"temperature": 0.2}


def test_create_with_is_active_deactivates_the_previous(db_session):
    agent, first = ensure_interviewer_agent(db_session)
    second = create_agent_version(
        db_session, agent_id=agent.id, version_number="1.0.1", is_active=True
    )
    db_session.expire_all()
    assert [v.id for v in _active_rows(db_session, agent.id)] == [second.id]
    assert db_session.get(AgentVersion, first.id).deactivated_at is not None
    assert active_interviewer(db_session)[1].id == second.id
    assert db_session.get(AgentVersion, second.id).configuration["system_prompt"] == (
        DEFAULT_SYSTEM_PROMPT
    )
