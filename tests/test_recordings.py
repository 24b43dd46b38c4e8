"""Voice answers over HTTP: chunks in any order, once each; assembly; transcription; playback.

Real audio throughout (espeak-ng -> webm/opus, cut into MediaRecorder-like chunks); the
transcription here is offline (pocketsphinx: no server configured in the test app);
tests/test_recordings_transcription.py covers the server path.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storyteller import interview, recordings
from storyteller.models import AudioChunk, AudioRecording, Document, LlmInteraction
from tests.recording_audio import (
    SECOND_SENTENCE,
    SENTENCE,
    WEBM,
    cut,
    probe,
    signed_in_at_first_question,
    spoken_webm,
    start_recording,
    words_found,
)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> bytes:
    return spoken_webm(tmp_path_factory.mktemp("speech"), SENTENCE)


@pytest.fixture(scope="module")
def more_speech(tmp_path_factory) -> bytes:
    return spoken_webm(tmp_path_factory.mktemp("speech2"), SECOND_SENTENCE, "second")


@pytest.fixture
def setup(make_user, make_storyteller, make_session, db_session, login):
    return signed_in_at_first_question(make_user, make_storyteller, make_session, db_session, login)


def _put(client, rec: dict, seq: int, data: bytes, **headers: str):
    return client.put(
        f"{rec['chunk_url']}{seq}",
        data=data,
        headers={"Content-Type": "audio/webm", **headers},
    )


def test_start_then_resume_returns_the_same_recording(client, setup, db_session):
    first = client.post(
        f"/interview/{setup['session'].id}/recordings",
        data={"interaction_id": str(setup["question"].id), "mime_type": WEBM},
    )
    assert first.status_code == 201
    second = client.post(
        f"/interview/{setup['session'].id}/recordings",
        data={"interaction_id": str(setup["question"].id), "mime_type": WEBM},
    )
    assert second.status_code == 200
    assert first.get_json()["id"] == second.get_json()["id"]
    body = first.get_json()
    assert body["status"] == "recording" and body["received"] == []
    assert body["chunk_url"] == f"/recordings/{body['id']}/chunks/"
    assert recordings.unfinished_for(db_session, setup["question"], setup["user"]).id == (
        db_session.get(AudioRecording, uuid.UUID(body["id"])).id
    )


def test_start_refuses_a_question_of_another_session_and_odd_types(client, setup):
    url = f"/interview/{setup['session'].id}/recordings"
    missing = client.post(url, data={"interaction_id": "not-a-uuid"})
    assert missing.status_code == 400 and "question" in missing.get_json()["message"]
    video = client.post(
        url, data={"interaction_id": str(setup["question"].id), "mime_type": "text/html"}
    )
    assert video.status_code == 415


def test_chunks_out_of_order_repeated_missing_then_assembled_once(
    client, setup, speech, db_session, tmp_path
):
    rec = start_recording(client, setup)
    chunks = cut(speech, 6)
    order = [0, 3, 1, 5, 3]  # 3 twice; 2 and 4 not yet
    for seq in order:
        response = _put(client, rec, seq, chunks[seq], **{"X-Duration-Ms": str(seq * 800)})
        assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["received"] == [0, 1, 3, 5]
    # Same number, different bytes: refused, the kept piece is unchanged.
    conflict = _put(client, rec, 1, chunks[2])
    assert conflict.status_code == 409
    early = client.post(rec["finish_url"], data={"chunk_count": "6", "duration_ms": "5000"})
    assert early.status_code == 409
    assert early.get_json()["missing"] == [2, 4]
    for seq in (4, 2):
        assert _put(client, rec, seq, chunks[seq]).status_code == 200
    done = client.post(rec["finish_url"], data={"chunk_count": "6", "duration_ms": "5000"})
    assert done.status_code == 200, done.get_data(as_text=True)
    body = done.get_json()
    assert body["status"] == "transcribed"
    assert words_found(body["transcript"]) >= 0.5, body["transcript"]
    # A second finish (another tab) changes nothing.
    again = client.post(rec["finish_url"], data={"chunk_count": "6"})
    assert again.status_code == 200 and again.get_json()["status"] == "transcribed"
    recording = db_session.get(AudioRecording, uuid.UUID(rec["id"]))
    db_session.refresh(recording)
    assert (
        db_session.scalar(
            select(func.count()).select_from(Document).where(Document.kind == "audio")
        )
        == 1
    )
    assert (
        db_session.scalar(
            select(func.count())
            .select_from(AudioChunk)
            .where(AudioChunk.recording_id == recording.id)
        )
        == 6
    )
    assert 2400 <= recording.duration_ms <= 3400  # espeak-ng says it in 2.9 s
    assert recording.transcript_source == "offline:pocketsphinx-en-us"
    # A late chunk after the finish is refused.
    assert _put(client, rec, 6, chunks[0]).status_code == 409
    # The assembled audio plays: ffprobe reads it and its length is about right.
    audio = client.get(body["audio_url"])
    assert audio.status_code == 200
    assert audio.headers["Content-Type"] == "audio/webm"
    assert audio.headers["X-Content-Type-Options"] == "nosniff"
    played = tmp_path / "played.webm"
    played.write_bytes(audio.get_data())
    info = probe(played)
    assert info["streams"][0]["codec_name"] == "opus"
    assert 2.4 <= float(info["format"]["duration"]) <= 3.4
    # Ranges work (seeking in the player).
    part = client.get(body["audio_url"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.get_data()) == 100
    # The transcription is recorded like an LLM call.
    call = db_session.scalar(
        select(LlmInteraction).where(LlmInteraction.purpose == "transcription")
    )
    assert call is not None and call.success and call.session_id == setup["session"].id
    assert call.model == "pocketsphinx-en-us" and call.latency_ms > 0
    assert call.prompt[0]["audio_seconds"] == pytest.approx(recording.duration_ms / 1000, 0.1)


def test_a_reload_starts_a_new_segment_and_both_are_joined(
    client, setup, speech, more_speech, tmp_path
):
    rec = start_recording(client, setup)
    first, second = cut(speech, 3), cut(more_speech, 3)
    for seq, data in enumerate(first):
        assert _put(client, rec, seq, data, **{"X-Segment": "0"}).status_code == 200
    resumed = start_recording(client, setup)  # the page was reloaded
    assert resumed["id"] == rec["id"] and resumed["received"] == [0, 1, 2]
    for offset, data in enumerate(second):
        headers = {"X-Segment": "1", **({"X-Segment-Start": "1"} if offset == 0 else {})}
        assert _put(client, rec, 3 + offset, data, **headers).status_code == 200
    done = client.post(rec["finish_url"], data={"chunk_count": "6"})
    assert done.status_code == 200, done.get_data(as_text=True)
    played = tmp_path / "joined.webm"
    played.write_bytes(client.get(done.get_json()["audio_url"]).get_data())
    seconds = float(probe(played)["format"]["duration"])
    assert 5.0 <= seconds <= 6.5, seconds  # 2.9 s + 2.7 s
    transcript = done.get_json()["transcript"]
    assert words_found(transcript, ("brother", "boat", "lake", "house")) >= 0.5, transcript


def test_send_as_it_is_with_a_missing_chunk(client, setup, speech):
    rec = start_recording(client, setup)
    chunks = cut(speech, 5)
    for seq in (0, 1, 2, 4):
        assert _put(client, rec, seq, chunks[seq]).status_code == 200
    refused = client.post(rec["finish_url"], data={"chunk_count": "5"})
    assert refused.status_code == 409 and refused.get_json()["missing"] == [3]
    done = client.post(rec["finish_url"], data={"chunk_count": "5", "accept_missing": "1"})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["status"] in ("transcribed", "failed")
    assert client.get(done.get_json()["audio_url"]).status_code == 200


def test_bad_files_and_sizes_are_refused_with_a_message(client, setup, speech, app):
    rec = start_recording(client, setup)
    html = b"<!DOCTYPE html><html><head><title>Not audio</title></head><body>hi</body></html>"
    refused = _put(client, rec, 0, html)
    assert refused.status_code == 415
    assert "sound recording" in refused.get_json()["message"]
    later_html = _put(client, rec, 3, html)  # not first, but text all the same
    assert later_html.status_code == 415
    mid_stream = _put(client, rec, 0, cut(speech, 4)[2])  # no container header
    assert mid_stream.status_code == 415
    claimed_start = _put(client, rec, 7, cut(speech, 4)[2], **{"X-Segment-Start": "1"})
    assert claimed_start.status_code == 415
    big = b"\x1a\x45\xdf\xa3" + b"\x00" * (2 * 1024 * 1024)
    assert _put(client, rec, 0, big).status_code == 413
    assert _put(client, rec, 0, b"").status_code == 400
    too_long = _put(client, rec, 0, speech[:4000], **{"X-Duration-Ms": str(61 * 60 * 1000)})
    assert too_long.status_code == 413
    bad_duration = _put(client, rec, 0, speech[:4000], **{"X-Duration-Ms": "soon"})
    assert bad_duration.status_code == 400
    nothing = client.post(rec["finish_url"], data={"chunk_count": "0"})
    assert nothing.status_code == 409
    bad_count = client.post(rec["finish_url"], data={"chunk_count": "many"})
    assert bad_count.status_code == 400
    assert client.get(rec["audio_url"]).status_code == 404  # nothing assembled yet


def test_a_recording_that_ffmpeg_cannot_read_fails_plainly(client, setup):
    rec = start_recording(client, setup)
    broken = b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 40
    assert _put(client, rec, 0, broken).status_code == 200
    done = client.post(rec["finish_url"], data={"chunk_count": "1"})
    assert done.status_code == 422
    assert done.get_json()["status"] == "failed"
    assert "could not be read" in done.get_json()["error"]


def test_status_discard_and_unfinished(client, setup, speech, db_session):
    rec = start_recording(client, setup)
    assert _put(client, rec, 0, cut(speech, 2)[0], **{"X-Duration-Ms": "1500"}).status_code == 200
    state = client.get(rec["status_url"]).get_json()
    assert state["status"] == "recording" and state["received"] == [0]
    assert state["duration_ms"] == 1500
    found = recordings.unfinished_for(db_session, setup["question"], setup["user"])
    assert found is not None and str(found.id) == rec["id"]
    gone = client.post(rec["discard_url"])
    assert gone.status_code == 200 and gone.get_json()["status"] == "discarded"
    assert recordings.unfinished_for(db_session, setup["question"], setup["user"]) is None
    assert _put(client, rec, 1, cut(speech, 2)[1]).status_code == 409
    fresh = start_recording(client, setup)
    assert fresh["id"] != rec["id"]


def test_attach_to_answer_links_the_audio_and_marks_it_sent(client, setup, speech, db_session):
    rec = start_recording(client, setup)
    for seq, data in enumerate(cut(speech, 3)):
        assert _put(client, rec, seq, data).status_code == 200
    done = client.post(rec["finish_url"], data={"chunk_count": "3"}).get_json()
    question = setup["question"]
    interview.record_answer(
        db_session,
        setup["session"],
        question,
        text=done["transcript"] or "typed instead",
        method="text",
        idempotency_key=None,
        user_id=setup["user"].id,
    )
    sent = recordings.attach_to_answer(db_session, rec["id"], question, setup["user"])
    assert sent.status == "sent" and sent.interaction_id == question.id
    assert db_session.get(Document, sent.document_id).interaction_id == question.id
    assert question.response_method == "voice"
    # Again: nothing changes; a discard is refused now.
    assert recordings.attach_to_answer(db_session, rec["id"], question, setup["user"]) is sent
    with pytest.raises(recordings.RecordingError):
        recordings.discard(db_session, sent, setup["user"])
    db_session.commit()
    # Unfinished recordings cannot be sent.
    with pytest.raises(recordings.RecordingError) as refused:
        recordings.attach_to_answer(db_session, "nonsense", question, setup["user"])
    assert refused.value.status_code == 404


def test_pieces_concatenate_back_to_a_playable_file(speech, tmp_path):
    """The test's own premise: the chunks of a webm stream concatenate into a valid file."""
    whole = tmp_path / "whole.webm"
    whole.write_bytes(b"".join(cut(speech, 7)))
    subprocess.run(["/usr/bin/ffprobe", "-v", "error", str(whole)], check=True)  # noqa: S603
    assert Path(whole).stat().st_size == len(speech)


def test_discarding_a_finished_recording_removes_its_audio(client, setup, speech, app, db_session):
    rec = start_recording(client, setup)
    for seq, data in enumerate(cut(speech, 2)):
        assert _put(client, rec, seq, data).status_code == 200
    done = client.post(rec["finish_url"], data={"chunk_count": "2"})
    assert done.status_code == 200
    recording = db_session.get(AudioRecording, uuid.UUID(rec["id"]))
    db_session.refresh(recording)
    document = db_session.get(Document, recording.document_id)
    uploads = Path(app.instance_path) / "uploads"
    files = [uploads / document.storage_key] + [
        uploads / chunk.storage_key
        for chunk in db_session.scalars(
            select(AudioChunk).where(AudioChunk.recording_id == recording.id)
        )
    ]
    assert all(path.is_file() for path in files)
    gone = client.post(rec["discard_url"])
    assert gone.status_code == 200 and gone.get_json()["status"] == "discarded"
    assert not any(path.exists() for path in files)
    assert client.get(rec["audio_url"]).status_code == 404
    assert client.post(rec["finish_url"], data={"chunk_count": "2"}).status_code == 409
    assert client.post(rec["discard_url"]).status_code == 200  # again: nothing to do
