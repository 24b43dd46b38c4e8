"""Real speech for the voice-answer tests: espeak-ng -> WAV -> ffmpeg -> webm/opus, in chunks.

``spoken_webm`` makes a webm/opus byte stream the way a MediaRecorder does (written to a
pipe: no seek index, no duration in the header); ``cut`` splits it into chunks whose
concatenation is the same bytes again, like MediaRecorder's ``dataavailable`` pieces.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

SENTENCE = "my brother tom built a boat in the summer"
SECOND_SENTENCE = "we sailed it on the lake near our house"
CONTENT_WORDS = ("brother", "tom", "built", "boat", "summer")


def spoken_wav(folder: Path, text: str, name: str = "speech") -> Path:
    wav = folder / f"{name}.wav"
    subprocess.run(  # noqa: S603 - fixed tools
        ["/usr/bin/espeak-ng", "-s", "140", "-w", str(wav), text], check=True, capture_output=True
    )
    return wav


def spoken_webm(folder: Path, text: str, name: str = "speech") -> bytes:
    wav = spoken_wav(folder, text, name)
    done = subprocess.run(  # noqa: S603 - fixed tools
        [
            "/usr/bin/ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            str(wav),
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            "-f",
            "webm",
            "pipe:1",
        ],
        check=True,
        capture_output=True,
    )
    return done.stdout


def cut(data: bytes, pieces: int) -> list[bytes]:
    size = -(-len(data) // pieces)
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    assert b"".join(chunks) == data
    return chunks


def probe(path: Path) -> dict:
    """ffprobe's format and streams of a file (raises if ffprobe cannot read it)."""
    done = subprocess.run(  # noqa: S603 - fixed tools
        [
            "/usr/bin/ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration,format_name:stream=codec_name",
            "-of",
            "json",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    return json.loads(done.stdout)


def words_found(transcript: str | None, words=CONTENT_WORDS) -> float:
    said = set((transcript or "").lower().split())
    return sum(1 for word in words if word in said) / len(words)


WEBM = "audio/webm;codecs=opus"


def at_first_question(make_user, make_storyteller, make_session, db_session, name="Alice Owner"):
    """A storyteller's session started offline, its first question open (committed): the
    storyteller's user, the session and that question."""
    from storyteller import interview
    from storyteller.agent.llm import LlmSettings

    user = make_user("storyteller", name=name)
    storyteller = make_storyteller(user=user)
    session = make_session(storyteller)
    settings = interview.InterviewSettings(
        llm=LlmSettings(base_url=None, api_key=None, model="none"),
        daily_token_budget=0,
        prices={},
    )
    question = interview.start(db_session, session, user_id=user.id, settings=settings)
    db_session.commit()
    return user, session, question


def signed_in_at_first_question(make_user, make_storyteller, make_session, db_session, login):
    """As ``at_first_question``, the storyteller signed in: {"user", "session", "question"}."""
    user, session, question = at_first_question(
        make_user, make_storyteller, make_session, db_session
    )
    login(user)
    return {"user": user, "session": session, "question": question}


def start_recording(client, setup) -> dict:
    """POST a new recording for the open question; its JSON (urls, id)."""
    response = client.post(
        f"/interview/{setup['session'].id}/recordings",
        data={"interaction_id": str(setup["question"].id), "mime_type": WEBM},
    )
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response.get_json()
