"""Fixtures and helpers for the interview tests that talk to the fake LLM server.

Test modules import the fixtures they use by name (``from tests.interview_helpers import
fake_llm, app_factory  # noqa: F401``). A second app instance (``app_factory``) shares the
test's database connection, so everything it writes is rolled back after the test, exactly
like tests/test_error_pages.py and tests/test_csrf.py do it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any

import openai  # noqa: F401 - imported up front: a first import (~1 s) must not eat a 0.5 s timeout
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from storyteller import create_app, interview
from storyteller.agent.llm import LlmSettings
from storyteller.extensions import db
from storyteller.models import Event, Session, SessionInteraction, User
from tests.conftest import IsolatedClient, sign_in
from tests.conftest import test_config as make_config
from tests.fake_llm_server import FakeLlmServer

ANSWERS = [
    "We lived on Adams Street in Dorchester. In the summer of 1948 my brother Tom and I sat on "
    "the back porch shelling peas while my mother sang along to the radio.",
    "My brother Tom was tall and funny. He taught me to ride a bicycle in Franklin Park in 1950.",
    "My father worked at the shipyard in Quincy. He came home smelling of oil and salt.",
    "In 1955 we moved to Medford. I remember the new kitchen and the smell of fresh paint.",
    "I think that covers the main memories from those years.",
]


# Short, but not so short that building a fresh openai client on a busy machine counts as
# a timeout; the tests about timeouts pass 0.5 s explicitly.
DEFAULT_TIMEOUT = 2.0

# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def fake_llm() -> Iterator[FakeLlmServer]:
    """A running FakeLlmServer on 127.0.0.1 (fresh per test, stopped afterwards)."""
    with FakeLlmServer() as server:
        yield server


@pytest.fixture
def app_factory(
    app: Flask, db_session: DbSession, database_url: str, tmp_path
) -> Iterator[Callable[..., Flask]]:
    """Build more app instances on the test's database connection (rolled back afterwards)."""
    built: list[tuple[Flask, Any]] = []

    def build(**extra: Any) -> Flask:
        config = make_config(database_url, str(tmp_path / f"instance{len(built)}"), **extra)
        other = create_app(config)
        other.test_client_class = IsolatedClient
        engines = db._app_engines[other]  # noqa: SLF001 - join the test's transaction
        built.append((other, engines[None]))
        engines[None] = db._app_engines[app][None]  # noqa: SLF001 - the db_session connection
        return other

    yield build
    for other, engine in built:
        db._app_engines[other][None] = engine  # noqa: SLF001
        engine.dispose()


# ----------------------------------------------------------------------------- configuration


def llm_config(server: FakeLlmServer, **extra: Any) -> dict[str, Any]:
    """App config pointing at the fake server: short timeout, no retries."""
    config: dict[str, Any] = {
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": server.base_url,
        "STORYTELLER_LLM_MODEL": "gpt-4o-mini",
        "STORYTELLER_LLM_TIMEOUT": DEFAULT_TIMEOUT,
        "STORYTELLER_LLM_RETRIES": 0,
        "STORYTELLER_DAILY_TOKEN_BUDGET": 1_000_000,
        "STORYTELLER_MODEL_PRICES": {},
    }
    config.update(extra)
    return config


def llm_settings(
    server: FakeLlmServer,
    *,
    model: str = "gpt-4o-mini",
    budget: int = 1_000_000,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = 0,
    prices: dict[str, Any] | None = None,
) -> interview.InterviewSettings:
    """InterviewSettings for calling the domain functions directly."""
    return interview.InterviewSettings(
        llm=LlmSettings(
            base_url=server.base_url,
            api_key="test-key",
            model=model,
            timeout_seconds=timeout,
            max_retries=retries,
        ),
        daily_token_budget=budget,
        prices=dict(prices or {}),
    )


# ----------------------------------------------------------------------------- the domain path


def answer_and_turn(
    db_session: DbSession,
    session: Session,
    text: str,
    settings: interview.InterviewSettings,
    *,
    user: User | None = None,
    key: str | None = None,
    on_delta: Callable[[str], None] | None = None,
) -> tuple[SessionInteraction, interview.TurnResult]:
    """What the answer route does: save the answer, commit, run the turn, commit."""
    waiting = open_question(db_session, session.id)
    assert waiting is not None, "no open question"
    saved, created = interview.record_answer(
        db_session,
        session,
        waiting,
        text=text,
        method="text",
        idempotency_key=key or uuid.uuid4().hex,
        user_id=user.id if user else None,
    )
    assert created
    db_session.commit()
    result = interview.run_turn(
        db_session,
        session,
        saved,
        user_id=user.id if user else None,
        settings=settings,
        on_delta=on_delta,
    )
    db_session.commit()
    return saved, result


# ----------------------------------------------------------------------------- reading rows


def open_question(db_session: DbSession, session_id: uuid.UUID) -> SessionInteraction | None:
    return db_session.scalar(
        select(SessionInteraction).where(
            SessionInteraction.session_id == session_id,
            SessionInteraction.response_method.is_(None),
        )
    )


def interactions(db_session: DbSession, session_id: uuid.UUID) -> list[SessionInteraction]:
    return list(
        db_session.scalars(
            select(SessionInteraction)
            .where(SessionInteraction.session_id == session_id)
            .order_by(SessionInteraction.interaction_sequence)
        )
    )


def count(db_session: DbSession, model: Any, **where: Any) -> int:
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return int(db_session.scalar(query) or 0)


def events_of(db_session: DbSession, session_id: uuid.UUID, event_type: str | None = None):
    query = select(Event).where(Event.session_id == session_id).order_by(Event.sequence)
    if event_type is not None:
        query = query.where(Event.event_type == event_type)
    return list(db_session.scalars(query))


# ----------------------------------------------------------------------------- the fake server


def chat_bodies(server: FakeLlmServer) -> list[dict[str, Any]]:
    """The JSON bodies of the chat requests the server received, in order."""
    return [r["json"] for r in server.chat_requests]


def message(body: dict[str, Any], role: str) -> str:
    found = [m["content"] for m in body["messages"] if m["role"] == role]
    assert len(found) == 1, body["messages"]
    return found[0]


def all_request_text(server: FakeLlmServer) -> str:
    """Every request the server received, as raw text (bodies, paths, headers)."""
    return "\n".join(json.dumps(r, ensure_ascii=False, default=str) for r in server.requests)


# ----------------------------------------------------------------------------- HTTP


def signed_in_client(flask_app: Flask, user: User) -> FlaskClient:
    client = flask_app.test_client()
    response = sign_in(client, user)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return client


def sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """The (event, data) pairs of a text/event-stream body."""
    parsed = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", ""
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data += line[len("data: ") :]
        parsed.append((name, json.loads(data) if data else {}))
    return parsed


class MainContent(HTMLParser):
    """The tags and attributes inside <main>, and the text there."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self.depth += 1
        elif self.depth:
            self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag == "main" and self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def main_content(html: str) -> MainContent:
    parser = MainContent()
    parser.feed(html)
    parser.close()
    assert parser.tags, "the page has no <main> content"
    return parser
