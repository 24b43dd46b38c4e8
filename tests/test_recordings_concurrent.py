"""Two tabs at once: the same chunk twice, two finishes; exactly one recording assembled.

Each test runs against a database of its own (the ``seeded`` fixture of
tests/concurrent_tabs.py, a plugin of tests/conftest.py): several threads,
each a signed-in browser tab with its own requests, released together by a barrier.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from storyteller.extensions import db
from storyteller.models import AudioChunk, AudioRecording, Document
from tests.concurrent_tabs import all_at_once, count_rows, tab
from tests.recording_audio import SENTENCE, cut, spoken_webm

TABS = 4


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> bytes:
    return spoken_webm(tmp_path_factory.mktemp("speech"), SENTENCE)


def test_two_tabs_starting_and_uploading_at_once_share_one_recording(seeded, speech):
    tabs = [tab(seeded) for _ in range(TABS)]
    url = f"/interview/{seeded['session_id']}/recordings"
    form = {"interaction_id": str(seeded["question_id"]), "mime_type": "audio/webm"}
    started = all_at_once([lambda c=c: c.post(url, data=form) for c in tabs])
    assert all(not isinstance(r, Exception) for r in started), started
    assert sorted(r.status_code for r in started) == [200] * (TABS - 1) + [201]
    ids = {r.get_json()["id"] for r in started}
    assert len(ids) == 1
    rec = started[0].get_json()
    chunks = cut(speech, 3)
    # The same piece from every tab at once: kept once, every tab told it arrived.
    same = all_at_once([lambda c=c: c.put(f"{rec['chunk_url']}0", data=chunks[0]) for c in tabs])
    assert [r.status_code for r in same] == [200] * TABS, [r.get_data() for r in same]
    # Different bytes under one number at once: one kept, the others refused.
    rival = all_at_once(
        [
            lambda c=c, data=data: c.put(f"{rec['chunk_url']}1", data=data)
            for c, data in zip(
                tabs, (chunks[1], chunks[2], chunks[1] + b"x", chunks[2] + b"y"), strict=True
            )
        ]
    )
    assert sorted(r.status_code for r in rival) == [200] + [409] * (TABS - 1)
    recording_id = uuid.UUID(rec["id"])
    assert count_rows(seeded["app"], AudioChunk, AudioChunk.recording_id == recording_id) == 2
    with seeded["app"].app_context():
        recording = db.session.get(AudioRecording, recording_id)
        kept = db.session.scalars(select(AudioChunk).where(AudioChunk.recording_id == recording_id))
        assert recording.chunk_count == 2
        assert recording.size_bytes == sum(chunk.size_bytes for chunk in kept)
        folder = Path(seeded["app"].instance_path) / "uploads" / "audio-chunks"
        assert len([p for p in folder.rglob("*.part")]) == 2  # the losers' files are gone


def test_two_finishes_at_once_assemble_exactly_once(seeded, speech):
    tabs = [tab(seeded) for _ in range(TABS)]
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
    finishes = all_at_once(
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
    assert count_rows(app, Document, Document.kind == "audio") == 1
    folder = Path(app.instance_path) / "uploads" / "audio"
    assert len(list(folder.rglob("*.webm"))) == 1  # one assembled file, not one per tab
    with app.app_context():
        recording = db.session.get(AudioRecording, uuid.UUID(first["id"]))
        assert recording.status == "transcribed"
        assert recording.document_id is not None
    assert tabs[1].get(first["audio_url"]).status_code == 200
