"""Voice answers: chunked upload while recording, assembly, transcription, playback.

A JSON API for static/js/recorder.js (fetch() with the ``X-CSRFToken`` header). Recording
(start, chunks, finish, status, discard): whoever may conduct the session (the storyteller,
a coordinator beside them); a reviewer or admin who may see the session gets 403, everyone
else 404. Playback: everyone who may see the storyteller. Domain logic: storyteller.recordings.

Chunk headers: ``X-Duration-Ms`` (length so far), ``X-Segment`` (the MediaRecorder run;
accepted, but segment boundaries are read from the bytes) and, optionally,
``X-Segment-Start: 1`` on the first chunk of a run, whose bytes must then start with a
webm/ogg/mp4/wav header (415 otherwise; the first chunk of a recording always must).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, abort, current_app, jsonify, request, url_for
from flask_login import current_user, login_required

from storyteller import authz, recordings, tasks
from storyteller.extensions import db
from storyteller.file_storage import storage_for
from storyteller.models import AudioRecording, Document
from storyteller.views.audit_trail import record_read
from storyteller.views.stored_files import send_stored_file
from storyteller.views.write_transactions import committed

bp = Blueprint("recordings", __name__)
log = logging.getLogger(__name__)
T = TypeVar("T")


def _committed(work: Callable[[], T]) -> T:
    """``work`` in a write transaction of its own (see views/write_transactions.py)."""
    return committed(work, domain_errors=(recordings.RecordingError,))


def _storage():
    return storage_for(current_app.instance_path)


def _limits() -> recordings.Limits:
    return recordings.limits_from_config(current_app.config)


def _refused(exc: recordings.RecordingError):
    return jsonify({"error": str(exc), "message": str(exc), **exc.details}), exc.status_code


def _for_conductor(recording_id: uuid.UUID) -> AudioRecording:
    recording = db.session.get(AudioRecording, recording_id)
    if recording is None:
        abort(404)
    authz.conductable_session_or_404(db.session, current_user.user, recording.session_id)
    return recording


def _urls(recording: AudioRecording) -> dict[str, str]:
    return {
        "chunk_url": f"/recordings/{recording.id}/chunks/",
        "finish_url": url_for("recordings.finish", recording_id=recording.id),
        "status_url": url_for("recordings.status", recording_id=recording.id),
        "audio_url": url_for("recordings.audio", recording_id=recording.id),
        "discard_url": url_for("recordings.discard", recording_id=recording.id),
    }


def _state(recording: AudioRecording) -> dict:
    return {
        "id": str(recording.id),
        "status": recording.status,
        "received": recordings.received_sequences(db.session, recording),
        "duration_ms": recording.duration_ms,
        "transcript": recording.transcript,
        "transcript_source": recording.transcript_source,
        "error": recording.error_message,
        **_urls(recording),
    }


def _int_or_none(raw: str | None, name: str) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise recordings.RecordingError(f"{name} must be a whole number.") from None


@bp.route("/interview/<uuid:session_id>/recordings", methods=["POST"])
@login_required
def start(session_id: uuid.UUID):
    user = current_user.user
    session = authz.conductable_session_or_404(db.session, user, session_id)
    try:
        recording, created = _committed(
            lambda: recordings.start_or_resume(
                db.session,
                session,
                interaction_id=request.form.get("interaction_id"),
                user=user,
                mime_type=request.form.get("mime_type"),
            )
        )
    except recordings.RecordingError as exc:
        return _refused(exc)
    return jsonify(_state(recording)), 201 if created else 200


@bp.route("/recordings/<uuid:recording_id>/chunks/<int:sequence>", methods=["PUT"])
@login_required
def put_chunk(recording_id: uuid.UUID, sequence: int):
    recording = _for_conductor(recording_id)
    limits = _limits()
    try:
        if (request.content_length or 0) > limits.chunk_bytes:
            raise recordings.RecordingError(
                f"That piece of the recording is larger than "
                f"{limits.chunk_bytes // (1024 * 1024)} MB.",
                413,
            )
        data = request.stream.read(limits.chunk_bytes + 1)
        duration_ms = _int_or_none(request.headers.get("X-Duration-Ms"), "X-Duration-Ms")
        received = _committed(
            lambda: recordings.add_chunk(
                db.session,
                _storage(),
                _for_conductor(recording_id),
                sequence=sequence,
                data=data,
                limits=limits,
                segment_start=request.headers.get("X-Segment-Start") == "1",
                duration_ms=duration_ms,
            )
        )
    except recordings.RecordingError as exc:
        db.session.rollback()
        return _refused(exc)
    recording = _for_conductor(recording_id)
    return jsonify({"received": received, "duration_ms": recording.duration_ms})


@bp.route("/recordings/<uuid:recording_id>/finish", methods=["POST"])
@login_required
def finish(recording_id: uuid.UUID):
    recording = _for_conductor(recording_id)
    try:
        chunk_count = _int_or_none(request.form.get("chunk_count"), "chunk_count")
        duration_ms = _int_or_none(request.form.get("duration_ms"), "duration_ms")
        recording = _committed(
            lambda: recordings.finish(
                db.session,
                _storage(),
                _for_conductor(recording_id),
                chunk_count=chunk_count,
                duration_ms=duration_ms,
                accept_missing=request.form.get("accept_missing") in ("1", "true", "yes"),
            )
        )
    except recordings.RecordingError as exc:
        db.session.rollback()
        return _refused(exc)
    if recording.status == "assembled":
        try:
            tasks.enqueue_transcription(recording.id)
        except Exception:  # noqa: BLE001 - the audio is safe; the transcript can come later
            log.exception("could not start the transcription of recording %s", recording.id)
            db.session.rollback()
        db.session.expire_all()
        recording = db.session.get(AudioRecording, recording_id) or recording
    body = _state(recording)
    if recording.status == "failed" and recording.document_id is None:
        return jsonify(body), 422
    return jsonify(body)


@bp.route("/recordings/<uuid:recording_id>")
@login_required
def status(recording_id: uuid.UUID):
    recording = _for_conductor(recording_id)
    return jsonify(_state(recording))


@bp.route("/recordings/<uuid:recording_id>/audio")
@login_required
def audio(recording_id: uuid.UUID):
    recording = db.session.get(AudioRecording, recording_id)
    if recording is None:
        abort(404)
    authz.session_or_404(db.session, current_user.user, recording.session_id)
    document = db.session.get(Document, recording.document_id) if recording.document_id else None
    if document is None:
        abort(404)
    record_read("audio_recording", storyteller_id=recording.storyteller_id, object_id=recording.id)
    db.session.commit()
    return send_stored_file(
        _storage(),
        document.storage_key,
        content_type=document.content_type,
        download_name=f"voice-answer-{recording.id.hex[:8]}.webm",
    )


@bp.route("/recordings/<uuid:recording_id>/discard", methods=["POST"])
@login_required
def discard(recording_id: uuid.UUID):
    _for_conductor(recording_id)
    try:
        keys = _committed(
            lambda: recordings.discard(db.session, _for_conductor(recording_id), current_user.user)
        )
    except recordings.RecordingError as exc:
        return _refused(exc)
    recording = _for_conductor(recording_id)
    storage = _storage()
    for key in keys:
        storage.delete(key)
    return jsonify(_state(recording))
