"""Invitations: the email in the outbox with a working link, single use, expiry, revocation on
re-send, and two people accepting the same link at the same moment (only one gets in)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from storyteller import create_app, invitations, roster
from storyteller.extensions import db
from storyteller.models import Invitation, MailMessage, User, utcnow
from tests.conftest import (
    PASSWORD,
    IsolatedClient,
    create_postgres_database,
    drop_postgres_database,
    sign_in,
)
from tests.conftest import (
    test_config as app_config,
)

NEW_PASSWORD = "roses by the back door"


@pytest.fixture
def settings(app):
    return invitations.settings_from_config(
        {**app.config, "MAIL_BACKEND": "outbox", "STORYTELLER_BASE_URL": "https://story.example"}
    )


@pytest.fixture
def invited(db_session, make_user):
    """A storyteller with their own (inactive) sign-in, added by Cora."""
    coordinator = make_user("coordinator", name="Cora Coordinator")
    details = roster.validate_details(
        {
            "display_name": "Margaret Ellis",
            "time_zone": "Europe/Dublin",
            "contact_email": "margaret@example.org",
        }
    )
    storyteller = roster.create_storyteller(
        db_session, details, created_by=coordinator, with_sign_in=True
    )
    return coordinator, storyteller


def _token_from(body: str) -> str:
    match = re.search(r"https://story\.example/invitations/(\S+)", body)
    assert match, body
    return match.group(1)


def test_the_email_lands_in_the_outbox_with_a_working_link(db_session, client, invited, settings):
    coordinator, storyteller = invited
    invitation, token = invitations.send_invitation(
        db_session, storyteller, invited_by=coordinator, settings=settings
    )
    message = db_session.scalar(select(MailMessage).where(MailMessage.kind == "invitation"))
    assert message.to_address == "margaret@example.org"
    assert message.status == "sent"
    assert "Cora Coordinator" in message.subject
    body = message.body_text
    assert "Hello Margaret Ellis" in body
    assert "Cora Coordinator has invited you to Storyteller" in body
    assert "tell the story of your life" in body
    assert "(Europe/Dublin)" in body  # the expiry, in their own time zone
    assert _token_from(body) == token
    # Only the hash is kept.
    assert invitation.token_hash == invitations.hash_token(token)
    assert token not in (invitation.token_hash, invitation.email)
    assert invitation.expires_at - invitation.created_at == timedelta(days=settings.days)

    page = client.get(urlsplit(f"https://story.example/invitations/{token}").path)
    assert page.status_code == 200
    assert "Choose a password" in page.get_data(as_text=True)


def test_accepting_sets_the_password_activates_and_signs_in(db_session, client, invited, settings):
    coordinator, storyteller = invited
    invitation, token = invitations.send_invitation(
        db_session, storyteller, invited_by=coordinator, settings=settings
    )
    user = storyteller.user
    assert user.is_active is False
    assert sign_in(client, user, NEW_PASSWORD).status_code == 401

    response = client.post(
        f"/invitations/{token}",
        data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Hello, Margaret Ellis" in home.get_data(as_text=True)

    db_session.expire_all()
    assert db_session.get(User, user.id).is_active is True
    assert db_session.get(Invitation, invitation.id).used_at is not None
    client.post("/sign-out")
    assert sign_in(client, user, NEW_PASSWORD).status_code == 303


def test_the_link_never_works_twice(db_session, client, invited, settings):
    coordinator, storyteller = invited
    _, token = invitations.send_invitation(
        db_session, storyteller, invited_by=coordinator, settings=settings
    )
    form = {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    assert client.post(f"/invitations/{token}", data=form).status_code == 303
    client.post("/sign-out")
    for method in ("GET", "POST"):
        again = client.open(f"/invitations/{token}", method=method, data=form)
        assert again.status_code == 410, method
        text = again.get_data(as_text=True)
        assert "already been used" in text
        assert "ask your coordinator" in text
    with pytest.raises(invitations.InvitationGone) as gone:
        invitations.accept_invitation(
            db_session, token, password="another password", confirm="another password"
        )
    assert gone.value.reason == "used"


def test_an_expired_link_is_gone(db_session, client, invited, settings):
    coordinator, storyteller = invited
    invitation, token = invitations.send_invitation(
        db_session, storyteller, invited_by=coordinator, settings=settings
    )
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db_session.flush()
    assert invitations.status_of(invitation) == "expired"
    page = client.get(f"/invitations/{token}")
    assert page.status_code == 410
    assert "run out" in page.get_data(as_text=True)
    form = {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    assert client.post(f"/invitations/{token}", data=form).status_code == 410
    # Even with a bad password the page says the link is gone, not "fix the password".
    assert client.post(f"/invitations/{token}", data={"password": "x"}).status_code == 410
    db_session.expire_all()
    assert db_session.get(User, storyteller.user_id).is_active is False


def test_an_unknown_link_is_not_found(client):
    for method in ("GET", "POST"):
        response = client.open(
            "/invitations/no-such-token",
            method=method,
            data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        )
        assert response.status_code == 404
        assert "could not find this sign-in link" in response.get_data(as_text=True)
    assert client.get("/invitations/" + "x" * 500).status_code == 404


def test_sending_again_revokes_the_earlier_unused_links(db_session, client, invited, settings):
    coordinator, storyteller = invited
    first, first_token = invitations.send_invitation(
        db_session, storyteller, invited_by=coordinator, settings=settings
    )
    second, second_token = invitations.send_invitation(
        db_session, storyteller, invited_by=coordinator, settings=settings
    )
    db_session.expire_all()
    assert invitations.status_of(db_session.get(Invitation, first.id)) == "revoked"
    assert invitations.status_of(db_session.get(Invitation, second.id)) == "sent"
    assert client.get(f"/invitations/{first_token}").status_code == 410
    assert "newer sign-in link" in client.get(f"/invitations/{first_token}").get_data(as_text=True)
    assert client.get(f"/invitations/{second_token}").status_code == 200
    assert len(db_session.scalars(select(MailMessage)).all()) == 2
    status = invitations.latest_invitation_status(db_session, storyteller)
    assert status.invitation.id == second.id and status.status == "sent"


@pytest.mark.parametrize(
    ("password", "confirm", "field", "words"),
    [
        ("short", "short", "password", "at least 8"),
        (NEW_PASSWORD, "something else", "confirm_password", "not the same"),
    ],
)
def test_a_bad_password_is_refused_and_the_link_still_works(
    db_session, client, invited, settings, password, confirm, field, words
):
    coordinator, storyteller = invited
    invitation, token = invitations.send_invitation(
        db_session, storyteller, invited_by=coordinator, settings=settings
    )
    response = client.post(
        f"/invitations/{token}", data={"password": password, "confirm_password": confirm}
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert words in text
    assert f'id="{field}-error"' in text
    assert f'aria-describedby="{field}-error"' in text or f'{field}-error"' in text
    db_session.expire_all()
    assert db_session.get(Invitation, invitation.id).used_at is None
    assert client.get(f"/invitations/{token}").status_code == 200


def test_inviting_a_storyteller_without_a_sign_in_makes_their_account(
    db_session, make_user, make_storyteller, settings
):
    coordinator = make_user("coordinator")
    storyteller = make_storyteller(display_name="Tom Byrne", granted_to=(coordinator,))
    with pytest.raises(invitations.InvitationError) as refused:
        invitations.send_invitation(
            db_session, storyteller, invited_by=coordinator, settings=settings
        )
    assert refused.value.field == "email"
    make_user("reviewer", email="taken@example.org")
    with pytest.raises(invitations.InvitationError, match="already signs in"):
        invitations.send_invitation(
            db_session,
            storyteller,
            invited_by=coordinator,
            settings=settings,
            email="taken@example.org",
        )
    invitation, _ = invitations.send_invitation(
        db_session, storyteller, invited_by=coordinator, settings=settings, email="Tom@Example.org"
    )
    assert storyteller.user.email == "tom@example.org"
    assert storyteller.user.is_active is False
    assert invitation.email == "tom@example.org"


def test_a_signed_in_coordinator_who_follows_the_link_becomes_the_storyteller(
    db_session, client, invited, settings
):
    coordinator, storyteller = invited
    _, token = invitations.send_invitation(
        db_session, storyteller, invited_by=coordinator, settings=settings
    )
    assert sign_in(client, coordinator, PASSWORD).status_code == 303
    response = client.post(
        f"/invitations/{token}", data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    assert response.status_code == 303
    assert "Hello, Margaret Ellis" in client.get("/").get_data(as_text=True)


# ------------------------------------------------------ two accepts at the same moment


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_app(request, tmp_path):
    """An app on its own database whose data is really committed (no test rollback)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'concurrent.db'}"
    else:
        url = create_postgres_database("storyteller_invitations")
    app = create_app(app_config(url, str(tmp_path / "instance"), MAIL_BACKEND="outbox"))
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if request.param == "postgresql":
        drop_postgres_database(url)


def test_two_concurrent_accepts_only_one_gets_in(committed_app):
    with committed_app.app_context():
        from storyteller import accounts

        coordinator = accounts.create_user(
            db.session,
            email="cora@example.org",
            name="Cora",
            role="coordinator",
            password=PASSWORD,
        )
        storyteller = roster.create_storyteller(
            db.session,
            roster.validate_details(
                {
                    "display_name": "Margaret",
                    "time_zone": "UTC",
                    "contact_email": "margaret@example.org",
                }
            ),
            created_by=coordinator,
            with_sign_in=True,
        )
        invitation, token = invitations.send_invitation(
            db.session,
            storyteller,
            invited_by=coordinator,
            settings=invitations.settings_from_config(committed_app.config),
        )
        invitation_id = invitation.id
        db.session.commit()

    barrier = threading.Barrier(2)
    results: dict[str, int] = {}
    passwords = {"first": "first person's password", "second": "second person's password"}

    def attempt(name: str) -> None:
        client = committed_app.test_client()
        barrier.wait(timeout=10)
        response = client.post(
            f"/invitations/{token}",
            data={"password": passwords[name], "confirm_password": passwords[name]},
        )
        results[name] = response.status_code

    threads = [threading.Thread(target=attempt, args=(name,)) for name in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results.values()) == [303, 410], results

    winner = next(name for name, status in results.items() if status == 303)
    loser = next(name for name in passwords if name != winner)
    with committed_app.app_context():
        assert db.session.get(Invitation, invitation_id).used_at is not None
        user = db.session.scalar(select(User).where(User.email == "margaret@example.org"))
        assert user.is_active
        assert accounts.authenticate(
            db.session, email=user.email, password=passwords[winner], ip_address="test"
        )
        assert not accounts.authenticate(
            db.session, email=user.email, password=passwords[loser], ip_address="test"
        )
