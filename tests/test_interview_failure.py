"""When a turn fails after the answer is saved, the answer is kept and the storyteller is told."""

from __future__ import annotations

from sqlalchemy import select

from storyteller import interview
from storyteller.models import AgentError, Event, SessionInteraction


def test_a_failing_turn_keeps_the_answer_and_says_so(
    client, login, make_user, make_storyteller, make_session, db_session, monkeypatch
):
    user = make_user("storyteller")
    session = make_session(make_storyteller(user=user))
    db_session.commit()
    login(user)
    client.post(f"/interview/{session.id}/start")
    db_session.expire_all()
    waiting = db_session.scalar(
        select(SessionInteraction).where(SessionInteraction.session_id == session.id)
    )

    def broken(*args, **kwargs):
        raise RuntimeError("analysis exploded")

    monkeypatch.setattr(interview, "analyze_answer", broken)
    answer = "My grandmother kept bees behind the house in Kerry."
    response = client.post(
        f"/interview/{session.id}/answer",
        data={"interaction_id": waiting.id, "answer": answer, "idempotency_key": "k1"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Your answer is saved" in page
    assert "Kerry" in page  # shown in the conversation
    db_session.expire_all()
    saved = db_session.get(SessionInteraction, waiting.id)
    assert saved.storyteller_response == answer
    error = db_session.scalar(select(AgentError).where(AgentError.session_id == session.id))
    assert error.error_type == "RuntimeError" and "analysis exploded" in error.stack_trace
    assert "turn.failed" in set(db_session.scalars(select(Event.event_type)))

    # Once things work again, Continue brings the next question; the answer is still there.
    monkeypatch.undo()
    assert client.post(f"/interview/{session.id}/start").status_code == 303
    db_session.expire_all()
    rows = db_session.scalars(
        select(SessionInteraction)
        .where(SessionInteraction.session_id == session.id)
        .order_by(SessionInteraction.interaction_sequence)
    ).all()
    assert [r.storyteller_response for r in rows][0] == answer
    assert rows[-1].response_method is None and rows[-1].agent_prompt


def test_bad_answers_get_a_message_and_keep_the_text(
    client, login, make_user, make_storyteller, make_session, db_session
):
    user = make_user("storyteller")
    session = make_session(make_storyteller(user=user))
    db_session.commit()
    login(user)
    client.post(f"/interview/{session.id}/start")
    db_session.expire_all()
    waiting = db_session.scalar(
        select(SessionInteraction).where(SessionInteraction.session_id == session.id)
    )
    empty = client.post(
        f"/interview/{session.id}/answer",
        data={"interaction_id": waiting.id, "answer": "   "},
        follow_redirects=True,
    )
    assert "Please write your answer" in empty.get_data(as_text=True)
    unknown = client.post(
        f"/interview/{session.id}/answer",
        data={"interaction_id": "not-a-uuid", "answer": "hello"},
        follow_redirects=True,
    )
    assert unknown.status_code == 200
    assert "no longer open" in unknown.get_data(as_text=True)
    bad_version = client.post(
        f"/interview/{session.id}/draft",
        data={"interaction_id": waiting.id, "answer": "x", "version": "abc"},
    )
    assert bad_version.status_code == 400
    bad_rating = client.post(
        f"/interview/{session.id}/rate", data={"satisfaction": "11"}, follow_redirects=True
    )
    assert bad_rating.status_code == 200


def test_progress_without_indicators_counts_answers():
    from storyteller.agent.context import InterviewContext, Turn

    def ctx(answers: int) -> InterviewContext:
        turns = [Turn(f"Question {n}?", "scene", "An answer.", False, None) for n in range(answers)]
        return InterviewContext("A", None, "Talk", [], [], [], None, None, [], turns, [])

    assert interview.evaluate_progress(ctx(0)).percentage == 0
    assert interview.evaluate_progress(ctx(2)).percentage == 40
    five = interview.evaluate_progress(ctx(5))
    assert five.percentage == 100 and five.can_complete
