"""The interview with an LLM: the real openai client against the fake OpenAI-compatible server.

Most tests call the domain functions (``interview.start``, ``record_answer``, ``run_turn``)
with InterviewSettings pointing at the fake server; the HTTP tests use a second app
instance configured with OPENAI_BASE_URL etc., on the test's database connection.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from storyteller import agent_versions, interview
from storyteller.agent.interviewer import ANALYSIS_PROMPT
from storyteller.models import (
    AgentError,
    AgentExecution,
    LlmInteraction,
    Session,
    SessionInteraction,
)
from tests import interview_helpers
from tests.interview_helpers import (
    ANSWERS,
    answer_and_turn,
    chat_bodies,
    count,
    events_of,
    interactions,
    llm_config,
    llm_settings,
    message,
    open_question,
    signed_in_client,
    sse_events,
)

# Fixtures from the helper module, used by name.
fake_llm = interview_helpers.fake_llm
app_factory = interview_helpers.app_factory

REFINED = {
    "sentiment": "positive",
    "key_themes": ["summer evenings", "family"],
    "people": ["brother Tom", "my mother", "Aunt Rose"],
    "places": ["Dorchester"],
}
OPENING = "Hello, Margaret. What is the first home you remember?"
FOLLOW_UP = "What songs did your mother sing on that back porch?"
FOLLOW_UP_CHUNKS = ["What songs ", "did your mother ", "sing on that ", "back porch?"]


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.000001"))


def _llm_rows(db_session, **where) -> list[LlmInteraction]:
    query = select(LlmInteraction).order_by(LlmInteraction.created_at)
    for key, value in where.items():
        query = query.where(getattr(LlmInteraction, key) == value)
    return list(db_session.scalars(query))


def _storyteller_session(make_user, make_storyteller, make_session, db_session, **fields):
    user = make_user("storyteller", name="Margaret Ellis")
    storyteller = make_storyteller(user=user)
    session = make_session(storyteller, **fields)
    db_session.commit()
    return user, storyteller, session


# ----------------------------------------------------------------------------- 1. streaming


# Expected costs per call in USD: gpt-4o-mini is $0.15 / $0.60 per 1M tokens.
PRICED = {"opening": "0.000210", "analysis": "0.000330", "next_question": "0.000612"}


@pytest.mark.parametrize("model", ["gpt-4o-mini", "llama3.1:8b"])
def test_streamed_question_and_analysis_are_recorded_as_reported(
    model, fake_llm, make_user, make_storyteller, make_session, db_session
):
    user, _storyteller, session = _storyteller_session(
        make_user, make_storyteller, make_session, db_session
    )
    settings = llm_settings(fake_llm, model=model)
    priced = model == "gpt-4o-mini"

    fake_llm.queue_reply(OPENING, prompt_tokens=1000, completion_tokens=100)
    first = interview.start(db_session, session, user_id=user.id, settings=settings)
    db_session.commit()
    assert first.agent_prompt == OPENING

    fake_llm.queue_json(REFINED, prompt_tokens=2000, completion_tokens=50)
    fake_llm.queue_reply(
        FOLLOW_UP, prompt_tokens=4000, completion_tokens=20, chunks=FOLLOW_UP_CHUNKS
    )
    deltas: list[str] = []
    answered, result = answer_and_turn(
        db_session, session, ANSWERS[0], settings, user=user, on_delta=deltas.append
    )
    db_session.expire_all()

    # The question arrived as the server streamed it, in order.
    assert deltas == FOLLOW_UP_CHUNKS
    assert not result.fell_back
    execution = db_session.get(AgentExecution, result.execution.id)
    assert execution.status == "succeeded"

    rows = _llm_rows(db_session, agent_execution_id=execution.id)
    assert [r.purpose for r in rows] == ["analysis", "next_question"]
    analysis_row, question_row = rows
    for row, (prompt_tokens, response_tokens) in zip(rows, [(2000, 50), (4000, 20)], strict=True):
        assert row.prompt_tokens == prompt_tokens
        assert row.response_tokens == response_tokens
        assert row.model == model and row.response_model == model
        assert row.success is True and row.error_type is None
        assert row.latency_ms is not None and row.latency_ms >= 0
        assert row.time_to_first_token_ms is not None
        assert row.time_to_first_token_ms <= row.latency_ms
        assert row.trace_id == execution.trace_id
        assert row.agent_execution_id == execution.id
        assert row.session_id == session.id
        assert row.agent_version_id == session.agent_version_id is not None
        assert row.status_code == 200 and row.attempts == 1
    assert analysis_row.is_streaming is False
    assert question_row.is_streaming is True
    assert question_row.response == FOLLOW_UP
    # What the server reported is what was stored.
    reported = [r["usage"] for r in fake_llm.responses]
    assert [(u["prompt_tokens"], u["completion_tokens"]) for u in reported] == [
        (1000, 100),
        (2000, 50),
        (4000, 20),
    ]

    nxt = open_question(db_session, session.id)
    assert nxt.agent_prompt == FOLLOW_UP
    assert nxt.llm_interaction_id == question_row.id
    assert nxt.model_used == model
    assert nxt.tokens_used == 4020
    assert (nxt.metadata_ or {}).get("source") == "llm"

    # The refined analysis, not the offline one, is on the answered interaction.
    answered = db_session.get(SessionInteraction, answered.id)
    assert answered.sentiment == "positive"
    assert answered.mentions_people == REFINED["people"]
    assert answered.key_themes == REFINED["key_themes"]
    assert answered.mentions_places == REFINED["places"]
    assert answered.metadata_["analysis"]["people"] == REFINED["people"]

    fresh = db_session.get(Session, session.id)
    all_rows = _llm_rows(db_session, session_id=session.id)
    assert len(all_rows) == 3
    assert fresh.total_tokens == 1100 + 2050 + 4020
    assert fresh.total_tokens == sum(r.prompt_tokens + r.response_tokens for r in all_rows)
    if priced:
        by_purpose = {r.purpose: r for r in all_rows}
        assert _money(by_purpose["analysis"].cost) == Decimal(PRICED["analysis"])
        assert _money(by_purpose["next_question"].cost) == Decimal(PRICED["next_question"])
        assert _money(nxt.cost) == Decimal(PRICED["next_question"])
        assert _money(fresh.total_cost) == Decimal("0.001152")  # 0.000210 + 0.000330 + 0.000612
    else:
        # Unpriced: NULL, never a guessed 0.
        assert all(r.cost is None for r in all_rows)
        assert nxt.cost is None
        assert _money(fresh.total_cost) == Decimal("0")
    assert count(db_session, AgentError, session_id=session.id) == 0
    assert events_of(db_session, session.id, "llm.fallback") == []


# ----------------------------------------------------------------------------- 2. non-streaming


def test_analysis_is_a_non_streaming_structured_output_call(
    fake_llm, make_user, make_storyteller, make_session, db_session
):
    user, _storyteller, session = _storyteller_session(
        make_user, make_storyteller, make_session, db_session
    )
    settings = llm_settings(fake_llm)
    fake_llm.queue_reply(OPENING)
    interview.start(db_session, session, user_id=user.id, settings=settings)
    db_session.commit()

    # A server that refuses json_schema (400) gets one more try in json_object mode.
    fake_llm.queue_error(400, message="response_format json_schema is not supported")
    fake_llm.queue_json(REFINED, prompt_tokens=300, completion_tokens=30)
    fake_llm.queue_reply(FOLLOW_UP)
    answered, result = answer_and_turn(db_session, session, ANSWERS[0], settings, user=user)
    db_session.expire_all()

    bodies = chat_bodies(fake_llm)
    assert len(bodies) == 4
    opening_body, strict_body, json_object_body, question_body = bodies
    assert opening_body.get("stream") is True and question_body.get("stream") is True
    for body in (strict_body, json_object_body):
        assert not body.get("stream")
        assert message(body, "user").startswith("<storyteller_answer>")
        assert body["messages"][0] == {"role": "system", "content": ANALYSIS_PROMPT}
        assert body["temperature"] == 0
    assert strict_body["response_format"]["type"] == "json_schema"
    assert strict_body["response_format"]["json_schema"]["name"] == "answer_analysis"
    assert strict_body["response_format"]["json_schema"]["strict"] is True
    assert json_object_body["response_format"] == {"type": "json_object"}

    (row,) = _llm_rows(db_session, agent_execution_id=result.execution.id, purpose="analysis")
    assert row.is_streaming is False
    assert row.success is True and row.attempts == 2
    assert (row.prompt_tokens, row.response_tokens) == (300, 30)
    assert row.time_to_first_token_ms == row.latency_ms  # no stream: the whole reply at once
    assert db_session.get(SessionInteraction, answered.id).mentions_people == REFINED["people"]
    assert not result.fell_back


# ----------------------------------------------------------------------------- 3. failures


def _queue_failure(server, kind: str) -> None:
    if kind == "500":
        server.queue_error(500)
    elif kind == "429":
        server.queue_error(429, retry_after="0")
    elif kind == "hang":
        server.queue_hang(5)
    else:
        server.queue_malformed("not json{")


FAILURES = {
    # kind: (error_type, status_code)
    "500": ("server_error", 500),
    "429": ("rate_limited", 429),
    "hang": ("timeout", None),
    # 200 for the analysis; the stream's _BadResponse leaves status_code unset (llm.py)
    "malformed": ("bad_response", (200, None)),
}


@pytest.mark.parametrize("kind", list(FAILURES))
def test_a_failing_llm_falls_back_to_the_offline_interviewer(
    kind, fake_llm, make_user, make_storyteller, make_session, db_session
):
    user, _storyteller, session = _storyteller_session(
        make_user, make_storyteller, make_session, db_session
    )
    settings = llm_settings(fake_llm, timeout=0.5, retries=0)
    fake_llm.queue_reply(OPENING)
    interview.start(db_session, session, user_id=user.id, settings=settings)
    db_session.commit()

    # Both calls of the turn fail: the analysis and the question.
    _queue_failure(fake_llm, kind)
    _queue_failure(fake_llm, kind)
    deltas: list[str] = []
    answered, result = answer_and_turn(
        db_session, session, ANSWERS[0], settings, user=user, on_delta=deltas.append
    )
    db_session.expire_all()
    assert fake_llm.pending() == 0 and len(fake_llm.chat_requests) == 3

    saved = db_session.get(SessionInteraction, answered.id)
    assert saved.storyteller_response == ANSWERS[0] and saved.response_method == "text"
    assert saved.sentiment is not None  # the offline analysis was kept

    nxt = open_question(db_session, session.id)
    assert nxt is not None and nxt.agent_prompt
    assert nxt.model_used == "offline" and nxt.llm_interaction_id is None
    assert (nxt.metadata_ or {}).get("source") != "llm"
    assert nxt.agent_prompt not in (OPENING, "")
    assert deltas == []

    error_type, status = FAILURES[kind]
    rows = _llm_rows(db_session, agent_execution_id=result.execution.id)
    assert [r.purpose for r in rows] == ["analysis", "next_question"]
    for row in rows:
        assert row.success is False
        assert row.error_type == error_type, (row.purpose, row.error_type, row.error_message)
        assert row.status_code in (status if isinstance(status, tuple) else (status,))
        assert row.error_message
        assert row.trace_id == result.execution.trace_id
    if kind == "hang":
        assert all(400 <= r.latency_ms < 3000 for r in rows), [r.latency_ms for r in rows]

    fallbacks = events_of(db_session, session.id, "llm.fallback")
    assert {e.llm_interaction_id for e in fallbacks} == {r.id for r in rows}
    assert all(e.agent_execution_id == result.execution.id for e in fallbacks)
    errors = list(
        db_session.scalars(
            select(AgentError).where(AgentError.agent_execution_id == result.execution.id)
        )
    )
    assert sorted(e.error_type for e in errors) == [f"llm_{error_type}"] * 2
    assert result.fell_back is True
    execution = db_session.get(AgentExecution, result.execution.id)
    assert execution.status == "succeeded" and execution.output_data["fell_back"] is True


def test_a_failing_llm_through_http_keeps_the_answer_and_asks_offline(
    fake_llm, app_factory, make_user, make_storyteller, make_session, db_session
):
    user, _storyteller, session = _storyteller_session(
        make_user, make_storyteller, make_session, db_session
    )
    llm_app = app_factory(**llm_config(fake_llm, STORYTELLER_LLM_TIMEOUT=0.5))
    client = signed_in_client(llm_app, user)
    fake_llm.queue_reply(OPENING)
    assert client.post(f"/interview/{session.id}/start").status_code == 303
    db_session.expire_all()
    waiting = open_question(db_session, session.id)
    assert waiting.agent_prompt == OPENING

    # The analysis gets a 500; the question hangs past STORYTELLER_LLM_TIMEOUT (0.5 s).
    fake_llm.queue_error(500)
    fake_llm.queue_hang(5)
    response = client.post(
        f"/interview/{session.id}/answer",
        data={"interaction_id": waiting.id, "answer": ANSWERS[0], "idempotency_key": "k-500"},
    )
    assert response.status_code == 303
    db_session.expire_all()
    assert db_session.get(SessionInteraction, waiting.id).storyteller_response == ANSWERS[0]
    nxt = open_question(db_session, session.id)
    assert nxt is not None and nxt.model_used == "offline"
    assert len(events_of(db_session, session.id, "llm.fallback")) == 2
    assert count(db_session, AgentError, session_id=session.id) == 2
    rows = _llm_rows(db_session, session_id=session.id, success=False)
    assert sorted((r.purpose, r.error_type) for r in rows) == [
        ("analysis", "server_error"),
        ("next_question", "timeout"),
    ]
    assert all(r.latency_ms < 3000 for r in rows)
    page = client.get(f"/interview/{session.id}").get_data(as_text=True)
    assert "could not be prepared" not in page  # the turn itself did not fail


# ----------------------------------------------------------------------------- SSE over HTTP


def test_the_streamed_answer_route_sends_the_question_as_it_is_written(
    fake_llm, app_factory, make_user, make_storyteller, make_session, db_session
):
    user, _storyteller, session = _storyteller_session(
        make_user, make_storyteller, make_session, db_session
    )
    llm_app = app_factory(**llm_config(fake_llm))
    client = signed_in_client(llm_app, user)
    fake_llm.queue_reply(OPENING, prompt_tokens=10, completion_tokens=9)
    assert client.post(f"/interview/{session.id}/start").status_code == 303
    db_session.expire_all()
    waiting = open_question(db_session, session.id)

    fake_llm.queue_json(REFINED, prompt_tokens=20, completion_tokens=5)
    fake_llm.queue_reply(FOLLOW_UP, prompt_tokens=30, completion_tokens=7, chunks=FOLLOW_UP_CHUNKS)
    response = client.post(
        f"/interview/{session.id}/answer",
        data={"interaction_id": waiting.id, "answer": ANSWERS[0], "idempotency_key": "k-sse"},
        headers={"Accept": "text/event-stream"},
        buffered=True,
    )
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    events = sse_events(response.get_data(as_text=True))
    names = [name for name, _data in events]
    assert names[0] == "saved" and names[-1] == "done"
    assert set(names[1:-1]) == {"delta"}
    assert [data["text"] for name, data in events if name == "delta"] == FOLLOW_UP_CHUNKS
    assert events[-1][1] == {"ok": True, "url": f"/interview/{session.id}"}

    db_session.expire_all()
    assert db_session.get(SessionInteraction, waiting.id).storyteller_response == ANSWERS[0]
    nxt = open_question(db_session, session.id)
    assert nxt.agent_prompt == FOLLOW_UP and nxt.model_used == "gpt-4o-mini"
    fresh = db_session.get(Session, session.id)
    assert fresh.total_tokens == 19 + 25 + 37
    assert FOLLOW_UP.replace("'", "&#39;") in client.get(f"/interview/{session.id}").get_data(
        as_text=True
    )


# ----------------------------------------------------------------------------- 4. budget


def test_no_llm_request_once_the_daily_budget_is_spent(
    fake_llm, app_factory, make_user, make_storyteller, make_session, db_session
):
    user, storyteller, session = _storyteller_session(
        make_user, make_storyteller, make_session, db_session
    )
    llm_app = app_factory(**llm_config(fake_llm, STORYTELLER_DAILY_TOKEN_BUDGET=100))
    client = signed_in_client(llm_app, user)

    # Every call costs 50 tokens: the opening (0 -> 50) and the first analysis (50 -> 100)
    # are within the budget; from then on it is spent.
    fake_llm.set_default(None)
    fake_llm.queue_reply(OPENING, prompt_tokens=40, completion_tokens=10)
    fake_llm.queue_json(REFINED, prompt_tokens=40, completion_tokens=10)
    assert client.post(f"/interview/{session.id}/start").status_code == 303

    questions = []
    for number, answer in enumerate(ANSWERS[:3]):
        db_session.expire_all()
        waiting = open_question(db_session, session.id)
        questions.append(waiting.agent_prompt)
        before = len(fake_llm.requests)
        response = client.post(
            f"/interview/{session.id}/answer",
            data={"interaction_id": waiting.id, "answer": answer, "idempotency_key": f"b{number}"},
        )
        assert response.status_code == 303
        if number == 0:
            assert len(fake_llm.requests) == before + 1  # the analysis only
        else:
            assert len(fake_llm.requests) == before  # not a single request
    db_session.expire_all()
    assert interview.tokens_used_today(db_session, storyteller.id) == 100
    assert len(fake_llm.requests) == 2

    nxt = open_question(db_session, session.id)
    questions.append(nxt.agent_prompt)
    assert all(questions) and len(set(questions)) == len(questions)
    assert [i.model_used for i in interactions(db_session, session.id)] == [
        "gpt-4o-mini",
        "offline",
        "offline",
        "offline",
    ]
    exhausted = events_of(db_session, session.id, "llm.budget_exhausted")
    assert len(exhausted) == 1 + 2 + 2  # the first turn's question, then both calls twice
    assert all(e.agent_execution_id is not None for e in exhausted)
    assert count(db_session, LlmInteraction, session_id=session.id) == 2


# ----------------------------------------------------------------------------- 5. agent version


def test_the_agent_version_pinned_to_the_session_is_used(
    fake_llm, make_user, make_storyteller, make_session, db_session
):
    user, _storyteller, session = _storyteller_session(
        make_user, make_storyteller, make_session, db_session
    )
    agent, _active = agent_versions.ensure_interviewer_agent(db_session)
    pinned_prompt = "You are the pinned test interviewer. Ask one short question."
    pinned = agent_versions.create_agent_version(
        db_session,
        agent_id=agent.id,
        version_number="9.1.0-test",
        configuration={"system_prompt": pinned_prompt, "model": "gpt-4.1-mini", "temperature": 0.2},
        is_active=True,
    )
    db_session.commit()
    settings = llm_settings(fake_llm)

    fake_llm.queue_reply(OPENING)
    interview.start(db_session, session, user_id=user.id, settings=settings)
    db_session.commit()
    assert session.agent_version_id == pinned.id

    # A newer version becomes active mid-session: this session stays on its pinned one.
    agent_versions.create_agent_version(
        db_session,
        agent_id=agent.id,
        version_number="9.2.0-test",
        configuration={"system_prompt": "You are the NEW active interviewer.", "model": None},
        is_active=True,
    )
    db_session.commit()
    fake_llm.queue_json(REFINED)
    fake_llm.queue_reply(FOLLOW_UP)
    _answered, result = answer_and_turn(db_session, session, ANSWERS[0], settings, user=user)
    db_session.expire_all()

    bodies = chat_bodies(fake_llm)
    question_bodies = [b for b in bodies if b.get("stream")]
    assert len(question_bodies) == 2
    for body in question_bodies:
        assert body["messages"][0] == {"role": "system", "content": pinned_prompt}
        assert body["model"] == "gpt-4.1-mini"
        assert body["temperature"] == 0.2
    assert "NEW active" not in str(bodies)
    assert db_session.get(Session, session.id).agent_version_id == pinned.id
    rows = _llm_rows(db_session, session_id=session.id)
    assert {r.agent_version_id for r in rows} == {pinned.id}
    assert {r.model for r in rows} == {"gpt-4.1-mini"}
    execution = db_session.get(AgentExecution, result.execution.id)
    assert execution.agent_version_id == pinned.id
