"""Audio bytes and files: what a recording's bytes are, how long it is, and joining its parts.

No database and no Flask: plain functions over bytes and paths, using ffmpeg and ffprobe
(``/usr/bin``; Debian packages). The browser's MediaRecorder makes one container stream per
run (a *segment*): its first chunk starts with the container's header (webm's EBML magic,
``OggS`` with the beginning-of-stream flag, ``ftyp`` for MP4, ``RIFF....WAVE``); later chunks
are the middle of that stream. A chunk's kind is decided from its bytes, never from the
name or the declared type.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "AudioError",
    "CONTAINER_TYPES",
    "audio_codec",
    "container_of",
    "join_segments",
    "looks_like_text",
    "probe_duration_ms",
    "to_pcm16k",
]

# Container -> the content type it is stored and served as.
CONTAINER_TYPES = {
    "webm": "audio/webm",
    "ogg": "audio/ogg",
    "mp4": "audio/mp4",
    "wav": "audio/wav",
}
FFMPEG_TIMEOUT_SECONDS = 600
PROBE_TIMEOUT_SECONDS = 60


class AudioError(ValueError):
    """ffmpeg or ffprobe could not read or write the audio; the message says so plainly."""


def container_of(head: bytes) -> str | None:
    """The container whose header starts these bytes ("webm", "ogg", "mp4", "wav"), or None.

    ``None`` also for the middle of a stream (a later MediaRecorder chunk).
    """
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    # An Ogg page: "OggS", version 0, header type with the beginning-of-stream bit (0x02).
    if head[:4] == b"OggS" and len(head) > 5 and head[4] == 0 and head[5] & 0x02:
        return "ogg"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    return None


def looks_like_text(head: bytes) -> bool:
    """True when the first bytes are all printable text (HTML, JSON, a letter): not audio.

    Compressed audio is close to random bytes; 64 printable ones in a row do not happen.
    """
    sample = head[:64]
    if len(sample) < 16:
        return False
    return all(byte in b"\t\n\r" or 32 <= byte < 127 for byte in sample)


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        raise AudioError(f"{name} is not installed on this server.")
    return path


def _run(args: Sequence[str], timeout: int) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(  # noqa: S603 - fixed tool, arguments built here
            list(args), capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise AudioError("Processing the recording took too long.") from exc


def probe_duration_ms(path: Path) -> int | None:
    """The audio's length in ms: from the file's header, else by reading its packets.

    A MediaRecorder-style stream (written to a pipe) has no length in its header; copying
    its packets to nowhere is fast and ends at the last timestamp. None when unreadable.
    """
    from_header = _header_duration_ms(path)
    if from_header is not None:
        return from_header
    result = _run(
        [
            _tool("ffmpeg"),
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-c",
            "copy",
            "-f",
            "null",
            "-",
            "-progress",
            "pipe:1",
        ],
        FFMPEG_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        return None
    times = [
        line.split("=", 1)[1]
        for line in result.stdout.decode("ascii", "replace").splitlines()
        if line.startswith("out_time_us=")
    ]
    try:
        return round(int(times[-1]) / 1000) if times and int(times[-1]) > 0 else None
    except ValueError:
        return None


def _probe(path: Path, *selection: str) -> dict[str, Any] | None:
    """ffprobe's JSON answer for ``path`` limited to ``selection`` (its -select_streams /
    -show_entries options), None when ffprobe fails or answers something else."""
    result = _run(
        [_tool("ffprobe"), "-v", "error", *selection, "-of", "json", str(path)],
        PROBE_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        return None
    try:
        answer = json.loads(result.stdout or b"{}")
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _header_duration_ms(path: Path) -> int | None:
    answer = _probe(path, "-show_entries", "format=duration")
    try:
        duration = (answer or {}).get("format", {}).get("duration")
        return round(float(duration) * 1000) if duration not in (None, "N/A") else None
    except (ValueError, TypeError, AttributeError):
        return None


def _ffmpeg(args: Sequence[str]) -> None:
    result = _run(
        [_tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        FFMPEG_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise AudioError(f"The recording could not be read ({detail[0][:200]}).")


def join_segments(segments: Sequence[Path], target: Path) -> None:
    """One webm/opus file at ``target`` from one or more segment files, in order.

    When every segment is opus, the packets are copied without re-encoding (the concat
    demuxer re-times each segment after the one before); anything else (Safari's AAC, a
    WAV, or a copy ffmpeg refuses) is re-encoded to opus.
    A single segment is remuxed too, so the stored file has a duration and seek index
    (a MediaRecorder stream has neither).
    """
    if not segments:
        raise AudioError("There is nothing recorded.")
    target.parent.mkdir(parents=True, exist_ok=True)
    listing = target.with_suffix(".txt")
    listing.write_text(
        "".join(f"file '{_concat_quote(p.resolve())}'\n" for p in segments), encoding="utf-8"
    )
    concat = ["-f", "concat", "-safe", "0", "-i", str(listing), "-vn"]
    try:
        try:
            if any(audio_codec(path) != "opus" for path in segments):
                raise AudioError("Not all opus: re-encode.")
            _ffmpeg([*concat, "-c:a", "copy", "-f", "webm", str(target)])
            if probe_duration_ms(target) is None:
                raise AudioError("The copied recording has no readable length.")
        except AudioError:
            inputs: list[str] = []
            for path in segments:
                inputs += ["-i", str(path)]
            graph = "".join(f"[{i}:a:0]" for i in range(len(segments)))
            graph += f"concat=n={len(segments)}:v=0:a=1[out]"
            _ffmpeg(
                [
                    *inputs,
                    "-filter_complex",
                    graph,
                    "-map",
                    "[out]",
                    "-c:a",
                    "libopus",
                    "-b:a",
                    "48k",
                    "-f",
                    "webm",
                    str(target),
                ]
            )
    finally:
        listing.unlink(missing_ok=True)


def audio_codec(path: Path) -> str | None:
    """The codec of the file's first audio stream ("opus", "aac", ...), None if unreadable."""
    answer = _probe(path, "-select_streams", "a:0", "-show_entries", "stream=codec_name")
    try:
        streams = (answer or {}).get("streams") or [{}]
        return streams[0].get("codec_name")
    except (AttributeError, IndexError, TypeError):
        return None


def _concat_quote(path: Path) -> str:
    return str(path).replace("'", "'\\''")


def to_pcm16k(source: Path, target: Path) -> None:
    """16 kHz mono signed 16-bit little-endian raw PCM (what pocketsphinx reads)."""
    _ffmpeg(["-i", str(source), "-vn", "-ac", "1", "-ar", "16000", "-f", "s16le", str(target)])
