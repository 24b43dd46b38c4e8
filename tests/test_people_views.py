"""The people pages: adding and editing a storyteller, access, invitations, and the hub page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from storyteller import invitations
from storyteller.models import (
    AuditLog,
    Invitation,
    MailMessage,
    Storyteller,
    StorytellerAccess,
    User,
    utcnow,
)
from tests.conftest import sign_in

NEW = {
    "display_name": "Margaret Ellis",
    "birth_year": "1942",
    "preferred_language": "en",
    "time_zone": "Europe/Dublin",
    "contact_email": "margaret@example.org",
    "with_sign_in": "no",
}


def _storyteller_named(db_session, name: str) -> Storyteller | None:
    db_session.expire_all()
    return db_session.scalar(select(Storyteller).where(Storyteller.display_name == name))


# ------------------------------------------------------------------------------- adding


def test_the_add_form_is_plain_and_labelled(client, login, make_user):
    login(make_user("coordinator"))
    text = client.get("/storytellers/new").get_data(as_text=True)
    for label in ("Their name", "Year of birth", "Their time zone", "Give them their own sign-in"):
        assert label in text
    assert 'name="csrf_token"' in text
    assert '<option value="Europe/Dublin"' in text


def test_a_coordinator_adds_a_storyteller_without_a_sign_in(db_session, client, login, make_user):
    coordinator = make_user("coordinator")
    login(coordinator)
    response = client.post("/storytellers/new", data=NEW)
    assert response.status_code == 303
    storyteller = _storyteller_named(db_session, "Margaret Ellis")
    assert response.headers["Location"].endswith(f"/storytellers/{storyteller.id}")
    assert storyteller.user_id is None
    assert storyteller.birth_year == 1942 and storyteller.time_zone == "Europe/Dublin"
    assert db_session.scalars(select(MailMessage)).all() == []
    # Granted at once: the new storyteller's page opens and the home page lists them.
    hub = client.get(response.headers["Location"])
    assert hub.status_code == 200
    assert "Margaret Ellis has been added." in hub.get_data(as_text=True)
    assert "Margaret Ellis" in client.get("/").get_data(as_text=True)


def test_with_their_own_sign_in_an_invitation_is_sent(db_session, client, login, make_user):
    login(make_user("coordinator", name="Cora Coordinator"))
    response = client.post("/storytellers/new", data={**NEW, "with_sign_in": "yes"})
    assert response.status_code == 303
    storyteller = _storyteller_named(db_session, "Margaret Ellis")
    user = db_session.get(User, storyteller.user_id)
    assert user.email == "margaret@example.org" and not user.is_active
    message = db_session.scalar(select(MailMessage).where(MailMessage.kind == "invitation"))
    assert message.to_address == "margaret@example.org"
    token = re.search(r"/invitations/(\S+)", message.body_text).group(1)
    client.post("/sign-out")
    accepted = client.post(
        f"/invitations/{token}",
        data={"password": "a garden of roses", "confirm_password": "a garden of roses"},
    )
    assert accepted.status_code == 303
    assert "Hello, Margaret Ellis" in client.get("/").get_data(as_text=True)


def test_an_email_that_is_taken_is_refused_next_to_the_field(db_session, client, login, make_user):
    make_user("reviewer", email="margaret@example.org")
    login(make_user("coordinator"))
    response = client.post("/storytellers/new", data={**NEW, "with_sign_in": "yes"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Someone already signs in with margaret@example.org" in text
    assert 'id="contact_email-error"' in text
    assert 'aria-describedby="contact_email-help contact_email-error"' in text
    assert 'value="Margaret Ellis"' in text  # what was typed is kept
    assert _storyteller_named(db_session, "Margaret Ellis") is None


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "not a time zone we know"),
        ({"time_zone_other": "Atlantis/Central"}, "time_zone", "Atlantis/Central"),
        ({"birth_year": "1066"}, "birth_year", "between 1880"),
        ({"display_name": ""}, "display_name", "Please give the storyteller"),
        ({"with_sign_in": "yes", "contact_email": ""}, "contact_email", "their email address"),
    ],
)
def test_bad_details_are_refused_with_a_message(
    db_session, client, login, make_user, changes, field, words
):
    login(make_user("admin"))
    response = client.post("/storytellers/new", data={**NEW, **changes})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert words in text
    assert f'id="{field}-error"' in text
    assert db_session.scalar(select(Storyteller.id).where(Storyteller.birth_year == 1942)) is None


def test_a_typed_time_zone_is_accepted(db_session, client, login, make_user):
    login(make_user("admin"))
    response = client.post("/storytellers/new", data={**NEW, "time_zone_other": "Africa/Nairobi"})
    assert response.status_code == 303
    assert _storyteller_named(db_session, "Margaret Ellis").time_zone == "Africa/Nairobi"


# ------------------------------------------------------------------------------ editing


def test_edit_details(db_session, client, login, make_user, make_storyteller):
    coordinator = make_user("coordinator")
    storyteller = make_storyteller(
        display_name="Tom Byrne", granted_to=(coordinator,), time_zone="America/New_York"
    )
    login(coordinator)
    form = client.get(f"/storytellers/{storyteller.id}/edit").get_data(as_text=True)
    assert 'value="Tom Byrne"' in form
    assert '<option value="America/New_York" selected>' in form

    bad = client.post(
        f"/storytellers/{storyteller.id}/edit",
        data={"display_name": "Thomas Byrne", "birth_year": "soon", "time_zone": "UTC"},
    )
    assert bad.status_code == 400
    assert 'value="Thomas Byrne"' in bad.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Storyteller, storyteller.id).display_name == "Tom Byrne"

    ok = client.post(
        f"/storytellers/{storyteller.id}/edit",
        data={"display_name": "Thomas Byrne", "birth_year": "1938", "time_zone": "Europe/Paris"},
    )
    assert ok.status_code == 303
    db_session.expire_all()
    changed = db_session.get(Storyteller, storyteller.id)
    assert (changed.display_name, changed.birth_year, changed.time_zone) == (
        "Thomas Byrne",
        1938,
        "Europe/Paris",
    )


def test_a_coordinator_cannot_edit_a_storyteller_not_granted_to_them(
    client, login, make_user, make_storyteller
):
    storyteller = make_storyteller(display_name="Someone Else")
    login(make_user("coordinator"))
    assert client.get(f"/storytellers/{storyteller.id}/edit").status_code == 404
    assert client.post(f"/storytellers/{storyteller.id}/edit", data=NEW).status_code == 404


# ------------------------------------------------------------------------------- access


@pytest.fixture
def team(make_user, make_storyteller):
    coordinator = make_user("coordinator", name="Cora Coordinator")
    colleague = make_user("coordinator", name="Colin Colleague", email="colin@example.org")
    reviewer = make_user("reviewer", name="Rita Reviewer", email="rita@example.org")
    storyteller = make_storyteller(display_name="Margaret Ellis", granted_to=(coordinator,))
    return coordinator, colleague, reviewer, storyteller


def test_grant_then_revoke_takes_effect_at_once(db_session, app, client, login, team):
    coordinator, colleague, _, storyteller = team
    login(coordinator)
    page = client.get(f"/storytellers/{storyteller.id}/access").get_data(as_text=True)
    assert "Cora Coordinator" in page and "Colin Colleague" not in page

    granted = client.post(
        f"/storytellers/{storyteller.id}/access",
        data={"email": "COLIN@example.org", "access_level": "coordinator"},
    )
    assert granted.status_code == 303
    page = client.get(granted.headers["Location"]).get_data(as_text=True)
    assert "Colin Colleague" in page and "colin@example.org" in page
    assert "can now see Margaret Ellis" in page

    # Colin, in his own browser, sees her now.
    colin = app.test_client()
    assert sign_in(colin, colleague).status_code == 303
    assert colin.get(f"/storytellers/{storyteller.id}").status_code == 200

    access = db_session.scalar(
        select(StorytellerAccess).where(StorytellerAccess.user_id == colleague.id)
    )
    revoked = client.post(f"/storytellers/{storyteller.id}/access/{access.id}/revoke")
    assert revoked.status_code == 303
    # His very next request, with the same sign-in, is "not found".
    assert colin.get(f"/storytellers/{storyteller.id}").status_code == 404
    assert "Margaret Ellis" not in colin.get("/").get_data(as_text=True)

    audited = db_session.scalars(
        select(AuditLog.action).where(
            AuditLog.storyteller_id == storyteller.id,
            AuditLog.object_type == "storyteller_access",
            AuditLog.action != "read",
        )
    ).all()
    assert sorted(audited) == ["create", "delete"]


@pytest.mark.parametrize(
    ("email", "level", "field", "words"),
    [
        ("nobody@example.org", "coordinator", "email", "Nobody signs in with nobody@example.org"),
        ("rita@example.org", "coordinator", "access_level", "can only review"),
        ("", "reviewer", "email", "Please give the email address"),
    ],
)
def test_a_grant_that_cannot_be_made_says_why(
    db_session, client, login, team, email, level, field, words
):
    coordinator, _, _, storyteller = team
    login(coordinator)
    response = client.post(
        f"/storytellers/{storyteller.id}/access", data={"email": email, "access_level": level}
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert words in text
    assert f'id="{field}-error"' in text
    assert len(db_session.scalars(select(StorytellerAccess)).all()) == 1


def test_a_storyteller_account_cannot_be_granted(db_session, client, login, team, make_user):
    coordinator, _, _, storyteller = team
    other = make_user("storyteller", email="sam@example.org")
    login(coordinator)
    response = client.post(
        f"/storytellers/{storyteller.id}/access",
        data={"email": other.email, "access_level": "reviewer"},
    )
    assert response.status_code == 400
    assert "only coordinator and reviewer accounts" in response.get_data(as_text=True)


def test_revoking_access_of_another_storyteller_is_not_found(
    db_session, client, login, team, make_storyteller
):
    coordinator, colleague, _, storyteller = team
    elsewhere = make_storyteller(granted_to=(colleague, coordinator))
    access = db_session.scalar(
        select(StorytellerAccess).where(
            StorytellerAccess.storyteller_id == elsewhere.id,
            StorytellerAccess.user_id == colleague.id,
        )
    )
    login(coordinator)
    response = client.post(f"/storytellers/{storyteller.id}/access/{access.id}/revoke")
    assert response.status_code == 404
    assert db_session.get(StorytellerAccess, access.id) is not None


def test_revoking_ones_own_access_goes_home(db_session, client, login, team):
    coordinator, _, _, storyteller = team
    own = db_session.scalar(
        select(StorytellerAccess).where(StorytellerAccess.user_id == coordinator.id)
    )
    login(coordinator)
    response = client.post(f"/storytellers/{storyteller.id}/access/{own.id}/revoke")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/")
    assert client.get(f"/storytellers/{storyteller.id}").status_code == 404


# -------------------------------------------------------------------------- invitations


def test_invitation_status_on_the_access_page(db_session, client, login, team):
    coordinator, _, _, storyteller = team
    login(coordinator)
    page = client.get(f"/storytellers/{storyteller.id}/access").get_data(as_text=True)
    assert "has no sign-in of their own" in page
    assert "Send an invitation" in page

    bad = client.post(f"/storytellers/{storyteller.id}/invite", data={"email": "nope"})
    assert bad.status_code == 400
    assert 'id="invite_email-error"' in bad.get_data(as_text=True)

    sent = client.post(f"/storytellers/{storyteller.id}/invite", data={"email": "m@example.org"})
    assert sent.status_code == 303
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "m@example.org" in page
    assert ">Sent<" in page
    assert "Send a new sign-in link" in page

    # Re-send: the first is replaced; then the second runs out.
    assert client.post(f"/storytellers/{storyteller.id}/invite").status_code == 303
    rows = db_session.scalars(
        select(Invitation)
        .where(Invitation.storyteller_id == storyteller.id)
        .order_by(Invitation.created_at)
    ).all()
    assert [invitations.status_of(r) for r in rows] == ["revoked", "sent"]
    rows[1].expires_at = utcnow() - timedelta(hours=1)
    db_session.flush()
    page = client.get(f"/storytellers/{storyteller.id}/access").get_data(as_text=True)
    assert "Replaced by a newer link" in page and ">Expired<" in page

    # A third, accepted.
    assert client.post(f"/storytellers/{storyteller.id}/invite").status_code == 303
    latest = invitations.latest_invitation_status(db_session, storyteller).invitation
    latest.used_at = utcnow()
    db_session.flush()
    page = client.get(f"/storytellers/{storyteller.id}/access").get_data(as_text=True)
    assert ">Accepted<" in page
    hub = client.get(f"/storytellers/{storyteller.id}").get_data(as_text=True)
    assert "invitation accepted" in hub


# ------------------------------------------------------------------------ the hub pages


def test_the_storyteller_page_is_the_coordinators_hub(
    db_session, client, login, team, make_session
):
    coordinator, _, reviewer, storyteller = team
    db_session.add(
        StorytellerAccess(
            storyteller_id=storyteller.id, user_id=reviewer.id, access_level="reviewer"
        )
    )
    make_session(storyteller, session_name="School days")
    login(coordinator)
    text = client.get(f"/storytellers/{storyteller.id}").get_data(as_text=True)
    assert "Consent recorded" in text
    assert "<dd>English</dd>" in text
    assert "Rita Reviewer (reviewer)" in text and "Cora Coordinator (coordinator)" in text
    assert "School days" in text
    for path in (
        "/edit",
        "/consent",
        "/access",
        "/life-events",
        "/coverage",
        "/calendar",
        "/progress",
        "/sessions/new",
    ):
        assert f'href="/storytellers/{storyteller.id}{path}"' in text, path


def test_a_reviewer_sees_the_hub_without_the_management_links(client, login, team, db_session):
    _, _, reviewer, storyteller = team
    db_session.add(
        StorytellerAccess(
            storyteller_id=storyteller.id, user_id=reviewer.id, access_level="reviewer"
        )
    )
    db_session.flush()
    login(reviewer)
    text = client.get(f"/storytellers/{storyteller.id}").get_data(as_text=True)
    assert "Margaret Ellis" in text
    assert f"/storytellers/{storyteller.id}/access" not in text
    assert f"/storytellers/{storyteller.id}/sessions/new" not in text
    assert f'href="/storytellers/{storyteller.id}/progress"' in text
    assert client.get(f"/storytellers/{storyteller.id}/access").status_code == 403


def test_home_pages_offer_to_add_a_storyteller(client, login, make_user, make_storyteller):
    make_storyteller(display_name="Hazel Without Consent", consent=False)
    login(make_user("admin"))
    text = client.get("/").get_data(as_text=True)
    assert 'href="/storytellers/new"' in text
    assert "Hazel Without Consent" in text and "consent not recorded yet" in text
    client.post("/sign-out")
    login(make_user("coordinator"))
    assert 'href="/storytellers/new"' in client.get("/").get_data(as_text=True)
    client.post("/sign-out")
    login(make_user("reviewer"))
    assert 'href="/storytellers/new"' not in client.get("/").get_data(as_text=True)
