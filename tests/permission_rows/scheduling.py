"""Permission rows for scheduling, plans, reschedule/cancel, progress and session notes.

Granted coordinators and admins change; everyone who may see the storyteller reads
progress; storytellers and reviewers are refused changes (403) on what they may see, and
nobody but the admin finds someone else's objects (404). Session notes are written by
granted coordinators and reviewers and by admins; storytellers are refused (403).
"""

from __future__ import annotations

from storyteller.models import LifeEvent, SessionNote
from tests.permissions_common import (
    ANON_TO_SIGN_IN,
    HIDDEN_FROM_ALL_BUT_ADMIN,
    VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    Route,
    Scenario,
)

CHANGE_OWN_GET = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 200,
    "reviewer": 403,
    "admin": 200,
}


def _own_post(ok) -> dict:
    return {**ANON_TO_SIGN_IN, "storyteller": 403, "coordinator": ok, "reviewer": 403, "admin": ok}


def _note_post(ok) -> dict:
    return {**ANON_TO_SIGN_IN, "storyteller": 403, "coordinator": ok, "reviewer": ok, "admin": ok}


def _other_post(ok) -> dict:
    return {**ANON_TO_SIGN_IN, "storyteller": 404, "coordinator": 404, "reviewer": 404,
            "admin": ok}


def _life_event(s: Scenario, ownership: str) -> None:
    event = LifeEvent(
        storyteller_id=s.storyteller(ownership).id,
        event_name="Navy years",
        event_type="military",
        start_year=1952,
        end_year=1956,
        location="Portsmouth",
    )
    s.db.add(event)
    s.db.flush()
    s.extra["event"] = event


def _completed(s: Scenario, ownership: str) -> None:
    session = s.session(ownership)
    session.status = "completed"
    session.next_session_suggestion = "A reflection session: what these memories mean to you."
    s.db.flush()


def _note(s: Scenario, ownership: str) -> None:
    note = SessionNote(
        session_id=s.session(ownership).id,
        note_type="concern",
        note_content="Seemed tired; ask about her hip next time.",
        requires_followup=True,
    )
    s.db.add(note)
    s.db.flush()
    s.extra["note"] = note


def _new_url(s: Scenario, own: str) -> str:
    return f"/storytellers/{s.storyteller(own).id}/sessions/new"


def _plan_url(s: Scenario, own: str) -> str:
    return f"/life-events/{s.extra['event'].id}/plan"


ROWS = {
    "scheduling.new_session": [
        Route("GET", _new_url, other=HIDDEN_FROM_ALL_BUT_ADMIN, own=CHANGE_OWN_GET),
        Route(
            "POST",
            _new_url,
            data={"intention": "Capture the first day at school",
                  "scheduled_duration_minutes": "30"},
            other=_other_post(303),
            own=_own_post(303),
        ),
    ],
    "scheduling.plan_event": [
        Route("GET", _plan_url, setup=_life_event, other=HIDDEN_FROM_ALL_BUT_ADMIN,
              own=CHANGE_OWN_GET),
        Route(
            "POST",
            _plan_url,
            setup=_life_event,
            data={"first_at": "2026-12-01T10:00", "spacing_days": "7"},
            other=_other_post(303),
            own=_own_post(303),
        ),
    ],
    "scheduling.schedule_next": Route(
        "POST",
        lambda s, own: f"/sessions/{s.session(own).id}/schedule-next",
        setup=_completed,
        other=_other_post(303),
        own=_own_post(303),
    ),
    "scheduling.edit_session": [
        Route("GET", lambda s, own: f"/sessions/{s.session(own).id}/edit",
              other=HIDDEN_FROM_ALL_BUT_ADMIN, own=CHANGE_OWN_GET),
        Route(
            "POST",
            lambda s, own: f"/sessions/{s.session(own).id}/edit",
            data={"intention": "Capture the school years", "scheduled_at": "2026-12-03T14:00",
                  "scheduled_duration_minutes": "45"},
            other=_other_post(303),
            own=_own_post(303),
        ),
    ],
    "scheduling.cancel_session": [
        Route("GET", lambda s, own: f"/sessions/{s.session(own).id}/cancel",
              other=HIDDEN_FROM_ALL_BUT_ADMIN, own=CHANGE_OWN_GET),
        Route(
            "POST",
            lambda s, own: f"/sessions/{s.session(own).id}/cancel",
            data={"reason": "In hospital this week"},
            other=_other_post(303),
            own=_own_post(303),
        ),
    ],
    "scheduling.progress": Route(
        "GET",
        lambda s, own: f"/sessions/{s.session(own).id}/progress",
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "scheduling.storyteller_progress": Route(
        "GET",
        lambda s, own: f"/storytellers/{s.storyteller(own).id}/progress",
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "scheduling.add_note": Route(
        "POST",
        lambda s, own: f"/sessions/{s.session(own).id}/notes",
        data={"note_type": "observation", "note_content": "Lovely stories about the farm."},
        other=_other_post(303),
        own=_note_post(303),
    ),
    "scheduling.note_followup_done": Route(
        "POST",
        lambda s, own: f"/session-notes/{s.extra['note'].id}/done",
        setup=_note,
        other=_other_post(303),
        own=_note_post(303),
    ),
}
