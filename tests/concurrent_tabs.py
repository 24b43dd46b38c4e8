"""Several signed-in browser tabs at once against a database of their own.

Tests of races need committed data seen by several connections, so ``seeded`` builds its
own database (a temporary SQLite file, or a fresh PostgreSQL database) instead of the
shared rolled-back ``db_session``, with one storyteller, one session and its first
question; ``tab`` signs a new client in; ``all_at_once`` releases calls together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from storyteller import accounts, create_app, interview
from storyteller.agent.llm import LlmSettings
from storyteller.consent import record_consent
from storyteller.extensions import db
from storyteller.models import Session, Storyteller
from tests import conftest
from tests.conftest import IsolatedClient


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tabs.db'}"
        return
    url = conftest.create_postgres_database("storyteller_tabs")
    yield url
    conftest.drop_postgres_database(url)


@pytest.fixture
def seeded(committed_url, tmp_path) -> Iterator[dict[str, Any]]:
    app = create_app(conftest.test_config(committed_url, str(tmp_path / "instance")))
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
        user = accounts.create_user(
            db.session,
            email="alice@example.org",
            name="Alice",
            role="storyteller",
            password=conftest.PASSWORD,
        )
        storyteller = Storyteller(display_name="Alice", user_id=user.id)
        db.session.add(storyteller)
        db.session.flush()
        record_consent(
            db.session, storyteller, scope=["interview", "llm_processing"], recorded_by_id=None
        )
        session = Session(storyteller_id=storyteller.id, intention="Childhood", session_name="C")
        db.session.add(session)
        db.session.flush()
        settings = interview.InterviewSettings(
            llm=LlmSettings(base_url=None, api_key=None, model="none"),
            daily_token_budget=0,
            prices={},
        )
        question = interview.start(db.session, session, user_id=user.id, settings=settings)
        db.session.commit()
        seeded = {
            "app": app,
            "email": user.email,
            "session_id": session.id,
            "question_id": question.id,
        }
    yield seeded
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def tab(seeded: dict[str, Any]):
    client = seeded["app"].test_client()
    signed_in = client.post(
        "/sign-in", data={"email": seeded["email"], "password": conftest.PASSWORD}
    )
    assert signed_in.status_code == 303
    return client


def all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def count_rows(app: Flask, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0
