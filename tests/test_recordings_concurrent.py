"""Two tabs at once: the same chunk twice, two finishes; exactly one recording assembled.

These tests need committed data seen by several connections, so each builds its own
database (a temporary SQLite file, or a fresh PostgreSQL database) instead of the shared
rolled-back ``db_session``: several threads, each a signed-in browser tab with its own
requests, released together by a barrier.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from storyteller import accounts, create_app, interview
from storyteller.agent.llm import LlmSettings
from storyteller.consent import record_consent
from storyteller.extensions import db
from storyteller.models import AudioChunk, AudioRecording, Document, Session, Storyteller
from tests import conftest
from tests.conftest import IsolatedClient
from tests.recording_audio import SENTENCE, cut, spoken_webm

TABS = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'recordings.db'}"
        return
    url = conftest.create_postgres_database("storyteller_recordings")
    yield url
    conftest.drop_postgres_database(url)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> bytes:
    return spoken_webm(tmp_path_factory.mktemp("speech"), SENTENCE)


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


def _tab(seeded: dict[str, Any]):
    client = seeded["app"].test_client()
    signed_in = client.post(
        "/sign-in", data={"email": seeded["email"], "password": conftest.PASSWORD}
    )
    assert signed_in.status_code == 303
    return client


def _all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
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


def _count(app: Flask, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_two_tabs_starting_and_uploading_at_once_share_one_recording(seeded, speech):
    tabs = [_tab(seeded) for _ in range(TABS)]
    url = f"/interview/{seeded['session_id']}/recordings"
    form = {"interaction_id": str(seeded["question_id"]), "mime_type": "audio/webm"}
    started = _all_at_once([lambda c=c: c.post(url, data=form) for c in tabs])
    assert all(not isinstance(r, Exception) for r in started), started
    assert sorted(r.status_code for r in started) == [200] * (TABS - 1) + [201]
    ids = {r.get_json()["id"] for r in started}
    assert len(ids) == 1
    rec = started[0].get_json()
    chunks = cut(speech, 3)
    # The same piece from every tab at once: kept once, every tab told it arrived.
    same = _all_at_once([lambda c=c: c.put(f"{rec['chunk_url']}0", data=chunks[0]) for c in tabs])
    assert [r.status_code for r in same] == [200] * TABS, [r.get_data() for r in same]
    # Different bytes under one number at once: one kept, the others refused.
    rival = _all_at_once(
        [
            lambda c=c, data=data: c.put(f"{rec['chunk_url']}1", data=data)
            for c, data in zip(
                tabs, (chunks[1], chunks[2], chunks[1] + b"x", chunks[2] + b"y"), strict=True
            )
        ]
    )
    assert sorted(r.status_code for r in rival) == [200] + [409] * (TABS - 1)
    recording_id = uuid.UUID(rec["id"])
    assert _count(seeded["app"], AudioChunk, AudioChunk.recording_id == recording_id) == 2
    with seeded["app"].app_context():
        recording = db.session.get(AudioRecording, recording_id)
        kept = db.session.scalars(select(AudioChunk).where(AudioChunk.recording_id == recording_id))
        assert recording.chunk_count == 2
        assert recording.size_bytes == sum(chunk.size_bytes for chunk in kept)
        folder = Path(seeded["app"].instance_path) / "uploads" / "audio-chunks"
        assert len([p for p in folder.rglob("*.part")]) == 2  # the losers' files are gone


def test_two_finishes_at_once_assemble_exactly_once(seeded, speech):
    tabs = [_tab(seeded) for _ in range(TABS)]
    first = (
        tabs[0]
        .post(
            f"/interview/{seeded['session_id']}/recordings",
            data={"interaction_id": str(seeded["question_id"]), "mime_type": "audio/webm"},
        )
        .get_json()
    )
    for seq, data in enumerate(cut(speech, 4)):
        assert tabs[seq % TABS].put(f"{first['chunk_url']}{seq}", data=data).status_code == 200
    finishes = _all_at_once(
        [lambda c=c: c.post(first["finish_url"], data={"chunk_count": "4"}) for c in tabs]
    )
    assert all(not isinstance(r, Exception) for r in finishes), finishes
    assert [r.status_code for r in finishes] == [200] * TABS, [r.get_data() for r in finishes]
    assert {r.get_json()["audio_url"] for r in finishes} == {first["audio_url"]}
    assert {r.get_json()["status"] for r in finishes} <= {
        "assembled",
        "transcribing",
        "transcribed",
    }
    app = seeded["app"]
    assert _count(app, Document, Document.kind == "audio") == 1
    folder = Path(app.instance_path) / "uploads" / "audio"
    assert len(list(folder.rglob("*.webm"))) == 1  # one assembled file, not one per tab
    with app.app_context():
        recording = db.session.get(AudioRecording, uuid.UUID(first["id"]))
        assert recording.status == "transcribed"
        assert recording.document_id is not None
    assert tabs[1].get(first["audio_url"]).status_code == 200
