"""Speech to text for voice answers: the configured server first, offline recognition after.

``transcribe(audio_path, settings)`` returns a ``Result`` whose ``attempts`` hold one entry
per engine tried (what an ``llm_interaction`` row needs: model, latency, outcome, audio
length), so every transcription is recorded like an LLM call by the caller.

* With an API key configured: the OpenAI-compatible ``/audio/transcriptions`` endpoint
  (OpenAI, or a local Whisper server) through the ``openai`` client, with a timeout and
  a bounded number of retries on 408/409/429/5xx, timeouts and connection errors.
* Without one, or when the server fails: offline, ffmpeg turns the browser's audio into
  16 kHz mono PCM and pocketsphinx (its bundled en-us model) recognises each stretch of
  speech its voice-activity segmenter finds, so long pauses cost nothing.

No Flask, no database.
"""

from __future__ import annotations

import io
import logging
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from storyteller.audio_media import AudioError, probe_duration_ms, to_pcm16k

__all__ = [
    "DEFAULT_MINUTE_PRICES",
    "OFFLINE_MODEL",
    "Attempt",
    "Result",
    "TranscriptionSettings",
    "cost_per_minute",
    "transcribe",
]

log = logging.getLogger(__name__)

OFFLINE_MODEL = "pocketsphinx-en-us"
TRAILING_SILENCE = bytes(16000 * 2)  # one second of 16 kHz 16-bit mono PCM
# USD per minute of audio, as published by OpenAI; override with the app's
# STORYTELLER_TRANSCRIPTION_PRICES ({"model": usd_per_minute, ...}; null removes one).
DEFAULT_MINUTE_PRICES: dict[str, Decimal] = {
    "whisper-1": Decimal("0.006"),
    "gpt-4o-transcribe": Decimal("0.006"),
    "gpt-4o-mini-transcribe": Decimal("0.003"),
    OFFLINE_MODEL: Decimal("0"),  # runs on this server
}
# pocketsphinx's own defaults. Pruning harder (maxhmmpf=3000, maxwpf=10) was measured with
# bench/transcription.py: 24 instead of 35 CPU-seconds per minute of audio, but 36% instead
# of 50% of the words found; the words matter more than the CPU in an offline fallback.
DECODER_OPTIONS: dict[str, Any] = {}
RETRYABLE_STATUS = frozenset({408, 409, 429})
MAX_BACKOFF_SECONDS = 1.0
ERROR_LIMIT = 1000


@dataclass(frozen=True)
class TranscriptionSettings:
    base_url: str | None
    api_key: str | None
    model: str = "whisper-1"
    timeout_seconds: float = 120.0
    max_retries: int = 1
    offline: bool = True  # fall back to pocketsphinx
    language: str | None = "en"

    @property
    def server_enabled(self) -> bool:
        return bool(self.api_key and self.api_key.strip())


@dataclass
class Attempt:
    """One engine's try at the audio (all its HTTP attempts): one llm_interaction row."""

    engine: str  # "server" or "offline"
    model: str
    started_at: datetime
    latency_ms: int = 0
    success: bool = False
    text: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    status_code: int | None = None
    attempts: int = 1
    request: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    text: str | None
    source: str | None  # "server:<model>" or "offline:pocketsphinx-en-us"; None if none worked
    audio_seconds: float | None
    attempts: list[Attempt]

    @property
    def success(self) -> bool:
        return self.text is not None

    @property
    def error_message(self) -> str | None:
        failed = [a.error_message for a in self.attempts if not a.success and a.error_message]
        return "; ".join(failed) if failed else None


def cost_per_minute(
    model: str, audio_seconds: float | None, overrides: Mapping[str, Any] | None = None
) -> Decimal | None:
    """USD for this much audio with this model, 6 places; None when unpriced or unknown."""
    if audio_seconds is None:
        return None
    table: dict[str, Decimal | None] = dict(DEFAULT_MINUTE_PRICES)
    for name, value in (overrides or {}).items():
        table[str(name).strip().lower()] = None if value is None else Decimal(str(value))
    price = table.get(model.strip().lower())
    if price is None:
        return None
    return (price * Decimal(str(audio_seconds)) / Decimal(60)).quantize(
        Decimal("0.000001"), rounding=ROUND_HALF_UP
    )


def transcribe(audio_path: Path | str, settings: TranscriptionSettings) -> Result:
    """The words spoken in the file; see the module docstring for the order of engines."""
    path = Path(audio_path)
    duration_ms = probe_duration_ms(path)
    audio_seconds = duration_ms / 1000 if duration_ms is not None else None
    attempts: list[Attempt] = []
    if settings.server_enabled:
        attempt = _server(path, settings, audio_seconds)
        attempts.append(attempt)
        if attempt.success:
            return Result(attempt.text, f"server:{settings.model}", audio_seconds, attempts)
    if settings.offline or not settings.server_enabled:
        attempt = _offline(path, audio_seconds)
        attempts.append(attempt)
        if attempt.success:
            return Result(attempt.text, f"offline:{OFFLINE_MODEL}", audio_seconds, attempts)
    return Result(None, None, audio_seconds, attempts)


def _ms_since(start: float) -> int:
    return max(0, round((time.monotonic() - start) * 1000))


def _truncate(text: str) -> str:
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"


def _server(path: Path, settings: TranscriptionSettings, audio_seconds: float | None) -> Attempt:
    import openai

    attempt = Attempt(
        engine="server",
        model=settings.model,
        started_at=datetime.now(UTC),
        request={"endpoint": "audio/transcriptions", "audio_seconds": audio_seconds},
        attempts=0,
    )
    start = time.monotonic()
    client = openai.OpenAI(
        base_url=settings.base_url or None,
        api_key=settings.api_key,
        timeout=settings.timeout_seconds,
        max_retries=0,
    )
    extra: dict[str, Any] = {"language": settings.language} if settings.language else {}
    for number in range(max(0, settings.max_retries) + 1):
        attempt.attempts = number + 1
        retry = False
        try:
            with path.open("rb") as audio:
                reply = client.audio.transcriptions.create(
                    model=settings.model,
                    file=(path.name, audio, _content_type(path)),
                    response_format="json",
                    **extra,
                )
            text = getattr(reply, "text", None)
            if not isinstance(text, str):
                raise ValueError("the server's answer has no text")
            attempt.success, attempt.text = True, text.strip()
            attempt.error_type = attempt.error_message = attempt.status_code = None
            break
        except openai.APIStatusError as exc:
            attempt.status_code = exc.status_code
            attempt.error_type = "http_error"
            attempt.error_message = _truncate(f"{exc.status_code}: {exc.message}")
            retry = exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
        except openai.APITimeoutError:
            attempt.error_type = "timeout"
            attempt.error_message = f"No answer within {settings.timeout_seconds:g} s."
            retry = True
        except openai.APIConnectionError as exc:
            attempt.error_type = "connection_error"
            attempt.error_message = _truncate(f"Could not reach the server: {exc}")
            retry = True
        except (openai.OpenAIError, ValueError, OSError) as exc:
            attempt.error_type = "bad_response"
            attempt.error_message = _truncate(f"Unusable answer: {exc}")
        if not retry or number == settings.max_retries:
            break
        time.sleep(min(MAX_BACKOFF_SECONDS, 0.2 * (2**number)))
    attempt.latency_ms = _ms_since(start)
    if not attempt.success:
        log.warning("transcription server failed: %s", attempt.error_message)
    return attempt


def _content_type(path: Path) -> str:
    return {
        ".webm": "audio/webm",
        ".ogg": "audio/ogg",
        ".wav": "audio/wav",
        ".m4a": "audio/mp4",
        ".mp4": "audio/mp4",
    }.get(path.suffix.lower(), "application/octet-stream")


_decoder_lock = threading.Lock()
_decoder: Any = None


def _pocketsphinx_decoder() -> Any:
    """One decoder per process (loading the model takes a second); used under the lock."""
    global _decoder
    if _decoder is None:
        from pocketsphinx import Decoder

        _decoder = Decoder(samprate=16000, loglevel="FATAL", **DECODER_OPTIONS)
    return _decoder


def _offline(path: Path, audio_seconds: float | None) -> Attempt:
    attempt = Attempt(
        engine="offline",
        model=OFFLINE_MODEL,
        started_at=datetime.now(UTC),
        request={"engine": "pocketsphinx", "audio_seconds": audio_seconds},
    )
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="transcribe-") as folder:
            pcm = Path(folder) / "audio.raw"
            to_pcm16k(path, pcm)
            attempt.text = _recognise(pcm)
            attempt.success = True
    except AudioError as exc:
        attempt.error_type, attempt.error_message = "bad_audio", str(exc)
    except (RuntimeError, OSError, ValueError) as exc:
        attempt.error_type = "offline_error"
        attempt.error_message = _truncate(f"Offline recognition failed: {exc}")
    attempt.latency_ms = _ms_since(start)
    return attempt


def _recognise(pcm_path: Path) -> str:
    from pocketsphinx import Segmenter

    # A second of silence after the audio: the Segmenter drops a stretch of speech that runs
    # to the very end (a recording stopped mid-sentence) when the length falls on one of its
    # frame boundaries; trailing silence always closes the last stretch.
    stream = io.BytesIO(pcm_path.read_bytes() + TRAILING_SILENCE)
    words: list[str] = []
    with _decoder_lock:
        decoder = _pocketsphinx_decoder()
        segmenter = Segmenter(sample_rate=16000)
        for speech in segmenter.segment(stream):
            decoder.start_utt()
            decoder.process_raw(speech.pcm, full_utt=True)
            decoder.end_utt()
            hypothesis = decoder.hyp()
            if hypothesis is not None and hypothesis.hypstr.strip():
                words.append(hypothesis.hypstr.strip())
    return " ".join(words)
