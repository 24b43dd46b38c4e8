"""Permission rows for life events, the timeline and the coverage map.

Reading: everyone who may see the storyteller. Adding and editing: admins, granted
coordinators and the storyteller themself; reviewers 403. Deleting: admins and granted
coordinators; the storyteller and reviewers 403. Someone else's storyteller: 404.
"""

from __future__ import annotations

from typing import Any

from storyteller.models import LifeEvent
from tests.permissions_common import (
    ANON_TO_SIGN_IN,
    HIDDEN_FROM_ALL_BUT_ADMIN,
    VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    Route,
    Scenario,
)


def _with_event(s: Scenario, ownership: str) -> None:
    event = LifeEvent(
        storyteller_id=s.storyteller(ownership).id,
        event_name="Moving to Boston",
        start_year=1948,
        life_period="childhood",
    )
    s.db.add(event)
    s.db.commit()
    s.extra["life_event"] = event


def _event_url(action: str):
    return lambda s, own: f"/life-events/{s.extra['life_event'].id}/{action}"


FORM = {"event_name": "First day at school", "start_year": "1952", "life_period": "school"}

# Someone else's storyteller: 404 for all but the admin, who may do it.
OTHER_POST = {**HIDDEN_FROM_ALL_BUT_ADMIN, "admin": 303}
EDIT_OWN_GET = {
    **ANON_TO_SIGN_IN,
    "storyteller": 200,
    "coordinator": 200,
    "reviewer": 403,
    "admin": 200,
}
EDIT_OWN_POST = {**EDIT_OWN_GET, "storyteller": 303, "coordinator": 303, "admin": 303}
DELETE_OWN_GET = {**EDIT_OWN_GET, "storyteller": 403}
DELETE_OWN_POST = {**EDIT_OWN_POST, "storyteller": 403}


def _new_url(s: Scenario, own: str) -> str:
    return f"/storytellers/{s.storyteller(own).id}/life-events/new"


ROWS: dict[str, Any] = {
    "life_events.timeline": Route(
        "GET",
        lambda s, own: f"/storytellers/{s.storyteller(own).id}/life-events",
        setup=_with_event,
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "life_events.coverage": Route(
        "GET",
        lambda s, own: f"/storytellers/{s.storyteller(own).id}/coverage",
        setup=_with_event,
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "life_events.new": [
        Route("GET", _new_url, other=HIDDEN_FROM_ALL_BUT_ADMIN, own=EDIT_OWN_GET),
        Route("POST", _new_url, data=FORM, other=OTHER_POST, own=EDIT_OWN_POST),
    ],
    "life_events.edit": [
        Route(
            "GET",
            _event_url("edit"),
            setup=_with_event,
            other=HIDDEN_FROM_ALL_BUT_ADMIN,
            own=EDIT_OWN_GET,
        ),
        Route(
            "POST",
            _event_url("edit"),
            setup=_with_event,
            data=FORM,
            other=OTHER_POST,
            own=EDIT_OWN_POST,
        ),
    ],
    "life_events.delete": [
        Route(
            "GET",
            _event_url("delete"),
            setup=_with_event,
            other=HIDDEN_FROM_ALL_BUT_ADMIN,
            own=DELETE_OWN_GET,
        ),
        Route(
            "POST",
            _event_url("delete"),
            setup=_with_event,
            other=OTHER_POST,
            own=DELETE_OWN_POST,
        ),
    ],
}
