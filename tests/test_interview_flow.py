"""A whole interview through the test client with the offline interviewer."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from storyteller.models import (
    AgentExecution,
    AnswerDraft,
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

ANSWERS = [
    "We lived on Adams Street in Dorchester. In the summer of 1948 my brother Tom and I sat on "
    "the back porch shelling peas while my mother sang along to the radio.",
    "My brother Tom was tall and funny. He taught me to ride a bicycle in Franklin Park in 1950.",
    "My father worked at the shipyard in Quincy. He came home smelling of oil and salt.",
]


def _open_question(db_session, session_id):
    return db_session.scalar(
        select(SessionInteraction).where(
            SessionInteraction.session_id == session_id,
            SessionInteraction.response_method.is_(None),
        )
    )


def _count(db_session, model, **where):
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db_session.scalar(query)


def test_whole_interview_offline(
    client, login, make_user, make_storyteller, make_session, db_session
):
    user = make_user("storyteller", name="Margaret Ellis")
    storyteller = make_storyteller(user=user)
    session = make_session(
        storyteller,
        success_indicators=["At least 2 scenes captured with who/where/when details"],
        completion_indicators=["Storyteller says they've covered the main memories"],
    )
    db_session.commit()
    login(user)

    assert client.post(f"/interview/{session.id}/start").status_code == 303
    db_session.expire_all()
    first = _open_question(db_session, session.id)
    assert first is not None and first.agent_prompt

    page = client.get(f"/interview/{session.id}").get_data(as_text=True)
    assert first.agent_prompt.split("?")[0][:30].replace("'", "&#39;") in page

    # A draft is kept, and a stale version does not overwrite a newer one.
    assert (
        client.post(
            f"/interview/{session.id}/draft",
            data={"interaction_id": first.id, "answer": "We lived on", "version": 5},
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/interview/{session.id}/draft",
            data={"interaction_id": first.id, "answer": "old tab", "version": 3},
        ).status_code
        == 409
    )
    db_session.expire_all()
    assert db_session.scalar(select(AnswerDraft.content)) == "We lived on"
    assert "We lived on" in client.get(f"/interview/{session.id}").get_data(as_text=True)

    asked = [first.agent_prompt]
    for number, answer in enumerate(ANSWERS):
        db_session.expire_all()
        waiting = _open_question(db_session, session.id)
        key = f"key-{number}"
        data = {
            "interaction_id": waiting.id,
            "answer": answer,
            "idempotency_key": key,
            "action": "answer",
        }
        assert client.post(f"/interview/{session.id}/answer", data=data).status_code == 303
        # A double click (same key) makes no second interaction.
        assert client.post(f"/interview/{session.id}/answer", data=data).status_code == 303
        db_session.expire_all()
        nxt = _open_question(db_session, session.id)
        assert nxt is not None
        asked.append(nxt.agent_prompt)

    assert "Tom" in " ".join(asked[1:]), asked  # follows up on the brother
    assert len(set(asked)) == len(asked), asked  # never repeats

    # Skip one.
    waiting = _open_question(db_session, session.id)
    client.post(
        f"/interview/{session.id}/answer",
        data={"interaction_id": waiting.id, "action": "skip", "idempotency_key": "skip-1"},
    )
    db_session.expire_all()
    assert db_session.get(SessionInteraction, waiting.id).response_method == "skip"

    # Pause, then resume.
    assert client.post(f"/interview/{session.id}/pause").status_code == 303
    db_session.expire_all()
    assert db_session.get(Session, session.id).status == "paused"
    assert client.post(f"/interview/{session.id}/start").status_code == 303
    db_session.expire_all()
    assert db_session.get(Session, session.id).status == "in_progress"

    # Finish and rate.
    assert client.post(f"/interview/{session.id}/finish").status_code == 303
    db_session.expire_all()
    done = db_session.get(Session, session.id)
    assert done.status == "completed" and done.ended_at is not None
    assert done.actual_duration_minutes is not None
    assert "What was covered" in done.summary and "Themes that emerged" in done.summary
    assert done.next_session_suggestion
    summary_page = client.get(f"/interview/{session.id}").get_data(as_text=True)
    assert "What we captured today" in summary_page
    client.post(f"/interview/{session.id}/rate", data={"satisfaction": "5"})
    db_session.expire_all()
    assert db_session.get(Session, session.id).user_satisfaction == 5

    answered = db_session.scalars(
        select(SessionInteraction).where(
            SessionInteraction.session_id == session.id,
            SessionInteraction.response_method == "text",
        )
    ).all()
    assert len(answered) == len(ANSWERS)
    assert all(i.sentiment for i in answered)
    assert any("Tom" in " ".join(i.mentions_people or []) for i in answered)
    assert _count(db_session, SessionArtifact, session_id=session.id) >= 2
    assert _count(db_session, SessionArtifact, artifact_type="timeline_entry") >= 1
    assert _count(db_session, InteractionMemory, storyteller_id=storyteller.id) >= 1
    assert _count(db_session, AgentExecution, session_id=session.id) >= len(ANSWERS) + 1
    assert _count(db_session, AgentExecution, status="running") == 0
    assert _count(db_session, LlmInteraction) == 0  # offline: no LLM call at all
    types = set(db_session.scalars(select(Event.event_type).where(Event.session_id == session.id)))
    for expected in (
        "session.started",
        "turn.started",
        "answer.saved",
        "analysis.done",
        "artifact.created",
        "memory.written",
        "question.asked",
        "question.skipped",
        "session.paused",
        "session.resumed",
        "session.completed",
    ):
        assert expected in types, expected
    sequences = list(
        db_session.scalars(
            select(Event.sequence).where(Event.session_id == session.id).order_by(Event.sequence)
        )
    )
    assert sequences == list(range(1, len(sequences) + 1))
    # Counters match what `flask recompute` derives from the rows: prompts + answers.
    rows = db_session.scalars(
        select(SessionInteraction).where(SessionInteraction.session_id == session.id)
    ).all()
    prompts = sum(1 for r in rows if r.agent_prompt)
    answers = sum(1 for r in rows if r.storyteller_response)
    assert done.message_count == prompts + answers
    assert answers == len(ANSWERS)
    assert done.last_activity_at is not None
    chain = db_session.scalars(
        select(ModuleState).where(ModuleState.session_id == session.id)
    ).all()
    assert len(chain) >= 3
    triggers = set(db_session.scalars(select(StateTransition.trigger_type)))
    assert {"user_action", "agent_decision"} <= triggers
    assert _count(db_session, MemoryAccess) >= 0
    assert not re.search(r"<script", summary_page.split("<main", 1)[1].split("</main>")[0])
