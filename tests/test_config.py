"""Configuration from the environment and the SQLite settings every connection gets."""

from __future__ import annotations

from sqlalchemy import text

from storyteller import create_app
from storyteller.extensions import db


def _app(tmp_path, monkeypatch, **env):
    for name in ("DATABASE_URL", "SECRET_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return create_app({"INSTANCE_PATH": str(tmp_path / "instance")})


def test_defaults_need_no_setup_and_secret_key_is_kept(tmp_path, monkeypatch):
    first = _app(tmp_path, monkeypatch)
    assert first.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert str(tmp_path / "instance") in first.config["SQLALCHEMY_DATABASE_URI"]
    assert first.config["OPENAI_API_KEY"] is None
    key = first.config["SECRET_KEY"]
    assert len(key) >= 32
    second = _app(tmp_path, monkeypatch)
    assert second.config["SECRET_KEY"] == key  # restarts keep people signed in
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0
    for app in (first, second):
        with app.app_context():
            db.engine.dispose()


def test_environment_overrides(tmp_path, monkeypatch):
    app = _app(
        tmp_path,
        monkeypatch,
        SECRET_KEY="from-the-environment",
        DATABASE_URL="postgresql://someone@db.example/storyteller",
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL="http://127.0.0.1:11434/v1",
        STORYTELLER_LLM_MODEL="llama3.1:8b",
    )
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert app.config["OPENAI_BASE_URL"] == "http://127.0.0.1:11434/v1"
    assert app.config["STORYTELLER_LLM_MODEL"] == "llama3.1:8b"
    assert not (tmp_path / "instance" / "secret_key").exists()
    with app.app_context():
        db.engine.dispose()


def test_sqlite_connections_have_foreign_keys_wal_full_sync_and_busy_timeout(tmp_path, monkeypatch):
    app = _app(tmp_path, monkeypatch)
    with app.app_context(), db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    with app.app_context():
        db.engine.dispose()
