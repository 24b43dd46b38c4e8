"""Voice answers: a recording made in the browser, uploaded in chunks, assembled once, transcribed.

The life of a recording (``audio_recording.status``):

``recording`` chunks arrive (``add_chunk``), in any order, possibly twice -> ``finish``
assembles them, in order, exactly once, into one audio document (seed 002 ``document``,
kind "audio") -> ``assembled`` -> the transcription task -> ``transcribing`` ->
``transcribed`` (or ``failed``: the audio is kept, the storyteller can still type) -> the
storyteller sends the (edited) transcript as the answer (``attach_to_answer``) -> ``sent``.
``discard`` ends it at any point before it is sent.

Races are settled by the database, not by luck: each chunk is kept once by
UNIQUE(recording, sequence); every status change is a guarded UPDATE (``... WHERE status =
'recording'``), so of two finishes at once (two tabs) exactly one assembles, and a chunk
cannot slip in after the recording was finished.

A *segment* is one MediaRecorder run: after a reload the browser starts a new one, whose
first chunk carries its own container header. Segment boundaries are read from the bytes
(``audio_media.container_of``); each segment's chunks concatenate into one valid file, and
the segments are joined with ffmpeg.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from storyteller import audio_media, database, events
from storyteller.agent.transcription import (
    Result,
    TranscriptionSettings,
    cost_per_minute,
    transcribe,
)
from storyteller.file_storage import LocalStorage, TooLarge, new_key
from storyteller.models import (
    AudioChunk,
    AudioRecording,
    Document,
    LlmInteraction,
    Session,
    SessionInteraction,
    User,
    utcnow,
)

__all__ = [
    "ALLOWED_MIME_PREFIXES",
    "Limits",
    "RecordingError",
    "add_chunk",
    "attach_to_answer",
    "discard",
    "finish",
    "limits_from_config",
    "received_sequences",
    "sent_for",
    "start_or_resume",
    "transcribe_recording",
    "transcription_settings_from_config",
    "unfinished_for",
]

ALLOWED_MIME_PREFIXES = ("audio/webm", "audio/ogg", "audio/mp4", "audio/wav", "audio/x-wav")
FINISHED_STATUSES = ("assembled", "transcribing", "transcribed", "failed")
OPEN_STATUSES = ("recording", *FINISHED_STATUSES)
MAX_SEQUENCE = 100_000


class RecordingError(ValueError):
    """Refused, with a plain message for the storyteller and the HTTP status that fits."""

    status_code = 400

    def __init__(self, message: str, status_code: int | None = None, **details: Any) -> None:
        super().__init__(message)
        if status_code is not None:
            self.status_code = status_code
        self.details = details


@dataclass(frozen=True)
class Limits:
    chunk_bytes: int = 2 * 1024 * 1024
    recording_bytes: int = 200 * 1024 * 1024
    duration_ms: int = 60 * 60 * 1000


def limits_from_config(config: Mapping[str, Any]) -> Limits:
    """Limits from the app config (``STORYTELLER_RECORDING_MAX_*``), else the defaults."""
    default = Limits()
    return Limits(
        chunk_bytes=int(config.get("STORYTELLER_RECORDING_MAX_CHUNK_BYTES") or default.chunk_bytes),
        recording_bytes=int(
            config.get("STORYTELLER_RECORDING_MAX_BYTES") or default.recording_bytes
        ),
        duration_ms=int(
            config.get("STORYTELLER_RECORDING_MAX_MINUTES") or default.duration_ms // 60_000
        )
        * 60_000,
    )


def transcription_settings_from_config(config: Mapping[str, Any]) -> TranscriptionSettings:
    return TranscriptionSettings(
        base_url=config.get("OPENAI_BASE_URL") or None,
        api_key=config.get("OPENAI_API_KEY") or None,
        model=config.get("STORYTELLER_TRANSCRIPTION_MODEL") or "whisper-1",
        timeout_seconds=float(config.get("STORYTELLER_TRANSCRIPTION_TIMEOUT") or 120),
        max_retries=int(config.get("STORYTELLER_TRANSCRIPTION_RETRIES", 1)),
    )


# -- starting ------------------------------------------------------------------------------


def _open_interaction(db: DbSession, session: Session, interaction_id: Any) -> SessionInteraction:
    try:
        key = interaction_id if isinstance(interaction_id, uuid.UUID) else uuid.UUID(interaction_id)
    except (TypeError, ValueError):
        raise RecordingError(
            "Which question is this recording for? Please reload the page."
        ) from None
    interaction = db.get(SessionInteraction, key)
    if interaction is None or interaction.session_id != session.id:
        raise RecordingError("That question is not part of this session.", 404)
    if interaction.response_method is not None:
        raise RecordingError("That question has already been answered.", 409)
    return interaction


def _clean_mime(mime_type: str | None) -> str:
    value = (mime_type or "").strip().lower()[:100]
    if not value:
        return "audio/webm"
    if not value.startswith(ALLOWED_MIME_PREFIXES):
        raise RecordingError(
            "This kind of recording is not supported. Please use a recent browser.", 415
        )
    return value


def unfinished_for(
    db: DbSession, interaction: SessionInteraction, user: User
) -> AudioRecording | None:
    """This user's newest recording for this question that is neither sent nor discarded.

    Status "recording": still being made (or interrupted): continue, send as it is, discard.
    A later status: finished, its transcript (or failure) waits to be checked and sent.
    """
    return db.scalar(
        select(AudioRecording)
        .where(
            AudioRecording.interaction_id == interaction.id,
            AudioRecording.created_by_id == user.id,
            AudioRecording.status.in_(OPEN_STATUSES),
        )
        .order_by(AudioRecording.created_at.desc())
        .limit(1)
    )


def sent_for(db: DbSession, interaction_ids: list[uuid.UUID]) -> dict[uuid.UUID, AudioRecording]:
    """{interaction id: the recording sent as its answer}, for playing answers back."""
    if not interaction_ids:
        return {}
    rows = db.scalars(
        select(AudioRecording).where(
            AudioRecording.interaction_id.in_(interaction_ids),
            AudioRecording.status == "sent",
            AudioRecording.document_id.is_not(None),
        )
    )
    return {row.interaction_id: row for row in rows if row.interaction_id is not None}


def start_or_resume(
    db: DbSession,
    session: Session,
    *,
    interaction_id: Any,
    user: User,
    mime_type: str | None,
) -> tuple[AudioRecording, bool]:
    """(recording, created): the unfinished recording of this question by this user, or a new one.

    Two tabs or a reload continue the same recording instead of starting a second one.
    """
    interaction = _open_interaction(db, session, interaction_id)
    mime = _clean_mime(mime_type)
    # Serialize starts for one question (a row lock on PostgreSQL; SQLite has one writer).
    db.execute(
        select(SessionInteraction.id)
        .where(SessionInteraction.id == interaction.id)
        .with_for_update()
    )
    existing = db.scalar(
        select(AudioRecording)
        .where(
            AudioRecording.interaction_id == interaction.id,
            AudioRecording.created_by_id == user.id,
            AudioRecording.status == "recording",
        )
        .order_by(AudioRecording.created_at.desc())
        .limit(1)
    )
    if existing is not None:
        return existing, False
    recording = AudioRecording(
        session_id=session.id,
        storyteller_id=session.storyteller_id,
        interaction_id=interaction.id,
        created_by_id=user.id,
        status="recording",
        mime_type=mime,
        chunk_count=0,
        size_bytes=0,
    )
    db.add(recording)
    db.flush()
    events.record_event(
        db,
        event_type="recording.started",
        session_id=session.id,
        user_id=user.id,
        payload={"recording_id": str(recording.id), "interaction_id": str(interaction.id)},
    )
    return recording, True


# -- chunks --------------------------------------------------------------------------------


def received_sequences(db: DbSession, recording: AudioRecording) -> list[int]:
    return list(
        db.scalars(
            select(AudioChunk.sequence)
            .where(AudioChunk.recording_id == recording.id)
            .order_by(AudioChunk.sequence)
        )
    )


def _check_chunk_bytes(data: bytes, sequence: int, limits: Limits) -> None:
    if sequence < 0 or sequence > MAX_SEQUENCE:
        raise RecordingError("That piece of the recording has an impossible number.")
    if len(data) > limits.chunk_bytes:
        raise RecordingError(
            f"That piece of the recording is larger than {limits.chunk_bytes // (1024 * 1024)} MB.",
            413,
        )
    if not data:
        raise RecordingError("That piece of the recording is empty.")
    if audio_media.looks_like_text(data) or (
        sequence == 0 and audio_media.container_of(data[:16]) is None
    ):
        raise RecordingError(
            "This does not look like a sound recording (webm, ogg, mp4 or wav).", 415
        )


def _check_chunk_claims(
    data: bytes, segment_start: bool, duration_ms: int | None, limits: Limits
) -> None:
    if segment_start and audio_media.container_of(data[:16]) is None:
        raise RecordingError(
            "This does not look like a sound recording (webm, ogg, mp4 or wav).", 415
        )
    if duration_ms is not None and duration_ms > limits.duration_ms:
        raise RecordingError(
            f"A recording can be at most {limits.duration_ms // 60_000} minutes long. "
            "Please stop and send this one; you can record more in the next answer.",
            413,
        )


def add_chunk(
    db: DbSession,
    storage: LocalStorage,
    recording: AudioRecording,
    *,
    sequence: int,
    data: bytes,
    limits: Limits,
    segment_start: bool = False,
    duration_ms: int | None = None,
) -> list[int]:
    """Keep one chunk (once); returns the sequences received so far.

    The same bytes again: nothing changes. Different bytes under a kept number: 409.
    ``segment_start``: the client says this chunk begins a new MediaRecorder run, so its
    bytes must begin with a container header (415 otherwise).
    """
    if recording.status != "recording":
        raise RecordingError("This recording is finished; start a new one to add more.", 409)
    _check_chunk_bytes(data, sequence, limits)
    _check_chunk_claims(data, segment_start, duration_ms, limits)
    digest = hashlib.sha256(data).hexdigest()
    existing = _chunk(db, recording.id, sequence)
    if existing is not None:
        return _repeat(db, recording, existing, digest)
    key = new_key("audio-chunks", ".part")
    try:
        stored = storage.save(key, data, max_bytes=limits.chunk_bytes)
    except TooLarge as exc:
        raise RecordingError(str(exc), 413) from exc
    try:
        with db.begin_nested():
            grown = db.execute(
                update(AudioRecording)
                .where(
                    AudioRecording.id == recording.id,
                    AudioRecording.status == "recording",
                    AudioRecording.size_bytes + stored.size_bytes <= limits.recording_bytes,
                )
                .values(
                    size_bytes=AudioRecording.size_bytes + stored.size_bytes,
                    chunk_count=AudioRecording.chunk_count + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if grown.rowcount != 1:
                raise _NotGrown
            db.add(
                AudioChunk(
                    recording_id=recording.id,
                    sequence=sequence,
                    size_bytes=stored.size_bytes,
                    sha256=stored.sha256,
                    storage_key=key,
                )
            )
            db.flush()
    except _NotGrown:
        storage.delete(key)
        db.refresh(recording)
        if recording.status != "recording":
            raise RecordingError(
                "This recording is finished; start a new one to add more.", 409
            ) from None
        raise RecordingError(
            f"A recording can be at most {limits.recording_bytes // (1024 * 1024)} MB.", 413
        ) from None
    except IntegrityError:
        # The same piece arrived twice at once: the other request kept it first.
        storage.delete(key)
        existing = _chunk(db, recording.id, sequence)
        if existing is None:
            raise
        return _repeat(db, recording, existing, digest)
    except BaseException:  # e.g. SQLite "database is locked": the caller may try again
        storage.delete(key)
        raise
    _extend_duration(db, recording, duration_ms)
    db.refresh(recording)
    return received_sequences(db, recording)


def _extend_duration(db: DbSession, recording: AudioRecording, duration_ms: int | None) -> None:
    """The longest length so far wins (chunks arrive in any order)."""
    if duration_ms is None or duration_ms < 0:
        return
    db.execute(
        update(AudioRecording)
        .where(
            AudioRecording.id == recording.id,
            or_(AudioRecording.duration_ms.is_(None), AudioRecording.duration_ms < duration_ms),
        )
        .values(duration_ms=duration_ms)
        .execution_options(synchronize_session=False)
    )


class _NotGrown(Exception):
    pass


def _chunk(db: DbSession, recording_id: uuid.UUID, sequence: int) -> AudioChunk | None:
    return db.scalar(
        select(AudioChunk).where(
            AudioChunk.recording_id == recording_id, AudioChunk.sequence == sequence
        )
    )


def _repeat(
    db: DbSession, recording: AudioRecording, existing: AudioChunk, digest: str
) -> list[int]:
    if existing.sha256 != digest:
        raise RecordingError(
            f"Piece {existing.sequence} of this recording was already received with "
            "different content.",
            409,
        )
    return received_sequences(db, recording)


# -- finishing -----------------------------------------------------------------------------


def finish(
    db: DbSession,
    storage: LocalStorage,
    recording: AudioRecording,
    *,
    chunk_count: int | None,
    duration_ms: int | None = None,
    accept_missing: bool = False,
    scratch: Path | None = None,
) -> AudioRecording:
    """Assemble the chunks into one audio document, exactly once; returns the recording.

    Missing chunks (numbers below ``chunk_count`` not received) raise a 409 RecordingError
    whose ``details["missing"]`` lists them, unless ``accept_missing``: then what arrived is
    assembled. A recording already finished is returned as it is (a second finish, another
    tab). The caller commits, then starts the transcription.
    """
    if recording.status in FINISHED_STATUSES:
        return recording
    if recording.status != "recording":
        raise RecordingError("This recording was already sent or thrown away.", 409)
    received = received_sequences(db, recording)
    if chunk_count is not None and chunk_count < 0:
        raise RecordingError("The number of pieces cannot be negative.")
    expected = set(range(chunk_count)) if chunk_count is not None else set(received)
    missing = sorted(expected - set(received))
    if missing and not accept_missing:
        raise RecordingError(
            "Some pieces of the recording have not arrived yet.", 409, missing=missing
        )
    if not received:
        raise RecordingError("Nothing was recorded yet.", 409, missing=missing)
    claimed = db.execute(
        update(AudioRecording)
        .where(AudioRecording.id == recording.id, AudioRecording.status == "recording")
        .values(status="assembled", assembled_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # another request finished it first
        db.refresh(recording)
        if recording.status in FINISHED_STATUSES:
            return recording
        raise RecordingError("This recording was already sent or thrown away.", 409)
    db.refresh(recording)
    chunks = list(
        db.scalars(
            select(AudioChunk)
            .where(AudioChunk.recording_id == recording.id)
            .order_by(AudioChunk.sequence)
        )
    )
    try:
        document, segments, probed = _assemble(db, storage, recording, chunks, scratch)
    except audio_media.AudioError as exc:
        recording.status = "failed"
        recording.error_message = str(exc)
        db.flush()
        return recording
    recording.document_id = document.id
    recording.duration_ms = probed if probed is not None else (duration_ms or recording.duration_ms)
    recording.chunk_count = len(chunks)
    recording.metadata_ = {
        **(recording.metadata_ or {}),
        "segments": segments,
        "missing_accepted": missing,
        "client_chunk_count": chunk_count,
        "client_duration_ms": duration_ms,
    }
    db.flush()
    events.record_event(
        db,
        event_type="recording.assembled",
        session_id=recording.session_id,
        user_id=recording.created_by_id,
        payload={
            "recording_id": str(recording.id),
            "document_id": str(document.id),
            "chunks": len(chunks),
            "segments": segments,
            "missing": missing,
            "duration_ms": recording.duration_ms,
        },
    )
    return recording


def _assemble(
    db: DbSession,
    storage: LocalStorage,
    recording: AudioRecording,
    chunks: list[AudioChunk],
    scratch: Path | None,
) -> tuple[Document, int, int | None]:
    with tempfile.TemporaryDirectory(prefix="recording-", dir=scratch) as folder:
        work = Path(folder)
        segment_paths: list[Path] = []
        out = None
        for chunk in chunks:
            data = storage.read(chunk.storage_key)
            kind = audio_media.container_of(data[:16])
            if kind is not None or out is None:
                if out is not None:
                    out.close()
                path = work / f"segment-{len(segment_paths):04d}.{kind or 'webm'}"
                segment_paths.append(path)
                out = path.open("wb")
            out.write(data)
        if out is not None:
            out.close()
        joined = work / "recording.webm"
        audio_media.join_segments(segment_paths, joined)
        probed = audio_media.probe_duration_ms(joined)
        key = new_key("audio", ".webm")
        with joined.open("rb") as source:
            stored = storage.save(key, source)
    document = Document(
        session_id=recording.session_id,
        storyteller_id=recording.storyteller_id,
        interaction_id=recording.interaction_id,
        kind="audio",
        title="Voice answer",
        content_type="audio/webm",
        storage_key=key,
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        metadata_={"recording_id": str(recording.id), "duration_ms": probed},
        created_by_id=recording.created_by_id,
    )
    db.add(document)
    db.flush()
    return document, len(segment_paths), probed


# -- transcription -------------------------------------------------------------------------


def transcribe_recording(
    db: DbSession,
    storage: LocalStorage,
    recording_id: uuid.UUID,
    settings: TranscriptionSettings,
    *,
    prices: Mapping[str, Any] | None = None,
) -> AudioRecording | None:
    """Transcribe the assembled audio once; every engine tried becomes an llm_interaction row.

    Claims the recording with a guarded UPDATE (assembled/failed -> transcribing), so a
    repeated task does nothing. The caller commits.
    """
    claimed = db.execute(
        update(AudioRecording)
        .where(
            AudioRecording.id == recording_id,
            AudioRecording.document_id.is_not(None),
            or_(
                AudioRecording.status == "assembled",
                and_(AudioRecording.status == "failed", AudioRecording.transcript.is_(None)),
            ),
        )
        .values(status="transcribing")
        .execution_options(synchronize_session=False)
    )
    recording = db.get(AudioRecording, recording_id)
    if recording is None:
        return None
    db.refresh(recording)
    if claimed.rowcount != 1:
        return recording
    db.commit()  # others see "transcribing" while it runs
    document = db.get(Document, recording.document_id)
    assert document is not None and document.storage_key
    audio_path = storage.path(document.storage_key)
    db.commit()  # no transaction stays open during the (long) transcription
    result = transcribe(audio_path, settings)
    database.begin_write(db)
    recording = db.get(AudioRecording, recording_id)
    assert recording is not None
    rows = _record_attempts(db, recording, result, prices)
    if result.success:
        recording.status = "transcribed"
        recording.transcript = result.text
        recording.transcript_source = (result.source or "")[:30]
        recording.error_message = None
    else:
        recording.status = "failed"
        recording.error_message = (
            "The recording could not be written down automatically. It is kept; "
            "please type your answer, or listen to it and send it as it is."
        )
    recording.llm_interaction_id = rows[-1].id if rows else None
    if result.audio_seconds is not None and not recording.duration_ms:
        recording.duration_ms = round(result.audio_seconds * 1000)
    events.record_event(
        db,
        event_type="recording.transcribed" if result.success else "recording.transcription_failed",
        session_id=recording.session_id,
        user_id=recording.created_by_id,
        llm_interaction_id=recording.llm_interaction_id,
        payload={
            "recording_id": str(recording.id),
            "source": result.source,
            "words": len((result.text or "").split()),
            "error": result.error_message,
        },
    )
    db.flush()
    return recording


def _record_attempts(
    db: DbSession,
    recording: AudioRecording,
    result: Result,
    prices: Mapping[str, Any] | None,
) -> list[LlmInteraction]:
    session = db.get(Session, recording.session_id)
    rows = []
    for attempt in result.attempts:
        row = LlmInteraction(
            id=uuid.uuid4(),
            session_id=recording.session_id,
            storyteller_id=recording.storyteller_id,
            agent_id=session.agent_id if session else None,
            agent_version_id=session.agent_version_id if session else None,
            purpose="transcription",
            prompt=[
                {
                    "role": "audio",
                    "engine": attempt.engine,
                    "recording_id": str(recording.id),
                    "document_id": str(recording.document_id),
                    "audio_seconds": result.audio_seconds,
                }
            ],
            response=attempt.text,
            model=attempt.model,
            response_model=attempt.model if attempt.success else None,
            cost=cost_per_minute(attempt.model, result.audio_seconds, prices)
            if attempt.success
            else None,
            latency_ms=attempt.latency_ms,
            success=attempt.success,
            error_type=attempt.error_type,
            error_message=attempt.error_message,
            status_code=attempt.status_code,
            attempts=max(1, attempt.attempts),
            created_at=attempt.started_at,
        )
        db.add(row)
        rows.append(row)
    db.flush()
    return rows


# -- sending and discarding ----------------------------------------------------------------


def attach_to_answer(
    db: DbSession, recording_id: Any, interaction: SessionInteraction, user: User
) -> AudioRecording:
    """Link the recording and its audio to the answered question and mark it "sent".

    Called by the answer view after the (edited) transcript was saved as the answer text.
    Sending the same recording again for the same question changes nothing.
    """
    try:
        key = recording_id if isinstance(recording_id, uuid.UUID) else uuid.UUID(recording_id)
    except (TypeError, ValueError):
        raise RecordingError("That recording is not known.", 404) from None
    recording = db.get(AudioRecording, key)
    if recording is None or recording.session_id != interaction.session_id:
        raise RecordingError("That recording is not known.", 404)
    if recording.created_by_id not in (None, user.id) and user.role != "coordinator":
        raise RecordingError("That recording is not known.", 404)
    if recording.status == "sent":
        if recording.interaction_id == interaction.id:
            return recording
        raise RecordingError("That recording was already sent with another answer.", 409)
    if recording.status not in FINISHED_STATUSES:
        raise RecordingError(
            "That recording is not finished yet. Press Stop, then send your answer.", 409
        )
    sent = db.execute(
        update(AudioRecording)
        .where(AudioRecording.id == recording.id, AudioRecording.status.in_(FINISHED_STATUSES))
        .values(status="sent", sent_at=utcnow(), interaction_id=interaction.id)
        .execution_options(synchronize_session=False)
    )
    db.refresh(recording)
    if sent.rowcount != 1:
        if recording.status == "sent" and recording.interaction_id == interaction.id:
            return recording
        raise RecordingError("That recording was already sent or thrown away.", 409)
    if recording.document_id is not None:
        document = db.get(Document, recording.document_id)
        if document is not None:
            document.interaction_id = interaction.id
    if interaction.response_method == "text":
        interaction.response_method = "voice"
    events.record_event(
        db,
        event_type="recording.sent",
        session_id=recording.session_id,
        user_id=user.id,
        payload={"recording_id": str(recording.id), "interaction_id": str(interaction.id)},
    )
    db.flush()
    return recording


def discard(db: DbSession, recording: AudioRecording, user: User) -> list[str]:
    """Throw the recording away (status "discarded"); returns the storage keys to delete.

    The caller deletes those files after committing, so a failed commit loses nothing.
    """
    if recording.status == "discarded":
        return []
    if recording.status == "sent":
        raise RecordingError("This recording was sent with your answer and is kept.", 409)
    done = db.execute(
        update(AudioRecording)
        .where(AudioRecording.id == recording.id, AudioRecording.status.in_(OPEN_STATUSES))
        .values(status="discarded")
        .execution_options(synchronize_session=False)
    )
    db.refresh(recording)
    if done.rowcount != 1:
        if recording.status == "discarded":
            return []
        raise RecordingError("This recording was sent with your answer and is kept.", 409)
    chunks = list(db.scalars(select(AudioChunk).where(AudioChunk.recording_id == recording.id)))
    keys = [chunk.storage_key for chunk in chunks]
    for chunk in chunks:
        db.delete(chunk)
    if recording.document_id is not None:
        document = db.get(Document, recording.document_id)
        recording.document_id = None
        if document is not None:
            if document.storage_key:
                keys.append(document.storage_key)
            db.delete(document)
    events.record_event(
        db,
        event_type="recording.discarded",
        session_id=recording.session_id,
        user_id=user.id,
        payload={"recording_id": str(recording.id)},
    )
    db.flush()
    return keys
