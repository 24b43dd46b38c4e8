"""Audio bytes: containers recognised by their first bytes; segments of mixed kinds joined."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from storyteller import audio_media
from tests.recording_audio import SENTENCE, spoken_wav

FORMATS = {
    "webm": ["-c:a", "libopus", "-f", "webm"],
    "ogg": ["-c:a", "libopus", "-f", "ogg"],
    "mp4": ["-c:a", "aac", "-f", "mp4", "-movflags", "frag_keyframe+empty_moov"],
    "wav": ["-f", "wav"],
}


@pytest.fixture(scope="module")
def encoded(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formats")
    wav = spoken_wav(folder, SENTENCE)
    made = {}
    for kind, args in FORMATS.items():
        target = folder / f"encoded.{kind}"
        subprocess.run(  # noqa: S603 - fixed tool
            ["/usr/bin/ffmpeg", "-loglevel", "error", "-i", str(wav), *args, str(target)],
            check=True,
        )
        made[kind] = target
    return made


def test_containers_are_known_by_their_first_bytes(encoded):
    for kind, path in encoded.items():
        data = path.read_bytes()
        assert audio_media.container_of(data[:16]) == kind, kind
        assert not audio_media.looks_like_text(data)
        # The middle of the stream is no container start.
        assert audio_media.container_of(data[len(data) // 2 :][:16]) is None, kind


@pytest.mark.parametrize(
    "head",
    [
        b"<!DOCTYPE html><html><body>not a recording, just a page of text</body></html>",
        b'{"this": "is json", "and": "not audio at all, whatever it says it is"}',
        b"GIF89a" + bytes(64),
        b"\x89PNG\r\n\x1a\n" + bytes(64),
        b"OggS\x00\x00" + bytes(64),  # an Ogg page that does not begin a stream
    ],
)
def test_other_bytes_are_not_audio_containers(head):
    assert audio_media.container_of(head[:16]) is None


def test_text_is_recognised_as_text():
    assert audio_media.looks_like_text(b"<!DOCTYPE html><html><body>hello there</body></html>")
    assert not audio_media.looks_like_text(b"short")
    assert not audio_media.looks_like_text(bytes(range(256)))


def test_segments_of_different_kinds_join_into_one_webm(encoded, tmp_path):
    target = tmp_path / "joined.webm"
    audio_media.join_segments([encoded["webm"], encoded["mp4"], encoded["wav"]], target)
    assert audio_media.container_of(target.read_bytes()[:16]) == "webm"
    seconds = audio_media.probe_duration_ms(target) / 1000
    assert 7.5 <= seconds <= 10.0, seconds  # three times the 2.9 s sentence


def test_unreadable_audio_is_a_plain_error(tmp_path):
    broken = tmp_path / "broken.webm"
    broken.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 8)
    with pytest.raises(audio_media.AudioError, match="could not be read"):
        audio_media.join_segments([broken], tmp_path / "out.webm")
    assert audio_media.probe_duration_ms(broken) is None
