"""The interview page's side of voice answers: the recorder on the page, and the answer form
sending a recording with the (edited) transcript. The recording API itself is covered by
tests/test_recordings.py; the browser side by tests/browser/test_voice.py.
"""

from __future__ import annotations

import re
import subprocess
import uuid

import pytest
from sqlalchemy import select

from storyteller import interview
from storyteller.agent.transcription import TranscriptionSettings, transcribe
from storyteller.models import (
    AudioRecording,
    Document,
    SessionArtifact,
    SessionInteraction,
    StorytellerAccess,
)
from tests.recording_audio import (
    SENTENCE,
    WEBM,
    cut,
    signed_in_at_first_question,
    spoken_wav,
    spoken_webm,
    start_recording,
)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> bytes:
    return spoken_webm(tmp_path_factory.mktemp("voice-answer"), SENTENCE)


@pytest.fixture
def setup(make_user, make_storyteller, make_session, db_session, login):
    return signed_in_at_first_question(make_user, make_storyteller, make_session, db_session, login)


def _answer(client, setup, text: str, recording_id: str, action: str = "answer"):
    return client.post(
        f"/interview/{setup['session'].id}/answer",
        data={
            "interaction_id": str(setup["question"].id),
            "idempotency_key": uuid.uuid4().hex,
            "answer": text,
            "recording_id": recording_id,
            "action": action,
        },
    )


def _finished_recording(db_session, setup, status: str = "transcribed") -> AudioRecording:
    recording = AudioRecording(
        session_id=setup["session"].id,
        storyteller_id=setup["session"].storyteller_id,
        interaction_id=setup["question"].id,
        created_by_id=setup["user"].id,
        status=status,
        mime_type=WEBM,
        transcript="we had a boat",
        duration_ms=4000,
    )
    db_session.add(recording)
    db_session.commit()
    return recording


def test_the_page_has_a_hidden_recorder_that_only_javascript_shows(client, setup):
    page = client.get(f"/interview/{setup['session'].id}").get_data(as_text=True)
    recorder = re.search(r"<div class=\"recorder card stack\" data-recorder hidden[^>]*>", page)
    assert recorder, "no recorder on the question page"
    assert f'data-create-url="/interview/{setup["session"].id}/recordings"' in recorder.group(0)
    assert f'data-interaction-id="{setup["question"].id}"' in recorder.group(0)
    assert "data-recording-url" not in recorder.group(0)
    assert 'name="recording_id" value=""' in page
    assert "/static/js/recorder.js" in page
    assert "You have a recording in progress" in page  # rendered, but hidden
    assert re.search(r"data-recorder-resume hidden", page)


def test_the_page_offers_to_continue_a_recording_left_by_a_reload(client, setup, speech):
    rec = start_recording(client, setup)
    put = client.put(
        f"{rec['chunk_url']}0",
        data=cut(speech, 3)[0],
        headers={"Content-Type": "audio/webm", "X-Duration-Ms": "83000", "X-Segment-Start": "1"},
    )
    assert put.status_code == 200, put.get_data(as_text=True)
    page = client.get(f"/interview/{setup['session'].id}").get_data(as_text=True)
    assert f'data-recording-url="/recordings/{rec["id"]}"' in page
    assert 'data-recording-status="recording"' in page
    assert not re.search(r"data-recorder-resume hidden", page)
    assert re.search(r"data-recorder-controls hidden", page)
    assert re.search(
        r"You have a recording in progress\s*\(<span data-recorder-resume-length>1:23</span>\)",
        page,
    )
    for label in ("Continue recording", "Send it as it is", "Discard"):
        assert f">{label}</button>" in page


def test_the_answer_form_sends_the_recording_with_the_edited_transcript(
    client, setup, speech, db_session, make_user, login
):
    rec = start_recording(client, setup)
    for seq, chunk in enumerate(cut(speech, 3)):
        assert client.put(f"{rec['chunk_url']}{seq}", data=chunk).status_code == 200
    finished = client.post(rec["finish_url"], data={"chunk_count": "3", "duration_ms": "3000"})
    assert finished.status_code == 200, finished.get_data(as_text=True)
    assert finished.get_json()["status"] in ("transcribed", "failed")
    # Reloaded after the transcript came: the page brings the recording back to be sent.
    page = client.get(f"/interview/{setup['session'].id}").get_data(as_text=True)
    assert f'data-recording-url="/recordings/{rec["id"]}"' in page
    assert re.search(r"data-recorder-resume hidden", page)

    response = _answer(client, setup, "  My brother Tom built a boat in 1952.  ", rec["id"])
    assert response.status_code == 303
    db_session.expire_all()
    question = db_session.get(SessionInteraction, setup["question"].id)
    assert question.response_method == "voice"
    assert question.storyteller_response == "My brother Tom built a boat in 1952."
    recording = db_session.get(AudioRecording, uuid.UUID(rec["id"]))
    assert recording.status == "sent" and recording.interaction_id == question.id
    document = db_session.get(Document, recording.document_id)
    assert document.kind == "audio" and document.interaction_id == question.id
    # The next question's page has no recording waiting; the answer above it plays back.
    page = client.get(f"/interview/{setup['session'].id}").get_data(as_text=True)
    assert "data-recording-url" not in page
    audio_src = f'src="/recordings/{rec["id"]}/audio"'
    assert audio_src in page
    assert client.get(f"/recordings/{rec['id']}/audio").status_code == 200
    # A reviewer reading an artifact made from that answer (a dated moment: a timeline
    # entry) can play it beside the storyteller's words.
    artifact = db_session.scalars(
        select(SessionArtifact).where(SessionArtifact.source_interaction_id == question.id)
    ).first()
    assert artifact is not None
    reviewer = make_user("reviewer")
    db_session.add(
        StorytellerAccess(
            storyteller_id=setup["session"].storyteller_id,
            user_id=reviewer.id,
            access_level="reviewer",
        )
    )
    db_session.commit()
    client.post("/sign-out")
    login(reviewer)
    assert audio_src in client.get(f"/artifacts/{artifact.id}").get_data(as_text=True)
    assert client.get(f"/recordings/{rec['id']}/audio").status_code == 200


@pytest.mark.parametrize(
    "which, message",
    [
        ("unfinished", "not finished yet"),
        ("nonsense", "not known"),
        ("another session", "not known"),
    ],
)
def test_a_recording_that_cannot_go_with_the_answer_keeps_the_text_as_a_draft(
    client, setup, db_session, make_session, which, message
):
    if which == "unfinished":
        recording_id = str(_finished_recording(db_session, setup, status="recording").id)
    elif which == "nonsense":
        recording_id = "not-a-recording"
    else:
        other = make_session(setup["session"].storyteller, session_name="Another day")
        row = _finished_recording(db_session, setup)
        row.session_id = other.id
        db_session.commit()
        recording_id = str(row.id)
    response = _answer(client, setup, "We lived by the lake.", recording_id)
    assert response.status_code == 303
    db_session.expire_all()
    question = db_session.get(SessionInteraction, setup["question"].id)
    assert question.response_method is None  # not answered
    assert interview.draft_for(db_session, question).content == "We lived by the lake."
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert message in page
    assert "We lived by the lake." in page


def test_skipping_leaves_the_recording_alone(client, setup, db_session):
    recording = _finished_recording(db_session, setup)
    response = _answer(client, setup, "", str(recording.id), action="skip")
    assert response.status_code == 303
    db_session.expire_all()
    assert db_session.get(SessionInteraction, setup["question"].id).response_method == "skip"
    assert db_session.get(AudioRecording, recording.id).status == "transcribed"


def test_speech_that_runs_to_the_very_end_of_a_recording_is_written_down(tmp_path):
    # pocketsphinx's Segmenter dropped speech running to the very end when the length fell
    # on a frame boundary (1.92 s here); transcription now appends a second of silence.
    wav = spoken_wav(tmp_path, SENTENCE)
    stopped = tmp_path / "stopped-while-talking.wav"
    subprocess.run(  # noqa: S603 - fixed tools
        ["/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(wav)]
        + ["-ar", "16000", "-t", "1.92", str(stopped)],
        check=True,
        capture_output=True,
    )
    result = transcribe(stopped, TranscriptionSettings(base_url=None, api_key=None))
    assert result.success and (result.text or "").strip(), result
