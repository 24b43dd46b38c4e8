"""Admin trace view of one session's turns, and its LLM calls as OpenTelemetry JSONL."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("traces", __name__, url_prefix="/admin/traces")
