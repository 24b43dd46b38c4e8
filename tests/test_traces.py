"""Traces: a session's turns with everything they did, found by session or trace id; the admin
pages; the LLM calls as OpenTelemetry GenAI spans (JSON lines).

The sessions are run for real: interview.start and run_turn against the fake LLM server, one
turn's analysis call failing (HTTP 500), so there is a fallback and an agent_error.
"""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from storyteller import interview, otel_export, traces
from storyteller.extensions import db
from storyteller.models import (
    AgentError,
    AgentExecution,
    AuditLog,
    Event,
    InteractionMemory,
    LlmInteraction,
    MemoryAccess,
    ModuleState,
    StateTransition,
)
from tests import interview_helpers
from tests.interview_helpers import ANSWERS, answer_and_turn, llm_settings

fake_llm = interview_helpers.fake_llm

ANALYSIS = {
    "sentiment": "positive",
    "key_themes": ["family"],
    "people": ["brother Tom"],
    "places": ["Dorchester"],
}
SNEAKY = "<script>alert('x')</script> We lived on Adams Street with my brother Tom in 1948."
PRICES = {"gpt-4o-mini": {"input": "0.15", "output": "0.60"}}


def _run_session(db_session, fake_llm, make_user, make_storyteller, make_session, turns=2):
    """A session with an opening and ``turns`` answered turns; the 2nd turn's analysis fails."""
    user = make_user("storyteller", name="Margaret Ellis")
    storyteller = make_storyteller(user=user)
    session = make_session(storyteller)
    db_session.commit()
    settings = llm_settings(fake_llm, prices=PRICES)
    fake_llm.queue_reply("What is the first home you remember?", prompt_tokens=100)
    interview.start(db_session, session, user_id=user.id, settings=settings)
    db_session.commit()
    for n in range(turns):
        if n == 1:
            fake_llm.queue_error(500, message="upstream broke")
        else:
            fake_llm.queue_json(ANALYSIS, prompt_tokens=200, completion_tokens=30)
        fake_llm.queue_reply(f"Tell me more about that, question {n}?", prompt_tokens=300)
        answer_and_turn(db_session, session, SNEAKY if n == 0 else ANSWERS[n], settings, user=user)
    interview.pause(db_session, session, user_id=user.id)
    db_session.commit()
    db_session.expire_all()
    return user, storyteller, session


@pytest.fixture
def ran(db_session, fake_llm, make_user, make_storyteller, make_session):
    return _run_session(db_session, fake_llm, make_user, make_storyteller, make_session)


def _all(db_session, model, **where):
    query = select(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return list(db_session.scalars(query))


# ----------------------------------------------------------------------------- the domain


def test_trace_groups_every_row_of_the_session_by_turn(db_session, ran):
    _user, _storyteller, session = ran
    trace = traces.load_session_trace(db_session, session.id)
    assert trace is not None and trace.session.id == session.id

    executions = _all(db_session, AgentExecution, session_id=session.id)
    assert len(trace.turns) == len(executions) == 3  # the opening and two answered turns
    assert [t.number for t in trace.turns] == [1, 2, 3]
    starts = [t.execution.started_at for t in trace.turns]
    assert starts == sorted(starts)

    calls = _all(db_session, LlmInteraction, session_id=session.id)
    assert len(calls) == 5  # opening; analysis + question; failed analysis + question
    assert sorted(c.id for c in trace.llm_calls) == sorted(c.id for c in calls)
    for turn in trace.turns:
        assert all(c.agent_execution_id == turn.execution.id for c in turn.llm_calls)
        assert all(c.trace_id == turn.execution.trace_id for c in turn.llm_calls)
        assert all(e.agent_execution_id == turn.execution.id for e in turn.events)
        sequences = [e.sequence for e in turn.events]
        assert sequences == sorted(sequences)
        assert all(t.trigger_id == str(turn.execution.id) for t in turn.transitions)
        assert all(a.agent_execution_id == turn.execution.id for a in turn.memories_read)
    assert [len(t.llm_calls) for t in trace.turns] == [1, 2, 2]

    # Every event of the session is shown once: in its turn or outside.
    events = _all(db_session, Event, session_id=session.id)
    shown = [e.id for t in trace.turns for e in t.events] + [e.id for e in trace.outside_events]
    assert sorted(shown) == sorted(e.id for e in events)
    outside_types = {e.event_type for e in trace.outside_events}
    assert {"session.started", "session.paused"} <= outside_types
    assert all(e.agent_execution_id is None for e in trace.outside_events)

    # Progress changes of the turns are theirs; the pause is outside.
    transitions = list(
        db_session.scalars(
            select(StateTransition)
            .join(ModuleState, StateTransition.state_id == ModuleState.id)
            .where(ModuleState.session_id == session.id)
        )
    )
    shown = [t.id for turn in trace.turns for t in turn.transitions] + [
        t.id for t in trace.outside_transitions
    ]
    assert sorted(shown) == sorted(t.id for t in transitions)
    assert trace.turns[1].transitions and trace.turns[2].transitions

    # Memories written: each where its memory.written event says.
    written_events = {
        e.payload["memory_id"]: e.agent_execution_id
        for e in events
        if e.event_type == "memory.written"
    }
    assert written_events, "the answers should have given memories"
    for turn in trace.turns:
        for memory in turn.memories_written:
            assert written_events[str(memory.id)] == turn.execution.id
    memories = _all(db_session, InteractionMemory, session_id=session.id)
    shown = [m.id for t in trace.turns for m in t.memories_written] + [
        m.id for m in trace.outside_memories_written
    ]
    assert sorted(shown) == sorted(m.id for m in memories)
    reads = _all(db_session, MemoryAccess, session_id=session.id)
    shown = [a.id for t in trace.turns for a in t.memories_read] + [
        a.id for a in trace.outside_memories_read
    ]
    assert sorted(shown) == sorted(a.id for a in reads)

    # The failed analysis: a failed call and an error in the third turn.
    third = trace.turns[2]
    assert [c.success for c in third.llm_calls] == [False, True]
    errors = _all(db_session, AgentError, session_id=session.id)
    assert len(errors) == 1 and [e.id for e in third.errors] == [errors[0].id]
    assert third.errors[0].error_type.startswith("llm_")

    # Tokens and cost add up per turn; the cost is that of the priced calls.
    second = trace.turns[1]
    assert second.tokens == sum(
        (c.prompt_tokens or 0) + (c.response_tokens or 0) for c in second.llm_calls
    )
    assert second.cost == sum((c.cost for c in second.llm_calls), Decimal("0"))
    assert second.cost > 0
    assert trace.tokens == sum((c.prompt_tokens or 0) + (c.response_tokens or 0) for c in calls)
    assert trace.cost == sum((c.cost for c in calls if c.cost is not None), Decimal("0"))
    assert trace.unpriced_calls == sum(1 for c in calls if c.cost is None)


def test_waterfall_bars_are_placed_within_their_turn(db_session, ran):
    trace = traces.load_session_trace(db_session, ran[2].id)
    bars = trace.turn_bars()
    assert [b.label for b in bars] == ["Turn 1", "Turn 2", "Turn 3"]
    assert bars[0].start_ms == 0
    assert all(0 <= b.left_percent <= 100 and 0 < b.width_percent <= 100 for b in bars)
    assert all(b.left_percent + b.width_percent <= 100.01 for b in bars)
    turn_bars = trace.turns[1].bars()
    llm = [b for b in turn_bars if b.kind.startswith("llm")]
    assert len(llm) == 2
    for bar, call in zip(llm, trace.turns[1].llm_calls, strict=True):
        assert bar.duration_ms == (call.latency_ms or 0)
        assert call.model in bar.label


def _counting_queries(action) -> int:  # noqa: ANN001
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001 - SQLAlchemy hook
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        action()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def test_the_trace_costs_the_same_queries_however_many_turns(
    client, login, db_session, fake_llm, make_user, make_storyteller, make_session, ran
):
    """No N+1, in the domain function and in the whole page (which renders before its commit,
    so no row is reloaded one by one)."""

    def load(session_id: uuid.UUID) -> int:
        db_session.expire_all()
        return _counting_queries(lambda: traces.load_session_trace(db_session, session_id))

    small_session = ran[2]
    bigger = _run_session(db_session, fake_llm, make_user, make_storyteller, make_session, turns=4)
    large_session = bigger[2]
    assert load(small_session.id) == load(large_session.id) <= 9

    admin = make_user("admin")
    db_session.commit()
    login(admin)

    def page(session_id: uuid.UUID) -> int:
        def get() -> None:
            assert client.get(f"/admin/traces/{session_id}").status_code == 200

        return _counting_queries(get)

    def export(session_id: uuid.UUID) -> int:
        def get() -> None:
            assert client.get(f"/admin/traces/{session_id}/llm-calls.jsonl").status_code == 200

        return _counting_queries(get)

    page(small_session.id)  # warm-up: first-request work (e.g. the signed-in user)
    assert page(small_session.id) == page(large_session.id)
    assert export(small_session.id) == export(large_session.id)


def test_find_by_trace_id(db_session, ran):
    execution = _all(db_session, AgentExecution, session_id=ran[2].id)[0]
    found = traces.find_by_trace_id(db_session, execution.trace_id)
    assert found == traces.TraceLocation(ran[2].id, execution.id)
    assert traces.find_by_trace_id(db_session, uuid.uuid4()) is None
    assert traces.load_session_trace(db_session, uuid.uuid4()) is None


# ----------------------------------------------------------------------------- the pages


def test_session_page_shows_turns_escaped_and_records_the_read(
    client, login, make_user, db_session, ran
):
    admin = make_user("admin")
    db_session.commit()
    login(admin)
    session = ran[2]
    response = client.get(f"/admin/traces/{session.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for execution in _all(db_session, AgentExecution, session_id=session.id):
        assert f'id="turn-{execution.id}"' in html
        assert str(execution.trace_id) in html
    assert "<script>alert" not in html
    # The prompt sent to the LLM wraps the answer in tags: shown as text, not markup.
    assert "&lt;storyteller_answer&gt;" in html and "<storyteller_answer>" not in html
    assert "Outside a turn" in html and "session.paused" in html
    assert "<rect" in html and 'style="' not in html  # the waterfall, with no inline style
    error = _all(db_session, AgentError, session_id=session.id)[0]
    assert f"/admin/errors/{error.id}" in html
    reads = _all(db_session, AuditLog, actor_id=admin.id, object_type="trace")
    assert len(reads) == 1
    assert reads[0].storyteller_id == session.storyteller_id
    assert reads[0].object_id == str(session.id)


def test_search_by_session_trace_and_bad_ids(client, login, make_user, db_session, ran):
    admin = make_user("admin")
    db_session.commit()
    login(admin)
    session = ran[2]
    page = client.get("/admin/traces/")
    assert page.status_code == 200
    assert f"/admin/traces/{session.id}" in page.get_data(as_text=True)  # recent sessions

    to_session = client.get(f"/admin/traces/?q={session.id}")
    assert to_session.status_code == 303
    assert to_session.headers["Location"].endswith(f"/admin/traces/{session.id}")

    execution = _all(db_session, AgentExecution, session_id=session.id)[1]
    to_trace = client.get(f"/admin/traces/?q={execution.trace_id}")
    assert to_trace.status_code == 303
    assert to_trace.headers["Location"].endswith(f"/admin/traces/trace/{execution.trace_id}")
    anchored = client.get(f"/admin/traces/trace/{execution.trace_id}")
    assert anchored.status_code == 302
    assert anchored.headers["Location"].endswith(f"/admin/traces/{session.id}#turn-{execution.id}")

    bad = client.get("/admin/traces/?q=not-an-id")
    assert bad.status_code == 400
    assert "That is not a session id or a trace id" in bad.get_data(as_text=True)
    unknown = client.get(f"/admin/traces/?q={uuid.uuid4()}")
    assert unknown.status_code == 404
    assert "No session and no trace has that id" in unknown.get_data(as_text=True)
    assert client.get(f"/admin/traces/trace/{uuid.uuid4()}").status_code == 404
    assert client.get(f"/admin/traces/{uuid.uuid4()}").status_code == 404
    assert client.get(f"/admin/traces/{uuid.uuid4()}/llm-calls.jsonl").status_code == 404


# ----------------------------------------------------------------------------- OpenTelemetry


HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def test_llm_calls_export_as_genai_spans(client, login, make_user, db_session, ran):
    admin = make_user("admin")
    db_session.commit()
    login(admin)
    session = ran[2]
    response = client.get(f"/admin/traces/{session.id}/llm-calls.jsonl")
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    lines = response.get_data(as_text=True).splitlines()
    spans = [json.loads(line) for line in lines]
    rows = {c.id.hex[:16]: c for c in _all(db_session, LlmInteraction, session_id=session.id)}
    executions = {e.id: e for e in _all(db_session, AgentExecution, session_id=session.id)}
    assert len(spans) == len(rows) == 5
    assert len({s["span_id"] for s in spans}) == 5

    trace_of_parent: dict[str, str] = {}
    for span in spans:
        row = rows[span["span_id"]]
        execution = executions[row.agent_execution_id]
        attrs = span["attributes"]
        assert HEX32.match(span["trace_id"]) and HEX16.match(span["span_id"])
        assert span["trace_id"] == execution.trace_id.hex
        assert span["parent_span_id"] == execution.id.hex[:16]
        # One turn, one trace id.
        assert (
            trace_of_parent.setdefault(span["parent_span_id"], span["trace_id"])
            == (span["trace_id"])
        )
        assert span["name"] == f"chat {row.model}"
        assert span["kind"] == "SPAN_KIND_CLIENT"
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.provider.name"] == "openai" == attrs["gen_ai.system"]
        assert attrs["gen_ai.request.model"] == row.model
        assert attrs["gen_ai.conversation.id"] == str(session.id)
        assert attrs.get("gen_ai.usage.input_tokens") == row.prompt_tokens
        assert attrs.get("gen_ai.usage.output_tokens") == row.response_tokens
        assert attrs.get("gen_ai.response.model") == row.response_model
        start = span["start_time_unix_nano"]
        assert start == int(row.created_at.timestamp() * 1_000_000) * 1000
        assert span["end_time_unix_nano"] - start == (row.latency_ms or 0) * 1_000_000
        assert attrs["storyteller.purpose"] == row.purpose
        if row.cost is None:
            assert attrs["storyteller.unpriced"] is True
        else:
            assert Decimal(attrs["storyteller.cost_usd"]) == row.cost
        if row.purpose == "analysis":
            assert attrs["gen_ai.request.temperature"] == 0.0
        if row.success:
            assert span["status"] == {"code": "STATUS_CODE_OK"}
            assert "error.type" not in attrs
        else:
            assert span["status"]["code"] == "STATUS_CODE_ERROR"
            assert attrs["error.type"] == (row.error_type or str(row.status_code))
        assert "gen_ai.input.messages" not in attrs  # content is opt-in
    assert len(trace_of_parent) == 3
    assert sum(1 for s in spans if s["status"]["code"] == "STATUS_CODE_ERROR") == 1
    exports = _all(db_session, AuditLog, actor_id=admin.id, object_type="trace_export")
    assert len(exports) == 1 and exports[0].storyteller_id == session.storyteller_id


def test_export_with_content_carries_messages(client, login, make_user, db_session, ran):
    admin = make_user("admin")
    db_session.commit()
    login(admin)
    session = ran[2]
    body = client.get(f"/admin/traces/{session.id}/llm-calls.jsonl?content=1").get_data(
        as_text=True
    )
    spans = [json.loads(line) for line in body.splitlines()]
    rows = {c.id.hex[:16]: c for c in _all(db_session, LlmInteraction, session_id=session.id)}
    for span in spans:
        row = rows[span["span_id"]]
        messages = span["attributes"]["gen_ai.input.messages"]
        assert [m["role"] for m in messages] == [m["role"] for m in row.prompt]
        assert messages[-1]["parts"][0]["content"] == row.prompt[-1]["content"]
        if row.response is not None:
            output = span["attributes"]["gen_ai.output.messages"][0]
            assert output["parts"][0]["content"] == row.response
    sent = [
        m["parts"][0]["content"] for s in spans for m in s["attributes"]["gen_ai.input.messages"]
    ]
    assert any("Adams Street" in text for text in sent)
    assert _all(db_session, AuditLog, actor_id=admin.id, object_type="trace_export_with_content")


def test_temperature_comes_from_the_agent_version(db_session, ran):
    trace = traces.load_session_trace(db_session, ran[2].id)
    version = trace.session.agent_version
    assert version is not None
    version.configuration = {**(version.configuration or {}), "temperature": 0.4}
    question = next(c for c in trace.llm_calls if c.purpose == "next_question")
    turn = next(t for t in trace.turns if question in t.llm_calls)
    span = otel_export.span_of(trace, question, turn.execution.id, turn.execution.trace_id)
    assert span["attributes"]["gen_ai.request.temperature"] == 0.4
    db_session.rollback()


def test_rows_outside_any_turn_are_listed_apart_and_found_by_their_trace_id(
    client, login, make_user, db_session, ran
):
    session = ran[2]
    orphan_trace = uuid.uuid4()
    call = LlmInteraction(
        session_id=session.id,
        storyteller_id=session.storyteller_id,
        trace_id=orphan_trace,
        purpose="summary",
        prompt=[{"role": "user", "content": "Summarise"}],
        model="llama-3-8b",
        success=True,
    )
    failure = AgentError(
        storyteller_id=session.storyteller_id,
        session_id=session.id,
        error_type="RuntimeError",
        error_message="the turn failed and was rolled back",
        context={"trace_id": "not-a-uuid"},
    )
    db_session.add_all([call, failure])
    db_session.commit()

    trace = traces.load_session_trace(db_session, session.id)
    assert [c.id for c in trace.outside_llm_calls] == [call.id]
    assert [e.id for e in trace.outside_errors] == [failure.id]
    assert call.id in {c.id for c in trace.llm_calls}
    assert traces.find_by_trace_id(db_session, orphan_trace) == traces.TraceLocation(
        session.id, None
    )
    (outside,) = [s for s in otel_export.spans(trace) if s["span_id"] == call.id.hex[:16]]
    assert outside["trace_id"] == orphan_trace.hex and outside["parent_span_id"] is None
    assert "gen_ai.request.temperature" not in outside["attributes"]

    admin = make_user("admin")
    db_session.commit()
    login(admin)
    response = client.get(f"/admin/traces/trace/{orphan_trace}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/traces/{session.id}")
    html = client.get(f"/admin/traces/{session.id}").get_data(as_text=True)
    assert "the turn failed and was rolled back" in html
