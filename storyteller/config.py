"""Configuration read from the environment when the app is created (never at import)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any


def _load_secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the instance folder."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def from_environment(instance_path: Path) -> dict[str, Any]:
    """The settings of one app instance, from environment variables with safe defaults."""
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'storyteller.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    prices_raw = os.environ.get("STORYTELLER_MODEL_PRICES")
    return {
        "SECRET_KEY": _load_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY") or None,
        "OPENAI_BASE_URL": os.environ.get("OPENAI_BASE_URL") or None,
        "STORYTELLER_LLM_MODEL": os.environ.get("STORYTELLER_LLM_MODEL", "gpt-4o-mini"),
        "STORYTELLER_LLM_TIMEOUT": float(os.environ.get("STORYTELLER_LLM_TIMEOUT", "20")),
        "STORYTELLER_DAILY_TOKEN_BUDGET": _int("STORYTELLER_DAILY_TOKEN_BUDGET", 200_000),
        "STORYTELLER_MODEL_PRICES": json.loads(prices_raw) if prices_raw else {},
        "LOGIN_RATE_LIMIT_ATTEMPTS": _int("LOGIN_RATE_LIMIT_ATTEMPTS", 5),
        "LOGIN_RATE_LIMIT_WINDOW_SECONDS": _int("LOGIN_RATE_LIMIT_WINDOW_SECONDS", 15 * 60),
        "LOGIN_RATE_LIMIT_PER_ADDRESS": _int("LOGIN_RATE_LIMIT_PER_ADDRESS", 20),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PREFERRED_URL_SCHEME": os.environ.get("PREFERRED_URL_SCHEME", "http"),
        # A storyteller may spend an hour writing one answer: the CSRF token is tied
        # to the signed-in session and does not expire on its own.
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": False,
        "MAX_CONTENT_LENGTH": _int("STORYTELLER_MAX_UPLOAD_BYTES", 64 * 1024 * 1024),
        # One photo (counted while it is read; storyteller/photos.py).
        "PHOTO_MAX_BYTES": _int("STORYTELLER_PHOTO_MAX_BYTES", 30 * 1024 * 1024),
        # Voice answers (storyteller/recordings.py): one uploaded piece, one recording, length.
        "STORYTELLER_RECORDING_MAX_CHUNK_BYTES": _int(
            "STORYTELLER_RECORDING_MAX_CHUNK_BYTES", 2 * 1024 * 1024
        ),
        "STORYTELLER_RECORDING_MAX_BYTES": _int("STORYTELLER_RECORDING_MAX_BYTES", 200 * 1024**2),
        "STORYTELLER_RECORDING_MAX_MINUTES": _int("STORYTELLER_RECORDING_MAX_MINUTES", 60),
        # Transcription through the LLM server's /audio/transcriptions (offline without one).
        "STORYTELLER_TRANSCRIPTION_MODEL": os.environ.get(
            "STORYTELLER_TRANSCRIPTION_MODEL", "whisper-1"
        ),
        "STORYTELLER_TRANSCRIPTION_TIMEOUT": float(
            os.environ.get("STORYTELLER_TRANSCRIPTION_TIMEOUT", "120")
        ),
        "STORYTELLER_TRANSCRIPTION_RETRIES": _int("STORYTELLER_TRANSCRIPTION_RETRIES", 1),
        # USD per minute of audio, JSON {"model": price}, over agent/transcription.py's table.
        "STORYTELLER_TRANSCRIPTION_PRICES": json.loads(
            os.environ.get("STORYTELLER_TRANSCRIPTION_PRICES") or "{}"
        ),
        "STORYTELLER_ENV": os.environ.get("STORYTELLER_ENV", "development"),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "STORYTELLER_TASKS_IMMEDIATE": _int("STORYTELLER_TASKS_IMMEDIATE", 0) != 0,
        "STORYTELLER_PROXY_FIX": os.environ.get("STORYTELLER_PROXY_FIX", "") not in ("", "0"),
        # /metrics answers a request carrying "Authorization: Bearer <METRICS_TOKEN>", or one
        # from this machine (127.0.0.1 / ::1) that no proxy forwarded; everyone else gets 404.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
        # "json": one JSON object per log line (the default in production); "text" otherwise.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT")
        or ("json" if os.environ.get("STORYTELLER_ENV") == "production" else "text"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # Mail: "smtp" sends through SMTP_HOST; "outbox" (the default when no host is set)
        # only keeps each message in the mail_message table, shown on /outbox.
        "MAIL_BACKEND": os.environ.get("MAIL_BACKEND")
        or ("smtp" if os.environ.get("SMTP_HOST") else "outbox"),
        "SMTP_HOST": os.environ.get("SMTP_HOST") or None,
        "SMTP_PORT": _int("SMTP_PORT", 587),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME") or None,
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD") or None,
        # "starttls" (port 587), "ssl" (port 465) or "none" (a relay on localhost)
        "SMTP_TLS": os.environ.get("SMTP_TLS", "starttls"),
        "SMTP_TIMEOUT": float(os.environ.get("SMTP_TIMEOUT", "20")),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Storyteller <storyteller@localhost>"),
        # Public address of the app, for links in emails (invitations, reminders).
        "STORYTELLER_BASE_URL": os.environ.get("STORYTELLER_BASE_URL", "http://127.0.0.1:5000"),
        # Hours before a session that reminders go out, comma-separated.
        "STORYTELLER_REMINDER_LEADS": os.environ.get("STORYTELLER_REMINDER_LEADS", "24,1"),
        "STORYTELLER_INVITATION_DAYS": _int("STORYTELLER_INVITATION_DAYS", 7),
        # Retention of operational records in days (seed 004; see storyteller/retention.py).
        "RETENTION_MESSAGES_DAYS": _int("RETENTION_MESSAGES_DAYS", 183),
        "RETENTION_ERRORS_DAYS": _int("RETENTION_ERRORS_DAYS", 183),
        "RETENTION_SESSIONS_DAYS": _int("RETENTION_SESSIONS_DAYS", 365),
        "RETENTION_USAGE_DAYS": _int("RETENTION_USAGE_DAYS", 730),
    }
