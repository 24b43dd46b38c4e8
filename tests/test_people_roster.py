"""Domain tests of storyteller/roster.py: validation, adding, editing, granting and revoking."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storyteller import authz, roster
from storyteller.models import AuditLog, Storyteller, StorytellerAccess, User

GOOD = {
    "display_name": "  Margaret   Ellis ",
    "birth_year": "1942",
    "preferred_language": "en",
    "time_zone": "Europe/Dublin",
    "contact_email": " Margaret@Example.org ",
}


def _audit(db_session, **where) -> list[AuditLog]:
    query = select(AuditLog)
    for key, value in where.items():
        query = query.where(getattr(AuditLog, key) == value)
    return list(db_session.scalars(query))


def test_validate_details_normalises_the_input():
    details = roster.validate_details(GOOD)
    assert details == roster.StorytellerDetails(
        "Margaret Ellis", 1942, "en", "Europe/Dublin", "margaret@example.org"
    )


def test_a_typed_time_zone_is_used_instead_of_the_list():
    details = roster.validate_details({**GOOD, "time_zone_other": "Africa/Nairobi"})
    assert details.time_zone == "Africa/Nairobi"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"display_name": "   "}, "display_name", "name"),
        ({"display_name": "x" * 201}, "display_name", "under 200"),
        ({"birth_year": "nineteen"}, "birth_year", "four digits"),
        ({"birth_year": "1700"}, "birth_year", "between 1880"),
        ({"birth_year": "3000"}, "birth_year", "between 1880"),
        ({"preferred_language": "English!"}, "preferred_language", "language"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "not a time zone"),
        ({"time_zone": ""}, "time_zone", "choose"),
        ({"time_zone_other": "Nowhere/Town"}, "time_zone", "Nowhere/Town"),
        ({"contact_email": "not-an-email"}, "contact_email", "valid email"),
    ],
)
def test_validate_details_refuses_bad_input(changes, field, words):
    with pytest.raises(roster.RosterError) as refused:
        roster.validate_details({**GOOD, **changes})
    assert refused.value.field == field
    assert words in refused.value.message


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(roster.RosterError) as refused:
        roster.validate_details({"display_name": "", "birth_year": "x", "time_zone": "Nope/Nope"})
    assert set(refused.value.errors) == {"display_name", "birth_year", "time_zone"}


def test_a_coordinator_who_adds_a_storyteller_is_granted_access(db_session, make_user):
    coordinator = make_user("coordinator")
    storyteller = roster.create_storyteller(
        db_session, roster.validate_details(GOOD), created_by=coordinator
    )
    assert storyteller.user_id is None
    assert storyteller.time_zone == "Europe/Dublin"
    assert storyteller.created_by_id == coordinator.id
    assert authz.can_see_storyteller(db_session, coordinator, storyteller.id)
    access = db_session.scalar(
        select(StorytellerAccess).where(StorytellerAccess.storyteller_id == storyteller.id)
    )
    assert access.access_level == "coordinator" and access.granted_by_id == coordinator.id
    assert [a.action for a in _audit(db_session, storyteller_id=storyteller.id)] == ["create"]


def test_an_admin_who_adds_a_storyteller_gets_no_grant(db_session, make_user):
    admin = make_user("admin")
    storyteller = roster.create_storyteller(
        db_session, roster.validate_details(GOOD), created_by=admin
    )
    assert storyteller.access == []


def test_reviewers_cannot_add_storytellers(db_session, make_user):
    with pytest.raises(roster.RosterError):
        roster.create_storyteller(
            db_session, roster.validate_details(GOOD), created_by=make_user("reviewer")
        )


def test_with_their_own_sign_in_an_inactive_account_is_made(db_session, make_user):
    storyteller = roster.create_storyteller(
        db_session,
        roster.validate_details(GOOD),
        created_by=make_user("coordinator"),
        with_sign_in=True,
    )
    user = db_session.get(User, storyteller.user_id)
    assert user.email == "margaret@example.org"
    assert user.role == "storyteller"
    assert user.is_active is False
    assert user.name == "Margaret Ellis"


def test_own_sign_in_needs_an_email(db_session, make_user):
    with pytest.raises(roster.RosterError) as refused:
        roster.create_storyteller(
            db_session,
            roster.validate_details({**GOOD, "contact_email": ""}),
            created_by=make_user("coordinator"),
            with_sign_in=True,
        )
    assert refused.value.field == "contact_email"


def test_an_email_already_used_for_a_sign_in_is_refused(db_session, make_user):
    make_user("reviewer", email="margaret@example.org")
    with pytest.raises(roster.RosterError) as refused:
        roster.create_storyteller(
            db_session,
            roster.validate_details(GOOD),
            created_by=make_user("coordinator"),
            with_sign_in=True,
        )
    assert refused.value.field == "contact_email"
    assert "already signs in" in refused.value.message
    assert (
        db_session.scalar(select(Storyteller).where(Storyteller.display_name == "Margaret Ellis"))
        is None
    )


def test_update_changes_only_what_changed_and_audits_it(db_session, make_user, make_storyteller):
    coordinator = make_user("coordinator")
    storyteller = make_storyteller(display_name="Margaret Ellis", time_zone="UTC")
    changes = roster.update_storyteller(
        db_session, storyteller, roster.validate_details(GOOD), updated_by=coordinator
    )
    assert set(changes) == {"birth_year", "time_zone", "contact_email"}
    assert storyteller.time_zone == "Europe/Dublin"
    entry = _audit(db_session, storyteller_id=storyteller.id, action="update")[-1]
    assert entry.details["changed"]["time_zone"] == ["UTC", "Europe/Dublin"]
    assert (
        roster.update_storyteller(
            db_session, storyteller, roster.validate_details(GOOD), updated_by=coordinator
        )
        == {}
    )


def test_grant_and_revoke_access(db_session, make_user, make_storyteller):
    coordinator = make_user("coordinator")
    colleague = make_user("coordinator", email="colleague@example.org", name="Colin")
    storyteller = make_storyteller(granted_to=(coordinator,))
    assert not authz.can_see_storyteller(db_session, colleague, storyteller.id)

    access = roster.grant_access(
        db_session,
        storyteller,
        email=" Colleague@Example.org",
        level="coordinator",
        granted_by=coordinator,
    )
    assert authz.can_see_storyteller(db_session, colleague, storyteller.id)
    rows = roster.access_list(db_session, storyteller)
    assert [(r.user.name, r.access.access_level) for r in rows if r.user.id == colleague.id] == [
        ("Colin", "coordinator")
    ]
    assert next(r for r in rows if r.user.id == colleague.id).granted_by.id == coordinator.id

    # The same again: nothing to do. Another level: changed.
    with pytest.raises(roster.RosterError, match="already has access"):
        roster.grant_access(
            db_session,
            storyteller,
            email=colleague.email,
            level="coordinator",
            granted_by=coordinator,
        )
    roster.grant_access(
        db_session, storyteller, email=colleague.email, level="reviewer", granted_by=coordinator
    )
    assert access.access_level == "reviewer"

    roster.revoke_access(db_session, storyteller, access, revoked_by=coordinator)
    assert not authz.can_see_storyteller(db_session, colleague, storyteller.id)
    actions = [
        a.action
        for a in _audit(db_session, storyteller_id=storyteller.id, object_type="storyteller_access")
    ]
    assert sorted(actions) == ["create", "delete", "update"]


@pytest.mark.parametrize(
    ("role", "level", "field", "words"),
    [
        ("storyteller", "reviewer", "email", "storyteller account"),
        ("admin", "coordinator", "email", "admin account"),
        ("reviewer", "coordinator", "access_level", "only review"),
        ("coordinator", "owner", "access_level", "coordinator or reviewer"),
    ],
)
def test_grant_refuses_the_wrong_accounts(
    db_session, make_user, make_storyteller, role, level, field, words
):
    grantee = make_user(role)
    storyteller = make_storyteller()
    with pytest.raises(roster.RosterError) as refused:
        roster.grant_access(
            db_session,
            storyteller,
            email=grantee.email,
            level=level,
            granted_by=make_user("admin"),
        )
    assert refused.value.field == field and words in refused.value.message


def test_grant_to_an_unknown_email_says_so(db_session, make_user, make_storyteller):
    with pytest.raises(roster.RosterError) as refused:
        roster.grant_access(
            db_session,
            make_storyteller(),
            email="nobody@example.org",
            level="reviewer",
            granted_by=make_user("admin"),
        )
    assert refused.value.field == "email" and "Nobody signs in" in refused.value.message
