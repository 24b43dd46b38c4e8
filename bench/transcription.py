"""How long does writing down a voice answer take, per minute of audio?

    .venv/bin/python bench/transcription.py [--minutes 1.0] [--repeat 1] [--server-latency 0]

Speech is made with espeak-ng (a paragraph said again and again until the wanted length),
encoded to webm/opus the way a browser's MediaRecorder does (ffmpeg, written to a pipe:
no length in the header) and cut into 4-second pieces. Then, each timed with wall-clock
and CPU time and reported as seconds of processing per minute of audio:

* assembly: the pieces written as one segment and remuxed (``audio_media.join_segments``),
  and the same audio as two segments joined (a reload halfway);
* offline: ``agent.transcription.transcribe`` without a server: ffmpeg to 16 kHz PCM and
  pocketsphinx (bundled en-us model) over each stretch of speech; the first run includes
  loading the model (about a second) and is reported apart;
* server: the same function through the real ``openai`` client against the local
  FakeLlmServer (tests/fake_llm_server.py), which answers at once (or after
  ``--server-latency`` seconds): the upload and the client's own work, not a real
  Whisper's recognition time.

Also printed: the share of the paragraph's words the offline transcript found. A report,
not a gate: it exits 0 whenever it ran. Wall-clock figures include other load on the
machine; the CPU figures (this process and its ffmpeg children) are steadier.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storyteller import audio_media  # noqa: E402
from storyteller.agent.transcription import TranscriptionSettings, transcribe  # noqa: E402
from tests.fake_llm_server import FakeLlmServer  # noqa: E402

PARAGRAPH = (
    "In the summer my brother Tom built a boat in the yard behind our house. "
    "We painted it blue and carried it down to the lake on a Saturday morning. "
    "My mother packed sandwiches and my father held the rope while we pushed off. "
)
PIECE_SECONDS = 4


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(work):
    wall, cpu = time.perf_counter(), _cpu()
    result = work()
    return result, time.perf_counter() - wall, _cpu() - cpu


def make_speech(folder: Path, minutes: float) -> tuple[Path, float]:
    """A webm/opus stream of about ``minutes`` of speech; returns it and its length (s)."""
    wav = folder / "paragraph.wav"
    subprocess.run(["/usr/bin/espeak-ng", "-s", "140", "-w", str(wav), PARAGRAPH], check=True)
    one = audio_media.probe_duration_ms(wav) / 1000
    times = max(1, round(minutes * 60 / one))
    listing = folder / "repeat.txt"
    listing.write_text(f"file '{wav}'\n" * times)
    webm = folder / "speech.webm"
    with webm.open("wb") as out:
        subprocess.run(
            [
                "/usr/bin/ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                str(listing),
                "-c:a",
                "libopus",
                "-b:a",
                "32k",
                "-f",
                "webm",
                "pipe:1",
            ],
            check=True,
            stdout=out,
        )
    return webm, audio_media.probe_duration_ms(webm) / 1000


def per_minute(seconds: float, audio_seconds: float) -> float:
    return seconds / (audio_seconds / 60)


def words_found(text: str | None) -> float:
    wanted = {w.strip(".,").lower() for w in PARAGRAPH.split() if len(w.strip(".,")) > 3}
    said = set((text or "").lower().split())
    return len(wanted & said) / len(wanted)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--server-latency", type=float, default=0.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-transcription-") as tmp:
        folder = Path(tmp)
        speech, audio_seconds = make_speech(folder, args.minutes)
        print(
            f"audio: {audio_seconds:.1f} s of espeak-ng speech, webm/opus, "
            f"{speech.stat().st_size / 1024:.0f} KiB; machine: {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.1f}"
        )
        print(f"{'step':<34}{'wall s':>8}{'cpu s':>8}{'wall s/min':>12}{'cpu s/min':>11}")

        def report(name: str, wall: float, cpu: float) -> None:
            print(
                f"{name:<34}{wall:>8.2f}{cpu:>8.2f}"
                f"{per_minute(wall, audio_seconds):>12.2f}{per_minute(cpu, audio_seconds):>11.2f}"
            )

        # Assembly: one segment remuxed; the same audio as two segments joined.
        data = speech.read_bytes()
        one_segment = folder / "one.webm"
        one_segment.write_bytes(data)
        _, wall, cpu = _timed(
            lambda: audio_media.join_segments([one_segment], folder / "joined1.webm")
        )
        report("assembly, 1 segment (remux)", wall, cpu)
        second = folder / "second.webm"
        second.write_bytes(data)  # a second run of the recorder: its own header
        _, wall, cpu = _timed(
            lambda: audio_media.join_segments([one_segment, second], folder / "joined2.webm")
        )
        report("assembly, 2 segments (x2 audio)", wall / 2, cpu / 2)

        offline = TranscriptionSettings(base_url=None, api_key=None)
        result, wall, cpu = _timed(lambda: transcribe(speech, offline))
        report("offline, first (loads the model)", wall, cpu)
        found = words_found(result.text)
        for number in range(args.repeat):
            result, wall, cpu = _timed(lambda: transcribe(speech, offline))
            report(f"offline, run {number + 1}", wall, cpu)
        print(f"offline transcript found {found:.0%} of the paragraph's words (len > 3)")

        with FakeLlmServer(latency=args.server_latency) as server:
            settings = TranscriptionSettings(
                base_url=server.base_url, api_key="bench", timeout_seconds=60, offline=False
            )
            transcribe(speech, settings)  # first use: imports and builds the client
            for number in range(args.repeat):
                server.queue_transcription(PARAGRAPH)
                result, wall, cpu = _timed(lambda: transcribe(speech, settings))
                assert result.source == "server:whisper-1", result.attempts
                report(f"server (fake, local), run {number + 1}", wall, cpu)
            uploaded = server.transcription_requests[-1]["files"]["file"]["size"]
            print(f"server: {uploaded / 1024:.0f} KiB uploaded per request (multipart)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
