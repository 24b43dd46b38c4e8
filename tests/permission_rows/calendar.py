"""Permission rows: the calendar, its .ics download and feed, and the outbox."""

from __future__ import annotations

from storyteller import calendar_feed
from storyteller.models import MailMessage
from tests.permissions_common import (
    ANON_TO_SIGN_IN,
    EVERYONE_SIGNED_IN_200,
    HIDDEN_FROM_ALL_BUT_ADMIN,
    ROLES,
    VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    Route,
    Scenario,
)

ADMIN_ONLY = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 403,
    "reviewer": 403,
    "admin": 200,
}


def _feed_url(s: Scenario, own: str) -> str:
    # The token is the key: it works for anyone holding it, signed in or not.
    token = calendar_feed.feed_token("test-secret-key", s.users["storyteller"])
    return f"/calendar/feed/{token}.ics"


def _make_message(s: Scenario, own: str) -> None:
    message = MailMessage(
        to_address="someone@example.org",
        subject="A reminder",
        body_text="Hello",
        backend="outbox",
        status="sent",
        kind="reminder",
    )
    s.db.add(message)
    s.db.flush()
    s.extra["message"] = message


ROWS = {
    "calendar.upcoming": Route(
        "GET", lambda s, own: "/calendar", other={**ANON_TO_SIGN_IN, **EVERYONE_SIGNED_IN_200}
    ),
    "calendar.storyteller_calendar": Route(
        "GET",
        lambda s, own: f"/storytellers/{s.storyteller(own).id}/calendar",
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "calendar.download": Route(
        "GET", lambda s, own: "/calendar.ics", other={**ANON_TO_SIGN_IN, **EVERYONE_SIGNED_IN_200}
    ),
    "calendar.storyteller_download": Route(
        "GET",
        lambda s, own: f"/storytellers/{s.storyteller(own).id}/calendar.ics",
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "calendar.feed": Route("GET", _feed_url, other={role: 200 for role in ROLES}),
    "calendar.outbox": Route("GET", lambda s, own: "/outbox", other=ADMIN_ONLY),
    "calendar.outbox_message": Route(
        "GET",
        lambda s, own: f"/outbox/{s.extra['message'].id}",
        other=ADMIN_ONLY,
        setup=_make_message,
    ),
}
