"""Permission rows for adding and managing storytellers: details, consent, access, invitations.

Managing a storyteller is for granted coordinators and admins; a storyteller or reviewer who
can see the storyteller gets 403, anyone who cannot see them 404. An invitation link is its
own permission: it works for whoever holds it, signed in or not.
"""

from __future__ import annotations

import uuid

from storyteller import accounts, invitations, mail
from storyteller.models import StorytellerAccess
from tests.permissions_common import (
    ANON_TO_SIGN_IN,
    HIDDEN_FROM_ALL_BUT_ADMIN,
    Route,
    Scenario,
)
from tests.permissions_common import to as _to

MANAGE_OWN = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 200,
    "reviewer": 403,
    "admin": 200,
}


def _manage_post(ok: int | tuple[int, str]) -> dict:
    return {**ANON_TO_SIGN_IN, "storyteller": 403, "coordinator": ok, "reviewer": 403, "admin": ok}


def _hidden_post(ok: int | tuple[int, str]) -> dict:
    return {**HIDDEN_FROM_ALL_BUT_ADMIN, "admin": ok}


def _page(suffix: str):
    return lambda s, own: f"/storytellers/{s.storyteller(own).id}{suffix}"


DETAILS = {
    "display_name": "Margaret Ellis",
    "birth_year": "1942",
    "preferred_language": "en",
    "time_zone": "Europe/Dublin",
    "with_sign_in": "no",
}
CONSENT = {"scope": "interview", "method": "in_person"}


def _new_grantee(s: Scenario, ownership: str) -> None:
    s.extra["grantee"] = accounts.create_user(
        s.db,
        email=f"grantee-{uuid.uuid4().hex[:8]}@example.org",
        name="Gina Grantee",
        role="coordinator",
        password="a long enough password",
    )


def _grant_data(s: Scenario) -> dict[str, str]:
    return {"email": s.extra["grantee"].email, "access_level": "reviewer"}


def _access_to_revoke(s: Scenario, ownership: str) -> None:
    _new_grantee(s, ownership)
    access = StorytellerAccess(
        storyteller_id=s.storyteller(ownership).id,
        user_id=s.extra["grantee"].id,
        access_level="coordinator",
    )
    s.db.add(access)
    s.db.flush()
    s.extra["access"] = access


def _invitation(s: Scenario, ownership: str) -> None:
    """A live invitation for storyteller B's account (no-object routes use "other")."""
    settings = invitations.InvitationSettings(
        mail=mail.MailSettings(backend="outbox", sender="test@localhost"),
        base_url="http://storyteller.test",
        days=7,
    )
    _, s.extra["token"] = invitations.send_invitation(
        s.db, s.storyteller_b, invited_by=s.users["admin"], settings=settings
    )


PASSWORDS = {"password": "my new password here", "confirm_password": "my new password here"}

ROWS = {
    "people.new_storyteller": [
        Route("GET", lambda s, own: "/storytellers/new", other=MANAGE_OWN),
        Route("POST", lambda s, own: "/storytellers/new", other=_manage_post(303), data=DETAILS),
    ],
    "people.edit_storyteller": [
        Route("GET", _page("/edit"), other=HIDDEN_FROM_ALL_BUT_ADMIN, own=MANAGE_OWN),
        Route(
            "POST",
            _page("/edit"),
            other=_hidden_post(303),
            own=_manage_post(303),
            data=DETAILS,
        ),
    ],
    "people.consent": [
        Route("GET", _page("/consent"), other=HIDDEN_FROM_ALL_BUT_ADMIN, own=MANAGE_OWN),
        Route(
            "POST",
            _page("/consent"),
            other=_hidden_post(303),
            own=_manage_post(303),
            data=CONSENT,
        ),
    ],
    "people.withdraw_consent": Route(
        "POST", _page("/consent/withdraw"), other=_hidden_post(303), own=_manage_post(303)
    ),
    "people.access": [
        Route("GET", _page("/access"), other=HIDDEN_FROM_ALL_BUT_ADMIN, own=MANAGE_OWN),
        Route(
            "POST",
            _page("/access"),
            other=_hidden_post(303),
            own=_manage_post(303),
            setup=_new_grantee,
            data=_grant_data,
        ),
    ],
    "people.revoke_access": Route(
        "POST",
        lambda s, own: (
            f"/storytellers/{s.storyteller(own).id}/access/{s.extra['access'].id}/revoke"
        ),
        other=_hidden_post(303),
        own=_manage_post(303),
        setup=_access_to_revoke,
    ),
    "people.invite": Route(
        "POST", _page("/invite"), other=_hidden_post(303), own=_manage_post(303)
    ),
    "people.accept_invitation": [
        Route(
            "GET",
            lambda s, own: f"/invitations/{s.extra['token']}",
            other={role: 200 for role in ANON_TO_SIGN_IN | MANAGE_OWN},
            setup=_invitation,
        ),
        Route(
            "POST",
            lambda s, own: f"/invitations/{s.extra['token']}",
            other={role: _to("/", 303) for role in ANON_TO_SIGN_IN | MANAGE_OWN},
            setup=_invitation,
            data=PASSWORDS,
        ),
    ],
}
