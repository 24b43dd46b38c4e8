"""Two reminder runs at once never send the same reminder twice.

These tests need committed data seen by several connections, so each builds its own
database (a temporary SQLite file, or a fresh PostgreSQL database) instead of the shared
rolled-back ``db_session``: two threads, each with its own app and session, and two real
``flask send-reminders`` processes, all sending to one aiosmtpd server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from storyteller import accounts, create_app, reminders
from storyteller.extensions import db
from storyteller.models import (
    MailMessage,
    ReminderDelivery,
    Session,
    Storyteller,
    StorytellerAccess,
    utcnow,
)
from tests import conftest
from tests.smtp_server import SmtpTestServer

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = 4
RECIPIENTS = 3  # the storyteller, their contact address, one coordinator


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'reminders.db'}"
        return
    url = conftest.create_postgres_database("storyteller_reminders")
    yield url
    conftest.drop_postgres_database(url)


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer(username="mailer", password="s3cret") as server:
        yield server


def _app(url: str, instance: Path, smtp: SmtpTestServer) -> Flask:
    return create_app(
        conftest.test_config(
            url,
            str(instance),
            STORYTELLER_BASE_URL="https://stories.example.org",
            STORYTELLER_REMINDER_LEADS="24,1",
            **smtp.config(),
        )
    )


@pytest.fixture
def seeded(committed_url, tmp_path, smtp) -> Iterator[str]:
    """The schema and SESSIONS sessions a few hours ahead, committed; yields the URL."""
    app = _app(committed_url, tmp_path / "seed", smtp)
    with app.app_context():
        db.create_all()
        coordinator = accounts.create_user(
            db.session,
            email="cora@example.org",
            name="Cora",
            role="coordinator",
            password="correct horse battery",
        )
        own = accounts.create_user(
            db.session,
            email="alice@example.org",
            name="Alice",
            role="storyteller",
            password="correct horse battery",
        )
        alice = Storyteller(display_name="Alice", user_id=own.id, contact_email="son@example.org")
        db.session.add(alice)
        db.session.flush()
        db.session.add(
            StorytellerAccess(
                storyteller_id=alice.id, user_id=coordinator.id, access_level="coordinator"
            )
        )
        for hour in range(SESSIONS):
            db.session.add(
                Session(
                    storyteller_id=alice.id,
                    intention=f"Story number {hour}",
                    scheduled_at=utcnow() + timedelta(hours=hour + 2),
                )
            )
        db.session.commit()
    yield committed_url
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def _check_sent_once(url: str, tmp_path: Path, smtp: SmtpTestServer) -> None:
    pairs = Counter((m.rcpt_tos[0], m.message["Subject"]) for m in smtp.messages)
    assert len(smtp.messages) == SESSIONS * RECIPIENTS
    assert set(pairs.values()) == {1}, pairs
    app = _app(url, tmp_path / "check", smtp)
    with app.app_context():
        rows = db.session.scalars(select(ReminderDelivery)).all()
        assert len(rows) == SESSIONS * RECIPIENTS
        assert {r.status for r in rows} == {"sent"}
        mails = db.session.scalars(select(MailMessage)).all()
        assert len(mails) == SESSIONS * RECIPIENTS
        db.session.remove()
        db.engine.dispose()


def test_two_runs_at_once_in_threads_send_each_reminder_once(seeded, tmp_path, smtp):
    apps = [_app(seeded, tmp_path / f"app{i}", smtp) for i in range(2)]
    barrier = threading.Barrier(2)
    reports: list[reminders.ReminderReport] = []
    errors: list[BaseException] = []

    def run(app: Flask) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                reports.append(reminders.send_due_reminders(db.session, app.config))
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for app in apps:
        with app.app_context():
            db.engine.dispose()
    assert not errors, errors
    assert sum(r.sent for r in reports) == SESSIONS * RECIPIENTS
    assert sum(r.skipped for r in reports) == SESSIONS * RECIPIENTS
    assert sum(r.failed for r in reports) == 0
    _check_sent_once(seeded, tmp_path, smtp)


def test_a_claim_taken_by_another_run_is_skipped(seeded, tmp_path, smtp, monkeypatch):
    """The run that read 'nothing sent yet' but lost the INSERT race skips, sends nothing."""
    first = _app(seeded, tmp_path / "first", smtp)
    with first.app_context():
        assert reminders.send_due_reminders(db.session, first.config).sent == SESSIONS * RECIPIENTS
        db.session.remove()
        db.engine.dispose()
    # As if the second run had read the deliveries before the first committed its claims.
    monkeypatch.setattr(reminders, "_already_claimed", lambda db_session, ids: {})
    second = _app(seeded, tmp_path / "second", smtp)
    with second.app_context():
        report = reminders.send_due_reminders(db.session, second.config)
        db.session.remove()
        db.engine.dispose()
    assert (report.sent, report.skipped, report.failed) == (0, SESSIONS * RECIPIENTS, 0)
    _check_sent_once(seeded, tmp_path, smtp)


def test_two_flask_send_reminders_processes_at_once(seeded, tmp_path, smtp):
    env = {
        **os.environ,
        "DATABASE_URL": seeded,
        "SECRET_KEY": "test-secret-key",
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_TLS": "none",
        "SMTP_USERNAME": "mailer",
        "SMTP_PASSWORD": "s3cret",
        "STORYTELLER_REMINDER_LEADS": "24,1",
        "OPENAI_API_KEY": "",
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "send-reminders"]
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    sent = skipped = 0
    for output in outputs:
        line = next(x for x in output.splitlines() if x.startswith("Reminders sent:"))
        parts = dict(
            part.strip().split(": ") for part in line.removeprefix("Reminders ").split(",")
        )
        sent += int(parts["sent"])
        skipped += int(parts["skipped"])
        assert parts["failed"] == "0"
    assert (sent, skipped) == (SESSIONS * RECIPIENTS, SESSIONS * RECIPIENTS)
    _check_sent_once(seeded, tmp_path, smtp)
