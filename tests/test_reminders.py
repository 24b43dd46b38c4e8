"""Reminders: what is due, who gets it, sent once to a real SMTP server, and the command."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storyteller import reminders
from storyteller.local_time import format_local
from storyteller.models import MailMessage, ReminderDelivery, StorytellerAccess, utcnow
from tests.smtp_server import SmtpTestServer

BASE = "https://stories.example.org"


@pytest.fixture
def smtp():
    with SmtpTestServer(username="mailer", password="s3cret") as server:
        yield server


@pytest.fixture
def family(make_user, make_storyteller):
    """Alice (own sign-in, a contact address, Chicago) with a coordinator and a reviewer."""
    coordinator = make_user("coordinator", name="Cora Coordinator", email="cora@example.org")
    reviewer = make_user("reviewer", email="rita@example.org")
    alice_user = make_user("storyteller", name="Alice Smith", email="alice@example.org")
    alice = make_storyteller(user=alice_user, granted_to=(coordinator, reviewer))
    alice.time_zone = "America/Chicago"
    alice.contact_email = "daughter@example.org"
    return {"coordinator": coordinator, "alice": alice, "alice_user": alice_user}


def _config(smtp: SmtpTestServer | None = None, **extra):
    config = {"STORYTELLER_BASE_URL": BASE, "STORYTELLER_REMINDER_LEADS": "24,1"}
    config.update(smtp.config() if smtp else {"MAIL_BACKEND": "outbox"})
    config.update(extra)
    return config


def _deliveries(db_session, session_id):
    db_session.expire_all()
    return db_session.scalars(
        select(ReminderDelivery)
        .where(ReminderDelivery.session_id == session_id)
        .order_by(ReminderDelivery.recipient)
    ).all()


@pytest.mark.parametrize(
    ("raw", "expected"), [("24,1", [24, 1]), (" 1, 24 ,,", [24, 1]), ("48", [48]), ("", [])]
)
def test_parse_leads(raw, expected):
    assert reminders.parse_leads(raw) == expected


@pytest.mark.parametrize("raw", ["a day", "0", "-1", "1.5"])
def test_bad_leads_are_refused(raw):
    with pytest.raises(ValueError, match="STORYTELLER_REMINDER_LEADS"):
        reminders.parse_leads(raw)


def test_recipients_are_the_storyteller_and_granted_coordinators(db_session, family, make_user):
    inactive = make_user("coordinator", email="gone@example.org")
    inactive.is_active = False
    db_session.add(
        StorytellerAccess(
            storyteller_id=family["alice"].id, user_id=inactive.id, access_level="coordinator"
        )
    )
    family["alice"].contact_email = "ALICE@example.org"  # the same address twice: once
    db_session.flush()
    found = reminders.recipients_for(db_session, family["alice"])
    assert [(r.email, r.is_storyteller) for r in found] == [
        ("alice@example.org", True),
        ("cora@example.org", False),
    ]


def test_only_the_smallest_lead_a_session_is_within_is_due(db_session, family, make_session):
    now = utcnow()
    alice = family["alice"]
    in_30_min = make_session(
        alice, session_name="Half an hour", scheduled_at=now + timedelta(minutes=30)
    )
    in_10_h = make_session(alice, session_name="Tonight", scheduled_at=now + timedelta(hours=10))
    make_session(alice, session_name="Far", scheduled_at=now + timedelta(hours=30))
    make_session(alice, session_name="Past", scheduled_at=now - timedelta(minutes=5))
    make_session(
        alice, session_name="Cancelled", scheduled_at=now + timedelta(hours=2), status="cancelled"
    )
    make_session(
        alice, session_name="Paused", scheduled_at=now + timedelta(hours=2), status="paused"
    )
    make_session(alice, session_name="No time")
    due = reminders.due_reminders(db_session, _config(), now=now)
    found = {(d.session.session_name, d.lead) for d in due}
    assert found == {("Half an hour", "1h"), ("Tonight", "24h")}
    assert len([d for d in due if d.session.id == in_30_min.id]) == 3  # three recipients
    assert len([d for d in due if d.session.id == in_10_h.id]) == 3


def test_a_reminder_is_sent_once_to_each_recipient(db_session, family, make_session, smtp):
    now = utcnow()
    session = make_session(
        family["alice"],
        session_name="School days",
        scheduled_at=now + timedelta(hours=5),
        scheduled_duration_minutes=45,
    )
    first = reminders.send_due_reminders(db_session, _config(smtp), now=now)
    assert (first.sent, first.skipped, first.failed) == (3, 0, 0)
    second = reminders.send_due_reminders(db_session, _config(smtp), now=now + timedelta(minutes=5))
    assert (second.sent, second.skipped, second.failed) == (0, 3, 0)
    for address in ("alice@example.org", "daughter@example.org", "cora@example.org"):
        assert len(smtp.to(address)) == 1, address
    assert len(smtp.messages) == 3
    assert all(m.authenticated_as == "mailer" for m in smtp.messages)
    rows = _deliveries(db_session, session.id)
    assert [(r.recipient, r.lead, r.status) for r in rows] == [
        ("alice@example.org", "24h", "sent"),
        ("cora@example.org", "24h", "sent"),
        ("daughter@example.org", "24h", "sent"),
    ]
    assert all(r.scheduled_for == session.scheduled_at and r.mail_message_id for r in rows)
    kept = db_session.get(MailMessage, rows[0].mail_message_id)
    assert kept.kind == "reminder" and kept.session_id == session.id and kept.status == "sent"


def test_the_reminder_says_what_when_how_long_and_where(db_session, family, make_session, smtp):
    now = utcnow()
    session = make_session(
        family["alice"],
        session_name="School days",
        intention="Remember the first teacher",
        scheduled_at=now + timedelta(minutes=40),
        scheduled_duration_minutes=45,
    )
    reminders.send_due_reminders(db_session, _config(smtp), now=now)
    [own] = smtp.to("alice@example.org")
    [coordinator] = smtp.to("cora@example.org")
    when = format_local(session.scheduled_at, "America/Chicago")
    assert "School days" in own.subject
    text = own.text
    assert text.startswith("Hello Alice Smith,")
    assert "Remember the first teacher" in text
    assert f"When: {when}" in text and "(America/Chicago)" in text
    assert "How long: about 45 minutes" in text
    assert f"{BASE}/interview/{session.id}" in text
    assert "soon" in text
    assert "Alice Smith's session" in coordinator.subject
    assert coordinator.text.startswith("Hello Cora Coordinator,")
    assert f"{BASE}/sessions/{session.id}" in coordinator.text
    assert "/interview/" not in coordinator.text


def test_the_one_hour_reminder_follows_the_day_before_one(db_session, family, make_session, smtp):
    now = utcnow()
    session = make_session(family["alice"], scheduled_at=now + timedelta(hours=20))
    reminders.send_due_reminders(db_session, _config(smtp), now=now)
    later = session.scheduled_at - timedelta(minutes=50)
    report = reminders.send_due_reminders(db_session, _config(smtp), now=later)
    assert report.sent == 3
    assert sorted(r.lead for r in _deliveries(db_session, session.id)) == ["1h"] * 3 + ["24h"] * 3
    assert len(smtp.to("alice@example.org")) == 2


def test_a_rescheduled_session_is_reminded_again(db_session, family, make_session, smtp):
    now = utcnow()
    session = make_session(family["alice"], scheduled_at=now + timedelta(hours=6))
    reminders.send_due_reminders(db_session, _config(smtp), now=now)
    session = db_session.get(type(session), session.id)
    session.scheduled_at = now + timedelta(hours=8)
    db_session.commit()
    report = reminders.send_due_reminders(db_session, _config(smtp), now=now)
    assert (report.sent, report.skipped) == (3, 0)
    assert len(smtp.to("alice@example.org")) == 2
    assert len({r.scheduled_for for r in _deliveries(db_session, session.id)}) == 2


def test_a_cancelled_session_gets_no_reminder(db_session, family, make_session, smtp):
    now = utcnow()
    session = make_session(family["alice"], scheduled_at=now + timedelta(hours=20))
    reminders.send_due_reminders(db_session, _config(smtp), now=now)
    assert len(smtp.messages) == 3
    session = db_session.get(type(session), session.id)
    session.status = "cancelled"
    db_session.commit()
    report = reminders.send_due_reminders(
        db_session, _config(smtp), now=session.scheduled_at - timedelta(minutes=30)
    )
    assert (report.sent, report.skipped, report.failed) == (0, 0, 0)
    assert len(smtp.messages) == 3


def test_a_failed_send_is_recorded_and_retried_on_the_next_run(db_session, family, make_session):
    now = utcnow()
    session = make_session(family["alice"], scheduled_at=now + timedelta(hours=3))
    with SmtpTestServer(refuse=True) as broken:
        report = reminders.send_due_reminders(db_session, _config(broken), now=now)
    assert (report.sent, report.skipped, report.failed) == (0, 0, 3)
    rows = _deliveries(db_session, session.id)
    assert {r.status for r in rows} == {"failed"}
    assert all("554" in r.error_message for r in rows)
    failed_mail = db_session.get(MailMessage, rows[0].mail_message_id)
    assert failed_mail.status == "failed" and "554" in failed_mail.error_message
    with SmtpTestServer() as working:
        retry = reminders.send_due_reminders(db_session, _config(working), now=now)
        again = reminders.send_due_reminders(db_session, _config(working), now=now)
        assert len(working.messages) == 3
    assert (retry.sent, retry.failed) == (3, 0)
    assert (again.sent, again.skipped) == (0, 3)
    rows = _deliveries(db_session, session.id)
    assert len(rows) == 3 and {r.status for r in rows} == {"sent"}
    assert all(r.error_message is None for r in rows)


def test_outbox_backend_keeps_reminders_without_sending(db_session, family, make_session):
    now = utcnow()
    session = make_session(family["alice"], scheduled_at=now + timedelta(hours=2))
    report = reminders.send_due_reminders(db_session, _config(), now=now)
    assert report.sent == 3
    kept = db_session.scalars(select(MailMessage).where(MailMessage.session_id == session.id)).all()
    assert {m.backend for m in kept} == {"outbox"}
    assert {m.to_address for m in kept} == {
        "alice@example.org",
        "daughter@example.org",
        "cora@example.org",
    }


def test_a_storyteller_without_any_address_gets_nothing_but_coordinators_do(
    db_session, make_user, make_storyteller, make_session
):
    coordinator = make_user("coordinator", email="solo-coordinator@example.org")
    storyteller = make_storyteller(display_name="No email", granted_to=(coordinator,))
    make_session(storyteller, scheduled_at=utcnow() + timedelta(hours=2))
    due = reminders.due_reminders(db_session, _config())
    assert [d.recipient.email for d in due] == ["solo-coordinator@example.org"]


def test_flask_send_reminders_prints_counts(runner, app, family, make_session, smtp, monkeypatch):
    for key, value in _config(smtp).items():
        monkeypatch.setitem(app.config, key, value)
    make_session(family["alice"], scheduled_at=utcnow() + timedelta(hours=4))
    result = runner.invoke(args=["send-reminders"])
    assert result.exit_code == 0, result.output
    assert "Reminders sent: 3, skipped: 0, failed: 0" in result.output
    result = runner.invoke(args=["send-reminders"])
    assert result.exit_code == 0, result.output
    assert "Reminders sent: 0, skipped: 3, failed: 0" in result.output
    assert len(smtp.messages) == 3


def test_flask_send_reminders_fails_loudly_on_errors(
    runner, app, family, make_session, monkeypatch
):
    with SmtpTestServer(refuse=True) as broken:
        for key, value in _config(broken).items():
            monkeypatch.setitem(app.config, key, value)
        make_session(family["alice"], scheduled_at=utcnow() + timedelta(hours=4))
        result = runner.invoke(args=["send-reminders"])
    assert result.exit_code == 1
    assert "Reminders sent: 0, skipped: 0, failed: 3" in result.output
    monkeypatch.setitem(app.config, "STORYTELLER_REMINDER_LEADS", "tomorrow")
    result = runner.invoke(args=["send-reminders"])
    assert result.exit_code == 1 and "STORYTELLER_REMINDER_LEADS" in result.output
