"""Permission rows for voice recordings: start, chunks, finish, status, discard, playback.

Recording (everything but playback): whoever may conduct the session, i.e. the storyteller
and a granted coordinator; a reviewer or admin who may see the session 403; anyone else
404 (the admin sees everything: 403). Playback: everyone who may see the storyteller.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from storyteller import interview
from storyteller.agent.llm import LlmSettings
from storyteller.models import AudioRecording, Document
from tests.permissions_common import (
    ANON_TO_SIGN_IN,
    HIDDEN_FROM_ALL_BUT_ADMIN,
    VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    Route,
    Scenario,
)

# The permission table reads every body as text, so the stored "audio" is text bytes; the
# route streams whatever file is there (tests/test_recordings.py plays real audio).
AUDIO = b"audio bytes for the permission table"
# The first bytes of a webm stream (EBML header magic) and some binary: a chunk the server
# keeps (it checks the container header, not the whole stream, until assembly).
WEBM_CHUNK = b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 4

CONDUCT_OTHER = {
    **ANON_TO_SIGN_IN,
    "storyteller": 404,
    "coordinator": 404,
    "reviewer": 404,
    "admin": 403,
}


def _conduct_own(ok: int) -> dict:
    return {**ANON_TO_SIGN_IN, "storyteller": ok, "coordinator": ok, "reviewer": 403, "admin": 403}


def _with_question(s: Scenario, ownership: str) -> None:
    settings = interview.InterviewSettings(
        llm=LlmSettings(base_url=None, api_key=None, model="none"), daily_token_budget=0, prices={}
    )
    s.extra["interaction"] = interview.start(
        s.db, s.session(ownership), user_id=None, settings=settings
    )
    s.db.commit()


def _recording(status: str):
    """Setup: a recording of the session in the URL; finished ones have their audio file."""

    def setup(s: Scenario, ownership: str) -> None:
        session = s.session(ownership)
        owner = s.users["storyteller"] if ownership == "own" else s.user_b
        recording = AudioRecording(
            session_id=session.id,
            storyteller_id=session.storyteller_id,
            created_by_id=owner.id,
            status=status,
            mime_type="audio/webm",
        )
        if status != "recording":
            key = f"permissions/recording-{ownership}.webm"
            path = Path(current_app.instance_path) / "uploads" / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(AUDIO)
            document = Document(
                session_id=session.id,
                storyteller_id=session.storyteller_id,
                kind="audio",
                title="Voice answer",
                content_type="audio/webm",
                storage_key=key,
            )
            s.db.add(document)
            s.db.flush()
            recording.document_id = document.id
            recording.transcript = "We built a boat."
        s.db.add(recording)
        s.db.commit()
        s.extra["recording"] = recording

    return setup


def _url(suffix: str = ""):
    return lambda s, own: f"/recordings/{s.extra['recording'].id}{suffix}"


ROWS = {
    "recordings.start": Route(
        "POST",
        lambda s, own: f"/interview/{s.session(own).id}/recordings",
        setup=_with_question,
        data=lambda s: {
            "interaction_id": str(s.extra["interaction"].id),
            "mime_type": "audio/webm",
        },
        other=CONDUCT_OTHER,
        own=_conduct_own(201),
    ),
    "recordings.put_chunk": Route(
        "PUT",
        _url("/chunks/0"),
        setup=_recording("recording"),
        data=lambda s: WEBM_CHUNK,  # type: ignore[arg-type, return-value]
        headers={"Content-Type": "audio/webm"},
        other=CONDUCT_OTHER,
        own=_conduct_own(200),
    ),
    "recordings.finish": Route(
        "POST",
        _url("/finish"),
        setup=_recording("transcribed"),  # already finished: a second finish returns it
        data={"chunk_count": "1"},
        other=CONDUCT_OTHER,
        own=_conduct_own(200),
    ),
    "recordings.status": Route(
        "GET",
        _url(),
        setup=_recording("recording"),
        other=CONDUCT_OTHER,
        own=_conduct_own(200),
    ),
    "recordings.discard": Route(
        "POST",
        _url("/discard"),
        setup=_recording("recording"),
        other=CONDUCT_OTHER,
        own=_conduct_own(200),
    ),
    "recordings.audio": Route(
        "GET",
        _url("/audio"),
        setup=_recording("transcribed"),
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
}
