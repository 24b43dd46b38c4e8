"""Pause, then resume through a brand-new app instance: nothing is lost, the interview goes
on with its whole context, and the session completes with every record in place."""

from __future__ import annotations

from sqlalchemy import select

from storyteller import interview, memories
from storyteller.models import (
    AgentExecution,
    Event,
    InteractionMemory,
    LlmInteraction,
    MemoryAccess,
    ModuleState,
    Session,
    SessionArtifact,
    SessionInteraction,
    StateTransition,
)
from tests import interview_helpers
from tests.interview_helpers import (
    ANSWERS,
    chat_bodies,
    events_of,
    interactions,
    llm_config,
    message,
    open_question,
    signed_in_client,
)

# Fixtures from the helper module, used by name.
fake_llm = interview_helpers.fake_llm
app_factory = interview_helpers.app_factory

NEUTRAL = {"sentiment": "neutral", "key_themes": [], "people": [], "places": []}
QUESTIONS = [
    "Hello, Margaret. Welcome back. What was the house on Adams Street like?",
    "What was your brother Tom like when you were children?",
    "What did your father do for work?",
    "Did your family ever move house while you were growing up?",
]


def _answer(client, db_session, session_id, text: str, key: str) -> SessionInteraction:
    db_session.expire_all()
    waiting = open_question(db_session, session_id)
    response = client.post(
        f"/interview/{session_id}/answer",
        data={"interaction_id": waiting.id, "answer": text, "idempotency_key": key},
    )
    assert response.status_code == 303
    db_session.expire_all()
    return db_session.get(SessionInteraction, waiting.id)


def test_resume_in_a_new_app_instance_continues_with_full_context(
    fake_llm, app_factory, make_user, make_storyteller, make_session, db_session
):
    user = make_user("storyteller", name="Margaret Ellis")
    storyteller = make_storyteller(user=user)
    earlier = make_session(storyteller, session_name="Earlier session", status="completed")
    old_memory = memories.create_memory(
        db_session,
        storyteller_id=storyteller.id,
        session_id=earlier.id,
        memory_type="person",
        memory_key="aunt rose",
        content={"name": "Rose", "relation": "aunt", "statement": "Aunt Rose kept bees."},
        importance=0.9,
        confidence=0.9,
    )
    session = make_session(
        storyteller,
        success_indicators=["At least 2 scenes captured with who/where/when details"],
        completion_indicators=["Storyteller says they've covered the main memories"],
    )
    db_session.commit()

    # ---- the first app instance: start and three answers, then pause.
    first_app = app_factory(**llm_config(fake_llm))
    client = signed_in_client(first_app, user)
    fake_llm.queue_reply(QUESTIONS[0])
    assert client.post(f"/interview/{session.id}/start").status_code == 303
    for number in range(3):
        fake_llm.queue_json(NEUTRAL)
        fake_llm.queue_reply(QUESTIONS[number + 1])
        _answer(client, db_session, session.id, ANSWERS[number], f"first-{number}")
    assert client.post(f"/interview/{session.id}/pause").status_code == 303
    db_session.expire_all()
    assert db_session.get(Session, session.id).status == "paused"
    waiting_before = open_question(db_session, session.id)
    assert waiting_before.agent_prompt == QUESTIONS[3]
    requests_before = len(fake_llm.requests)

    # ---- a NEW app instance on the same database: resume there.
    second_app = app_factory(**llm_config(fake_llm))
    assert second_app is not first_app
    client = signed_in_client(second_app, user)
    page = client.get(f"/interview/{session.id}").get_data(as_text=True)
    assert "Welcome back" in page and "Continue" in page
    assert client.post(f"/interview/{session.id}/start").status_code == 303
    db_session.expire_all()
    assert db_session.get(Session, session.id).status == "in_progress"
    # The question that was waiting is still the one waiting: nothing asked twice, no call.
    assert open_question(db_session, session.id).id == waiting_before.id
    assert len(fake_llm.requests) == requests_before

    # The model proposes an earlier question again: the app knows the whole interview and
    # asks the offline interviewer's question instead.
    fake_llm.queue_json(NEUTRAL)
    fake_llm.queue_reply(QUESTIONS[1])
    _answer(client, db_session, session.id, ANSWERS[3], "second-0")
    repeated = open_question(db_session, session.id)
    assert repeated.model_used == "offline"
    fallback = events_of(db_session, session.id, "llm.fallback")
    assert [e.payload["reason"] for e in fallback] == ["repeated_question"]

    # Then a fresh question from the model, with the full context in its prompt.
    fake_llm.queue_json(NEUTRAL)
    fake_llm.queue_reply("What do you remember about the new kitchen in Medford?")
    _answer(client, db_session, session.id, ANSWERS[4], "second-1")
    last_prompt = message(chat_bodies(fake_llm)[-1], "user")
    for number, answer in enumerate(ANSWERS, start=1):
        assert f"<storyteller_answer_{number}>\n{answer}\n</storyteller_answer_{number}>" in (
            last_prompt
        )
    for number, question in enumerate(QUESTIONS, start=1):
        assert f"<question_{number}>\n{question}\n</question_{number}>" in last_prompt
    assert "Aunt Rose kept bees." in last_prompt  # the memory from the earlier session

    asked = [i.agent_prompt for i in interactions(db_session, session.id)]
    assert len(asked) == 6  # the opening, then one after each answer
    assert len({q.strip().lower() for q in asked}) == len(asked), asked

    # ---- finish through the new instance.
    assert client.post(f"/interview/{session.id}/finish").status_code == 303
    db_session.expire_all()
    done = db_session.get(Session, session.id)
    assert done.status == "completed" and done.ended_at is not None
    assert "5 questions answered, 0 skipped" in done.summary

    # ---- the records.
    rows = interactions(db_session, session.id)
    # The question left open at the end is not part of the record.
    assert [i.interaction_sequence for i in rows] == list(range(1, 6))
    assert [i.storyteller_response for i in rows] == ANSWERS
    assert all(i.response_method == "text" and i.sentiment for i in rows)

    artifacts = list(
        db_session.scalars(select(SessionArtifact).where(SessionArtifact.session_id == session.id))
    )
    answered_ids = {i.id for i in rows}
    assert len(artifacts) >= 3
    assert {a.source_interaction_id for a in artifacts} <= answered_ids
    assert "timeline_entry" in {a.artifact_type for a in artifacts}

    written = list(
        db_session.scalars(
            select(InteractionMemory).where(InteractionMemory.session_id == session.id)
        )
    )
    assert written and all(m.interaction_id in answered_ids for m in written)

    executions = list(
        db_session.scalars(
            select(AgentExecution)
            .where(AgentExecution.session_id == session.id)
            .order_by(AgentExecution.started_at)
        )
    )
    assert len(executions) == 1 + 5  # the opening question, then one per answer
    assert all(e.status == "succeeded" and e.completed_at for e in executions)
    assert all(e.agent_version_id == done.agent_version_id for e in executions)
    llm_rows = list(
        db_session.scalars(select(LlmInteraction).where(LlmInteraction.session_id == session.id))
    )
    assert len(llm_rows) == len(fake_llm.chat_requests) == 1 + 2 * 5
    assert {r.agent_execution_id for r in llm_rows} <= {e.id for e in executions}

    accesses = list(
        db_session.scalars(select(MemoryAccess).where(MemoryAccess.session_id == session.id))
    )
    assert accesses, "the memory from the earlier session was used but no access recorded"
    assert {a.memory_id for a in accesses} == {old_memory.id}
    assert {a.agent_execution_id for a in accesses} <= {e.id for e in executions}
    assert all(a.accessor_type == "agent" for a in accesses)
    db_session.refresh(old_memory)
    assert old_memory.access_count == len(accesses)

    events = events_of(db_session, session.id)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    types = [e.event_type for e in events]
    assert types.count("session.started") == 1
    assert types.count("session.paused") == 1
    assert types.count("session.resumed") == 1
    assert types.count("session.completed") == 1
    assert types.count("answer.saved") == 5
    assert types.index("session.paused") < types.index("session.resumed")

    # module_state: one chain for the session, each row linked to the one before.
    states = list(
        db_session.scalars(select(ModuleState).where(ModuleState.session_id == session.id))
    )
    assert {s.module_id for s in states} == {f"interview:{session.id}"}
    assert {s.state_type for s in states} == {interview.PROGRESS_STATE}
    by_previous = {s.previous_state_id: s for s in states}
    assert len(by_previous) == len(states)  # no state has two successors
    chain = [by_previous[None]]
    while chain[-1].id in by_previous:
        chain.append(by_previous[chain[-1].id])
    assert len(chain) == len(states)  # one unbroken chain through every row
    assert [s.state["status"] for s in chain][:1] == ["in_progress"]
    assert chain[-1].state["status"] == "completed"
    statuses = [s.state["status"] for s in chain]
    paused_at = statuses.index("paused")
    assert statuses[paused_at + 1] == "in_progress"

    transitions = list(
        db_session.scalars(
            select(StateTransition).where(StateTransition.state_id.in_([s.id for s in states]))
        )
    )
    assert len(transitions) == len(states) - 1
    links = {(t.state_id, t.to_state_id) for t in transitions}
    assert links == {(a.id, b.id) for a, b in zip(chain, chain[1:], strict=False)}
    resumed = [t for t in transitions if t.trigger_id == "session.resumed"]
    assert len(resumed) == 1
    assert resumed[0].trigger_type == "user_action"
    assert resumed[0].state_id == chain[paused_at].id
    assert resumed[0].to_state_id == chain[paused_at + 1].id
    assert {t.trigger_type for t in transitions} == {"user_action", "agent_decision"}
    assert (
        db_session.scalar(
            select(Event.id).where(
                Event.session_id == session.id, Event.event_type == "turn.failed"
            )
        )
        is None
    )
