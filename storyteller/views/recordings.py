"""Voice answers: chunked upload while recording, assembly, transcription, playback."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("recordings", __name__)
