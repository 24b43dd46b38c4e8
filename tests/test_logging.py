"""Structured logs: JSON lines with request and trace ids, and no answer text, ever."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from storyteller import logging_setup
from storyteller.models import AgentExecution
from tests import interview_helpers
from tests.interview_helpers import llm_config, open_question, signed_in_client

fake_llm = interview_helpers.fake_llm
app_factory = interview_helpers.app_factory

DISTINCTIVE = "Zebulon-Quixotic-Marmalade-7731"
ANSWER = (
    f"My grandmother kept a parrot called {DISTINCTIVE} in the kitchen at Rye, "
    "and it whistled whenever the kettle boiled in the winter of 1952."
)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the app's own log handler writes (use after building the app); the root logger's
    handlers and level are put back afterwards, so later tests log as before."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def _capture(stream: io.StringIO) -> None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and getattr(
            handler, "_storyteller_handler", False
        ):
            handler.setStream(stream)
            return
    raise AssertionError("the app did not install its log handler")


def _records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_carry_the_request_fields_and_echo_the_request_id(app_factory, log_lines):
    app = app_factory(LOG_FORMAT="json")
    _capture(log_lines)
    client = app.test_client()

    response = client.get("/healthz", headers={"X-Request-ID": "lb-req-42"})
    assert response.headers["X-Request-ID"] == "lb-req-42"
    insane = client.get("/healthz", headers={"X-Request-ID": "no spaces {allowed}"})
    generated = insane.headers["X-Request-ID"]
    assert generated != "no spaces {allowed}" and len(generated) == 32
    assert client.get("/healthz").headers["X-Request-ID"] != generated  # one per request

    lines = [r for r in _records(log_lines) if r["logger"] == "storyteller.request"]
    first = lines[0]
    assert set(first) == {
        "time", "level", "logger", "message", "request_id", "method", "path", "status",
        "duration_ms",
    }  # fmt: skip
    assert (first["request_id"], first["method"], first["path"], first["status"]) == (
        "lb-req-42",
        "GET",
        "/healthz",
        200,
    )
    assert first["level"] == "INFO"
    assert isinstance(first["duration_ms"], float)
    assert lines[1]["request_id"] == generated


def test_text_format_is_one_readable_line(app_factory, log_lines):
    app = app_factory(LOG_FORMAT="text")
    _capture(log_lines)
    app.test_client().get("/healthz?q=private", headers={"X-Request-ID": "r-1"})
    line = log_lines.getvalue().strip().splitlines()[-1]
    assert "storyteller.request: GET /healthz 200" in line
    assert "request_id=r-1" in line
    assert "private" not in line  # the query string is never logged


def test_a_turn_logs_its_trace_id_and_never_the_answer(
    fake_llm, app_factory, make_user, make_storyteller, make_session, db_session, log_lines, caplog
):
    user = make_user("storyteller", name="Edith Shaw")
    storyteller = make_storyteller(user=user)
    session = make_session(storyteller)
    db_session.commit()
    app = app_factory(**llm_config(fake_llm), LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    _capture(log_lines)
    caplog.set_level(logging.DEBUG)  # every record of every logger, as deep as it goes
    client = signed_in_client(app, user)
    assert client.post(f"/interview/{session.id}/start").status_code == 303
    db_session.expire_all()
    waiting = open_question(db_session, session.id)

    fake_llm.queue_error(500)  # the analysis fails: the fallback path logs too
    response = client.post(
        f"/interview/{session.id}/answer",
        data={"interaction_id": waiting.id, "answer": ANSWER, "idempotency_key": "log-1"},
        headers={"X-Request-ID": "turn-req-1"},
    )
    assert response.status_code == 303
    assert DISTINCTIVE in str(fake_llm.chat_requests)  # the answer did travel to the LLM

    written = log_lines.getvalue()
    assert written, "nothing was logged"
    assert DISTINCTIVE not in written
    assert "Rye" not in written
    for record in caplog.records:
        assert DISTINCTIVE not in record.getMessage()
        assert DISTINCTIVE not in json.dumps(record.__dict__, default=str)

    executions = db_session.scalars(
        select(AgentExecution)
        .where(AgentExecution.session_id == session.id)
        .order_by(AgentExecution.started_at)
    ).all()
    turn_trace = str(executions[-1].trace_id)
    answer_line = next(
        r
        for r in _records(log_lines)
        if r["logger"] == "storyteller.request" and r["request_id"] == "turn-req-1"
    )
    assert answer_line["path"] == f"/interview/{session.id}/answer"
    assert answer_line["status"] == 303
    assert answer_line["trace_id"] == turn_trace


def test_the_request_id_accepts_only_sane_values():
    assert logging_setup.request_id_from("abc.DEF_12-3") == "abc.DEF_12-3"
    for bad in ("", "a b", "x" * 129, "é", "a\nb", None):
        generated = logging_setup.request_id_from(bad)
        assert generated != bad and len(generated) == 32
