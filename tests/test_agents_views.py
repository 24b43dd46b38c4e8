"""Admin agents pages: list, new version (validated), activate, roll back, compare, pinning."""

from __future__ import annotations

import re

from sqlalchemy import select

from storyteller import agent_versions, interview
from storyteller.models import AgentVersion, AuditLog, Session
from tests import interview_helpers
from tests.interview_helpers import ANSWERS, answer_and_turn, chat_bodies, llm_settings

fake_llm = interview_helpers.fake_llm

V1_PROMPT = "You are interviewer ONE. Ask about childhood homes, one question at a time."
V2_PROMPT = "You are interviewer TWO. Ask about work and trades, one question at a time."


def _versions(db_session, agent) -> list[AgentVersion]:
    return list(
        db_session.scalars(
            select(AgentVersion)
            .where(AgentVersion.agent_id == agent.id)
            .order_by(AgentVersion.created_at)
        )
    )


def _form(**overrides) -> dict[str, str]:
    form = {
        "system_prompt": V2_PROMPT,
        "model": "gpt-4.1-mini",
        "temperature": "0.3",
        "changes": "Asks about working life.",
        "version_number": "",
    }
    form.update(overrides)
    return form


def _admin(make_user, login):
    admin = make_user("admin", name="Ada Admin")
    login(admin)
    return admin


def test_the_list_shows_the_interviewer_with_its_seed_fields(
    client, db_session, make_user, make_storyteller, make_session, login
):
    _admin(make_user, login)
    agent, v1 = agent_versions.ensure_interviewer_agent(db_session)
    storyteller = make_storyteller()
    for status in ("completed", "in_progress", "completed", "paused"):
        make_session(
            storyteller,
            agent_id=agent.id,
            agent_version_id=v1.id,
            status=status,
            started_at=v1.created_at,
        )
    page = client.get("/admin/agents/").get_data(as_text=True)
    row = re.search(r"<tr>\s*<th scope=\"row\"><a [^>]*>Interviewer</a></th>(.*?)</tr>", page, re.S)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert cells[-2:] == ["4", "50%"]  # total sessions, success rate (2 of 4 started)
    assert "Interviewer" in page
    assert "life story interviews" in page  # specializations
    assert "supervised" in page  # learning mode
    assert "initial" in page  # training status
    assert agent_versions.INTERVIEWER_VERSION in page


def test_a_new_version_with_mistakes_is_refused_with_every_message(
    client, db_session, make_user, login
):
    _admin(make_user, login)
    agent, _active = agent_versions.ensure_interviewer_agent(db_session)
    before = len(_versions(db_session, agent))
    response = client.post(
        f"/admin/agents/{agent.id}/versions",
        data=_form(system_prompt="  ", temperature="2.5", changes="", model="gpt 4"),
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Write the instructions the interviewer follows." in page
    assert "The temperature must be between 0 and 2." in page
    assert "Say in a sentence what this version changes and why." in page
    assert "A model name has no spaces" in page
    assert len(_versions(db_session, agent)) == before

    response = client.post(f"/admin/agents/{agent.id}/versions", data=_form(temperature="warm"))
    assert response.status_code == 400
    assert "Give the temperature as a number" in response.get_data(as_text=True)
    response = client.post(
        f"/admin/agents/{agent.id}/versions",
        data=_form(version_number=agent_versions.INTERVIEWER_VERSION),
    )
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert len(_versions(db_session, agent)) == before


def test_create_activate_and_roll_back_keep_exactly_one_active(
    client, db_session, make_user, login
):
    admin = _admin(make_user, login)
    agent, v1 = agent_versions.ensure_interviewer_agent(db_session)

    response = client.post(f"/admin/agents/{agent.id}/versions", data=_form())
    assert response.status_code == 303
    db_session.expire_all()
    v2 = _versions(db_session, agent)[-1]
    assert v2.version_number == "1.1.0"
    assert v2.is_active is False  # saved, not in use until activated
    assert v2.created_by_id == admin.id
    assert v2.changes == {"summary": "Asks about working life."}
    assert v2.configuration == {
        "system_prompt": V2_PROMPT,
        "model": "gpt-4.1-mini",
        "temperature": 0.3,
    }

    response = client.post(f"/admin/agents/{agent.id}/versions/{v2.id}/activate")
    assert response.status_code == 303
    db_session.expire_all()
    assert [v.is_active for v in _versions(db_session, agent)] == [False, True]
    assert db_session.get(AgentVersion, v1.id).deactivated_at is not None

    # Roll back: activate the earlier version again.
    page = client.get(f"/admin/agents/{agent.id}").get_data(as_text=True)
    assert f"Roll back to {v1.version_number}" in page
    response = client.post(f"/admin/agents/{agent.id}/versions/{v1.id}/activate")
    assert response.status_code == 303
    db_session.expire_all()
    assert [v.is_active for v in _versions(db_session, agent)] == [True, False]
    assert db_session.get(AgentVersion, v1.id).activated_at is not None

    audit = db_session.scalars(
        select(AuditLog)
        .where(AuditLog.object_type == "agent_version")
        .order_by(AuditLog.created_at)
    ).all()
    assert [(a.action, (a.details or {}).get("change")) for a in audit] == [
        ("create", None),
        ("update", "activate"),
        ("update", "rollback"),
    ]
    assert {a.actor_id for a in audit} == {admin.id}
    assert audit[2].details["previous_version"] == "1.1.0"


def test_a_version_of_another_agent_or_none_at_all_is_not_found(
    client, db_session, make_user, login
):
    import uuid

    _admin(make_user, login)
    agent, _v1 = agent_versions.ensure_interviewer_agent(db_session)
    assert client.get(f"/admin/agents/{uuid.uuid4()}").status_code == 404
    missing = client.post(f"/admin/agents/{agent.id}/versions/{uuid.uuid4()}/activate")
    assert missing.status_code == 404


def test_a_running_session_keeps_its_version_after_another_is_activated(
    fake_llm, client, db_session, make_user, make_storyteller, make_session, login
):
    _admin(make_user, login)
    agent, _default = agent_versions.ensure_interviewer_agent(db_session)
    v1 = agent_versions.create_agent_version(
        db_session,
        agent_id=agent.id,
        version_number="5.0.0",
        configuration={"system_prompt": V1_PROMPT, "model": "gpt-4o-mini", "temperature": 0.7},
        is_active=True,
    )
    user = make_user("storyteller", name="Walter Price")
    storyteller = make_storyteller(user=user)
    running = make_session(storyteller)
    db_session.commit()
    settings = llm_settings(fake_llm)
    interview.start(db_session, running, user_id=user.id, settings=settings)
    db_session.commit()
    assert running.agent_version_id == v1.id

    # The admin writes version 2 and puts it in use while the session is under way.
    assert client.post(f"/admin/agents/{agent.id}/versions", data=_form()).status_code == 303
    v2 = db_session.scalar(
        select(AgentVersion).where(
            AgentVersion.agent_id == agent.id, AgentVersion.version_number == "5.1.0"
        )
    )
    activate = client.post(f"/admin/agents/{agent.id}/versions/{v2.id}/activate")
    assert activate.status_code == 303
    db_session.expire_all()
    assert agent_versions.active_version(db_session, agent.id).id == v2.id

    seen = len(fake_llm.chat_requests)
    answer_and_turn(db_session, db_session.get(Session, running.id), ANSWERS[0], settings)
    turn = chat_bodies(fake_llm)[seen:]
    questions = [b for b in turn if b.get("stream")]
    assert questions, "the turn asked no question through the LLM"
    for body in questions:
        assert body["messages"][0] == {"role": "system", "content": V1_PROMPT}
        assert body["model"] == "gpt-4o-mini"
        assert body["temperature"] == 0.7
    assert "interviewer TWO" not in str(turn)

    # A session started now runs with version 2.
    fresh = make_session(storyteller, session_name="Working life")
    db_session.commit()
    seen = len(fake_llm.chat_requests)
    interview.start(db_session, fresh, user_id=user.id, settings=settings)
    db_session.commit()
    assert fresh.agent_version_id == v2.id
    opening = [b for b in chat_bodies(fake_llm)[seen:] if b.get("stream")]
    assert opening[0]["messages"][0] == {"role": "system", "content": V2_PROMPT}
    assert opening[0]["model"] == "gpt-4.1-mini"
    assert opening[0]["temperature"] == 0.3


def test_compare_shows_both_versions_and_refuses_a_stranger(
    client, db_session, make_user, make_storyteller, make_session, login
):
    _admin(make_user, login)
    agent, v1 = agent_versions.ensure_interviewer_agent(db_session)
    v2 = agent_versions.create_agent_version(
        db_session, agent_id=agent.id, version_number="1.5.0", is_active=True
    )
    storyteller = make_storyteller()
    make_session(
        storyteller,
        agent_id=agent.id,
        agent_version_id=v1.id,
        status="completed",
        started_at=v1.created_at,
        user_satisfaction=4,
    )
    db_session.flush()

    page = client.get(f"/admin/agents/{agent.id}/compare").get_data(as_text=True)
    assert f"Version {v1.version_number}" in page and "Version 1.5.0" in page
    cells = re.search(r"Completion rate \(completed of started\)</th>(.*?)</tr>", page, re.S)
    assert cells is not None
    assert re.findall(r"<td>(.*?)</td>", cells.group(1)) == ["100%", "—"]

    other_agent_version = "00000000-0000-0000-0000-000000000000"
    refused = client.get(f"/admin/agents/{agent.id}/compare?a={other_agent_version}&b={v2.id}")
    assert refused.status_code == 400
    assert "does not have" in refused.get_data(as_text=True)
    assert client.get(f"/admin/agents/{agent.id}/compare?a=not-a-uuid").status_code == 400
