"""mail.py: the outbox backend, real SMTP (with AUTH) to aiosmtpd, failures kept on the row."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storyteller import mail
from storyteller.models import MailMessage
from tests.smtp_server import SmtpTestServer, free_port


def _settings(**config):
    return mail.settings_from_config(config)


def test_outbox_backend_only_keeps_the_message(db_session):
    settings = _settings(MAIL_BACKEND="outbox")
    row = mail.send_mail(
        db_session,
        settings,
        to="Alice <alice@example.org>",
        subject="Hello\r\nBcc: evil@example.org",
        body_text="Body",
        kind="test",
    )
    assert row.status == "sent" and row.backend == "outbox" and row.sent_at is not None
    assert row.to_address == "Alice <alice@example.org>"
    assert "\n" not in row.subject and "\r" not in row.subject
    assert db_session.scalar(select(MailMessage).where(MailMessage.id == row.id)) is row


def test_outbox_is_the_default_without_a_host():
    assert _settings().backend == "outbox"
    assert _settings(MAIL_BACKEND="smtp", SMTP_HOST="mail.example.org").port == 587


@pytest.mark.parametrize(
    "config",
    [
        {"MAIL_BACKEND": "pigeon"},
        {"MAIL_BACKEND": "smtp"},
        {"MAIL_BACKEND": "smtp", "SMTP_HOST": "x", "SMTP_TLS": "maybe"},
    ],
)
def test_bad_mail_configuration_is_refused(config):
    with pytest.raises(ValueError):
        _settings(**config)


def test_a_bad_address_is_refused(db_session):
    with pytest.raises(ValueError):
        mail.send_mail(db_session, _settings(), to="not an address", subject="s", body_text="b")


def test_smtp_with_auth_delivers_to_a_real_server(db_session):
    with SmtpTestServer(username="mailer", password="s3cret") as smtp:
        settings = _settings(**smtp.config())
        row = mail.send_mail(
            db_session,
            settings,
            to="bob@example.org",
            subject="A test",
            body_text="Hello Bob,\n\nSee you soon.",
            kind="test",
        )
        assert row.status == "sent" and row.backend == "smtp" and row.error_message is None
        [received] = smtp.messages
    assert received.rcpt_tos == ["bob@example.org"]
    assert received.authenticated_as == "mailer"
    assert received.subject == "A test"
    assert "See you soon." in received.text
    assert received.message["From"] == "Storyteller <storyteller@example.org>"
    assert str(row.id) in received.message["Message-ID"]


def test_smtp_without_credentials_sends_unauthenticated(db_session):
    with SmtpTestServer() as smtp:
        config = smtp.config()
        row = mail.send_mail(
            db_session, _settings(**config), to="c@example.org", subject="s", body_text="b"
        )
        assert row.status == "sent"
        assert smtp.messages[0].authenticated_as is None


def test_wrong_password_is_recorded_as_failed(db_session):
    with SmtpTestServer(username="mailer", password="s3cret") as smtp:
        settings = _settings(**smtp.config(SMTP_PASSWORD="wrong"))
        row = mail.send_mail(db_session, settings, to="d@example.org", subject="s", body_text="b")
        assert smtp.messages == []
    assert row.status == "failed" and row.sent_at is None
    assert "SMTPAuthenticationError" in row.error_message


def test_refused_message_is_recorded_and_raised_when_asked(db_session):
    with SmtpTestServer(refuse=True) as smtp:
        settings = _settings(**smtp.config())
        row = mail.send_mail(db_session, settings, to="e@example.org", subject="s", body_text="b")
        assert row.status == "failed" and "554" in row.error_message
        with pytest.raises(mail.MailError):
            mail.send_mail(
                db_session,
                settings,
                to="e@example.org",
                subject="s",
                body_text="b",
                raise_on_failure=True,
            )
    failed = db_session.scalars(
        select(MailMessage).where(MailMessage.to_address == "e@example.org")
    ).all()
    assert [m.status for m in failed] == ["failed", "failed"]


def test_starttls_required_but_not_offered_never_sends_in_the_clear(db_session):
    with SmtpTestServer(username="mailer", password="s3cret") as smtp:
        settings = _settings(**smtp.config(SMTP_TLS="starttls"))
        row = mail.send_mail(db_session, settings, to="f@example.org", subject="s", body_text="b")
        assert smtp.messages == []
    assert row.status == "failed" and "STARTTLS" in row.error_message


def test_unreachable_server_is_recorded_as_failed(db_session):
    settings = _settings(
        MAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=free_port(),
        SMTP_TLS="none",
        SMTP_TIMEOUT=2,
    )
    row = mail.send_mail(db_session, settings, to="g@example.org", subject="s", body_text="b")
    assert row.status == "failed" and "ConnectionRefusedError" in row.error_message
