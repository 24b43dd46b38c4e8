"""Transcription through the real openai client against the local fake server, and offline.

The server path: the assembled audio is uploaded as multipart/form-data to
/v1/audio/transcriptions (the fake server sees the exact bytes and the model), the answer
becomes the transcript, and the call is an llm_interaction row (purpose "transcription",
priced per minute). When the server fails (500, twice: no luck on the retry either), the
offline recogniser (pocketsphinx) takes over and still finds most of the words.
"""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from storyteller.agent.transcription import (
    OFFLINE_MODEL,
    TranscriptionSettings,
    cost_per_minute,
    transcribe,
)
from storyteller.models import AudioRecording, Document, LlmInteraction
from tests.conftest import sign_in
from tests.interview_helpers import app_factory, fake_llm, llm_config  # noqa: F401
from tests.recording_audio import SENTENCE, at_first_question, cut, spoken_webm, words_found


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> bytes:
    return spoken_webm(tmp_path_factory.mktemp("speech"), SENTENCE)


@pytest.fixture
def speech_file(speech, tmp_path) -> Path:
    path = tmp_path / "speech.webm"
    path.write_bytes(speech)
    return path


def _server_settings(server, **extra) -> TranscriptionSettings:
    return TranscriptionSettings(
        base_url=server.base_url, api_key="test-key", timeout_seconds=5, **extra
    )


def test_the_server_gets_the_audio_as_a_multipart_upload(fake_llm, speech_file):  # noqa: F811
    fake_llm.queue_transcription("My brother Tom built a boat in the summer.")
    result = transcribe(speech_file, _server_settings(fake_llm))
    assert result.text == "My brother Tom built a boat in the summer."
    assert result.source == "server:whisper-1"
    (request,) = fake_llm.transcription_requests
    assert request["headers"]["content-type"].startswith("multipart/form-data")
    assert request["headers"]["authorization"] == "Bearer test-key"
    assert request["form"]["model"] == "whisper-1"
    uploaded = request["files"]["file"]
    assert uploaded["filename"] == "speech.webm"
    assert uploaded["sha256"] == hashlib.sha256(speech_file.read_bytes()).hexdigest()
    (attempt,) = result.attempts
    assert attempt.success and attempt.engine == "server" and attempt.latency_ms >= 0
    assert result.audio_seconds == pytest.approx(2.9, abs=0.4)


def test_server_failure_falls_back_to_offline_recognition(fake_llm, speech_file):  # noqa: F811
    fake_llm.queue_error(500, endpoint="transcriptions", times=2)
    result = transcribe(speech_file, _server_settings(fake_llm, max_retries=1))
    assert len(fake_llm.transcription_requests) == 2  # one retry, then offline
    server, offline = result.attempts
    assert not server.success and server.status_code == 500 and server.attempts == 2
    assert offline.success and offline.model == OFFLINE_MODEL
    assert result.source == f"offline:{OFFLINE_MODEL}"
    assert words_found(result.text) >= 0.5, result.text


def test_without_offline_fallback_a_failure_is_reported(fake_llm, speech_file):  # noqa: F811
    fake_llm.queue_error(400, message="bad audio", endpoint="transcriptions")
    result = transcribe(speech_file, _server_settings(fake_llm, offline=False))
    assert not result.success and result.text is None
    assert "400" in (result.error_message or "")
    assert len(fake_llm.transcription_requests) == 1  # a 400 is not retried


def test_cost_per_minute():
    assert cost_per_minute("whisper-1", 90) == Decimal("0.009000")
    assert cost_per_minute("whisper-1", 90, {"whisper-1": 0.01}) == Decimal("0.015000")
    assert cost_per_minute("whisper-1", 90, {"whisper-1": None}) is None
    assert cost_per_minute("some-local-whisper", 90) is None
    assert cost_per_minute(OFFLINE_MODEL, 90) == Decimal("0.000000")
    assert cost_per_minute("whisper-1", None) is None


def _app_with_server(app_factory, server, **extra):  # noqa: F811
    return app_factory(
        **llm_config(
            server,
            STORYTELLER_TRANSCRIPTION_MODEL="whisper-1",
            STORYTELLER_TRANSCRIPTION_TIMEOUT=5,
            STORYTELLER_TRANSCRIPTION_RETRIES=0,
            **extra,
        )
    )


def _record_and_finish(client, session, question, speech) -> dict:
    start = client.post(
        f"/interview/{session.id}/recordings",
        data={"interaction_id": str(question.id), "mime_type": "audio/webm"},
    )
    assert start.status_code == 201, start.get_data(as_text=True)
    rec = start.get_json()
    for seq, data in enumerate(cut(speech, 4)):
        put = client.put(f"{rec['chunk_url']}{seq}", data=data)
        assert put.status_code == 200, put.get_data(as_text=True)
    done = client.post(rec["finish_url"], data={"chunk_count": "4"})
    assert done.status_code == 200, done.get_data(as_text=True)
    return done.get_json()


@pytest.fixture
def started(make_user, make_storyteller, make_session, db_session):
    return at_first_question(make_user, make_storyteller, make_session, db_session)


def test_finish_transcribes_through_the_server_and_records_the_call(
    app_factory,  # noqa: F811
    fake_llm,  # noqa: F811
    started,
    speech,
    db_session,
):
    user, session, question = started
    fake_llm.queue_transcription("My brother Tom built a boat in the summer.")
    other = _app_with_server(app_factory, fake_llm)
    client = other.test_client()
    assert sign_in(client, user).status_code == 303
    body = _record_and_finish(client, session, question, speech)
    assert body["status"] == "transcribed"
    assert body["transcript"] == "My brother Tom built a boat in the summer."
    assert body["transcript_source"] == "server:whisper-1"
    (request,) = fake_llm.transcription_requests
    recording = db_session.scalar(
        select(AudioRecording).where(AudioRecording.id == uuid.UUID(body["id"]))
    )
    document = db_session.get(Document, recording.document_id)
    stored = Path(other.instance_path) / "uploads" / document.storage_key
    assert request["files"]["file"]["sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest()
    call = db_session.get(LlmInteraction, recording.llm_interaction_id)
    assert call.purpose == "transcription" and call.success and call.model == "whisper-1"
    assert call.session_id == session.id and call.storyteller_id == session.storyteller_id
    assert call.prompt[0]["audio_seconds"] == pytest.approx(2.9, abs=0.4)
    assert call.cost == cost_per_minute("whisper-1", call.prompt[0]["audio_seconds"])
    assert call.cost > 0 and call.response == body["transcript"]


def test_finish_falls_back_offline_when_the_server_fails(
    app_factory,  # noqa: F811
    fake_llm,  # noqa: F811
    started,
    speech,
    db_session,
):
    user, session, question = started
    fake_llm.queue_error(500, endpoint="transcriptions")
    other = _app_with_server(app_factory, fake_llm)
    client = other.test_client()
    assert sign_in(client, user).status_code == 303
    body = _record_and_finish(client, session, question, speech)
    assert body["status"] == "transcribed"
    assert body["transcript_source"] == f"offline:{OFFLINE_MODEL}"
    assert words_found(body["transcript"]) >= 0.5, body["transcript"]
    calls = db_session.scalars(
        select(LlmInteraction)
        .where(LlmInteraction.purpose == "transcription", LlmInteraction.session_id == session.id)
        .order_by(LlmInteraction.created_at)
    ).all()
    assert [(c.model, c.success, c.status_code) for c in calls] == [
        ("whisper-1", False, 500),
        (OFFLINE_MODEL, True, None),
    ]
    assert calls[0].error_message and calls[0].cost is None
