"""The calendar pages, the .ics download parsed back with icalendar, and the token feed."""

from __future__ import annotations

import re
import uuid
import zoneinfo
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from sqlalchemy import select

from storyteller import calendar_feed
from storyteller.events import record_event
from storyteller.local_time import format_local
from storyteller.models import AuditLog, utcnow

SECRET = "test-secret-key"


def _soon(days: float = 2, hour: int = 9) -> datetime:
    base = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    return base.replace(hour=hour)


@pytest.fixture
def people(make_user, make_storyteller, make_session):
    """A coordinator granted to Alice (Dublin); Bob (Tokyo) is someone else's storyteller."""
    coordinator = make_user("coordinator", name="Cora Coordinator")
    alice_user = make_user("storyteller", name="Alice Dublin")
    alice = make_storyteller(user=alice_user, granted_to=(coordinator,))
    alice.time_zone = "Europe/Dublin"
    bob = make_storyteller(display_name="Bob Tokyo", time_zone="Asia/Tokyo")
    start = _soon(3, hour=10)
    sessions = {
        "soon": make_session(
            alice,
            session_name="School days",
            scheduled_at=start,
            scheduled_duration_minutes=45,
        ),
        "later": make_session(
            alice, session_name="First job", scheduled_at=start + timedelta(days=7)
        ),
        "cancelled": make_session(
            alice, session_name="Cancelled chat", scheduled_at=start, status="cancelled"
        ),
        "done": make_session(
            alice,
            session_name="Long ago",
            scheduled_at=start - timedelta(days=10),
            status="completed",
        ),
        "paused": make_session(
            alice,
            session_name="Paused talk",
            scheduled_at=start - timedelta(days=5),
            status="paused",
        ),
        "unscheduled": make_session(alice, session_name="Some day"),
        "bob": make_session(bob, session_name="Bob's harbour story", scheduled_at=start),
    }
    return {
        "coordinator": coordinator,
        "alice_user": alice_user,
        "alice": alice,
        "bob": bob,
        "sessions": sessions,
    }


# ---- Domain ------------------------------------------------------------------------


def test_upcoming_groups_by_local_day_and_hides_what_is_over(db_session, people):
    upcoming = calendar_feed.upcoming(db_session, people["coordinator"])
    names = [s.session_name for day in upcoming.days for s in day.sessions]
    assert names == ["School days", "First job"]
    assert [s.session_name for s in upcoming.under_way] == ["Paused talk"]
    first = upcoming.days[0]
    dublin = people["sessions"]["soon"].scheduled_at.astimezone(zoneinfo.ZoneInfo("Europe/Dublin"))
    assert first.day == dublin.date()


def test_upcoming_day_is_the_storytellers_local_day(
    db_session, make_user, make_storyteller, make_session
):
    admin = make_user("admin")
    tokyo = make_storyteller(display_name="Late in Tokyo", time_zone="Asia/Tokyo")
    # 20:00 UTC is already 05:00 the next morning in Tokyo.
    at = (utcnow() + timedelta(days=4)).replace(hour=20, minute=0, second=0, microsecond=0)
    make_session(tokyo, session_name="Dawn story", scheduled_at=at)
    upcoming = calendar_feed.upcoming(db_session, admin, storyteller_id=tokyo.id)
    assert [d.day for d in upcoming.days] == [(at + timedelta(days=1)).date()]


def test_a_session_stays_on_the_calendar_until_its_planned_end(db_session, people):
    soon = people["sessions"]["soon"]  # 45 minutes long
    during = soon.scheduled_at + timedelta(minutes=30)
    after = soon.scheduled_at + timedelta(minutes=46)
    user = people["coordinator"]
    during_names = [
        s.session_name
        for d in calendar_feed.upcoming(db_session, user, now=during).days
        for s in d.sessions
    ]
    after_names = [
        s.session_name
        for d in calendar_feed.upcoming(db_session, user, now=after).days
        for s in d.sessions
    ]
    assert "School days" in during_names
    assert "School days" not in after_names


def test_upcoming_shows_only_what_the_user_may_see(db_session, people, make_user):
    other_coordinator = make_user("coordinator")
    assert calendar_feed.upcoming(db_session, other_coordinator).is_empty
    own = calendar_feed.upcoming(db_session, people["alice_user"])
    assert "Bob's harbour story" not in [s.session_name for d in own.days for s in d.sessions]


def test_feed_token_round_trip_and_revocation(db_session, people):
    user = people["alice_user"]
    token = calendar_feed.feed_token(SECRET, user)
    assert calendar_feed.feed_user(db_session, SECRET, token) is user
    assert calendar_feed.feed_token(SECRET, user) == token  # stable address
    assert calendar_feed.feed_user(db_session, "another-secret", token) is None
    user_hex, _, signature = token.partition(".")
    other = people["coordinator"]
    assert calendar_feed.feed_user(db_session, SECRET, f"{other.id.hex}.{signature}") is None
    for bad in (
        "",
        "nonsense",
        f"{user_hex}.",
        f"{user_hex}.{signature[:-1]}x",
        f"{user_hex[:-1]}.x",
    ):
        assert calendar_feed.feed_user(db_session, SECRET, bad) is None, bad
    user.password_changed_at = utcnow() + timedelta(seconds=1)
    db_session.flush()
    assert calendar_feed.feed_user(db_session, SECRET, token) is None
    new_token = calendar_feed.feed_token(SECRET, user)
    assert new_token != token
    assert calendar_feed.feed_user(db_session, SECRET, new_token) is user
    user.is_active = False
    db_session.flush()
    assert calendar_feed.feed_user(db_session, SECRET, new_token) is None


def _events(body: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["VERSION"]) == "2.0"
    assert "Storyteller" in str(calendar["PRODID"])
    return {str(e["SUMMARY"]).split(" · ")[0]: e for e in calendar.walk("VEVENT")}


def test_build_ics_events_times_statuses_and_sequence(db_session, people):
    sessions = people["sessions"]
    soon = sessions["soon"]
    record_event(db_session, event_type="session.rescheduled", session_id=soon.id)
    record_event(db_session, event_type="session.rescheduled", session_id=soon.id)
    record_event(db_session, event_type="session.cancelled", session_id=sessions["cancelled"].id)
    listed = calendar_feed.ics_sessions(db_session, people["coordinator"])
    body = calendar_feed.build_ics(
        db_session,
        listed,
        base_url="https://stories.example.org/",
        link_for=lambda s: f"https://stories.example.org/sessions/{s.id}",
    )
    events = _events(body)
    assert set(events) == {"School days", "First job", "Cancelled chat", "Long ago", "Paused talk"}
    event = events["School days"]
    assert str(event["UID"]) == f"{soon.id}@stories.example.org"
    assert event.decoded("DTSTART") == soon.scheduled_at
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.decoded("DTEND") == soon.scheduled_at + timedelta(minutes=45)
    assert str(event["STATUS"]) == "CONFIRMED"
    assert int(event["SEQUENCE"]) == 2
    assert "Alice Dublin" in str(event["SUMMARY"])
    description = str(event["DESCRIPTION"])
    assert soon.intention in description
    assert f"https://stories.example.org/sessions/{soon.id}" in description
    assert event.decoded("LAST-MODIFIED") == soon.updated_at.replace(microsecond=0)
    alarms = event.walk("VALARM")
    assert len(alarms) == 1 and alarms[0].decoded("TRIGGER") == timedelta(minutes=-30)
    # No duration planned: one hour.
    later = events["First job"]
    assert later.decoded("DTEND") - later.decoded("DTSTART") == timedelta(minutes=60)
    assert int(later["SEQUENCE"]) == 0
    cancelled = events["Cancelled chat"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert int(cancelled["SEQUENCE"]) == 1
    assert not cancelled.walk("VALARM")
    assert str(events["Long ago"]["STATUS"]) == "CONFIRMED"


def test_ics_leaves_out_old_and_unscheduled_sessions(db_session, people, make_session):
    make_session(
        people["alice"], session_name="Ancient", scheduled_at=utcnow() - timedelta(days=200)
    )
    names = {s.session_name for s in calendar_feed.ics_sessions(db_session, people["coordinator"])}
    assert "Ancient" not in names and "Some day" not in names and "Long ago" in names


# ---- Pages -------------------------------------------------------------------------


def test_calendar_page_lists_days_times_in_zone_and_links(client, login, people):
    login(people["coordinator"])
    response = client.get("/calendar")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    soon = people["sessions"]["soon"]
    assert "School days" in body and "First job" in body and "Paused talk" in body
    assert "Cancelled chat" not in body and "Long ago" not in body and "Some day" not in body
    assert "Bob's harbour story" not in body
    assert f"/sessions/{soon.id}" in body
    assert "Alice Dublin" in body
    assert "about 45 minutes" in body
    assert format_local(soon.scheduled_at, "Europe/Dublin") not in body  # time only under a day
    local = soon.scheduled_at.astimezone(zoneinfo.ZoneInfo("Europe/Dublin"))
    assert f"{local:%H:%M}" in body
    assert f"{local:%A} {local.day} {local:%B %Y}" in body
    assert "Subscribe in your calendar app" in body
    token = calendar_feed.feed_token(SECRET, people["coordinator"])
    assert f"/calendar/feed/{token}.ics" in body
    assert body.index("School days") < body.index("First job")


def test_storyteller_calendar_page_and_its_audit(client, login, people, db_session):
    login(people["coordinator"])
    alice = people["alice"]
    response = client.get(f"/storytellers/{alice.id}/calendar")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Upcoming sessions for Alice Dublin" in body
    assert f"/storytellers/{alice.id}/calendar.ics" in body
    row = db_session.scalar(
        select(AuditLog).where(
            AuditLog.storyteller_id == alice.id, AuditLog.object_type == "calendar"
        )
    )
    assert row is not None and row.actor_id == people["coordinator"].id


def test_storyteller_sees_their_own_calendar_with_interview_links(client, login, people):
    login(people["alice_user"])
    body = client.get("/calendar").get_data(as_text=True)
    soon = people["sessions"]["soon"]
    assert "School days" in body and f"/interview/{soon.id}" in body
    assert "Bob's harbour story" not in body


def test_empty_calendar_says_so(client, login, make_user):
    login(make_user("coordinator"))
    assert "No sessions are planned" in client.get("/calendar").get_data(as_text=True)


def test_download_is_an_ics_file(client, login, people):
    login(people["coordinator"])
    response = client.get("/calendar.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    events = _events(response.data)
    assert "School days" in events and "Bob's harbour story" not in events
    soon = people["sessions"]["soon"]
    assert f"/sessions/{soon.id}" in str(events["School days"]["DESCRIPTION"])


def test_storyteller_download_holds_only_that_storyteller(
    client, login, people, make_storyteller, make_session
):
    other = make_storyteller(display_name="Also granted", granted_to=(people["coordinator"],))
    make_session(other, session_name="Other story", scheduled_at=_soon(4))
    login(people["coordinator"])
    all_events = _events(client.get("/calendar.ics").data)
    assert "Other story" in all_events
    response = client.get(f"/storytellers/{people['alice'].id}/calendar.ics")
    events = _events(response.data)
    assert "School days" in events and "Other story" not in events


def test_feed_works_without_a_cookie_and_links_the_interview(client, people):
    token = calendar_feed.feed_token(SECRET, people["alice_user"])
    response = client.get(f"/calendar/feed/{token}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    events = _events(response.data)
    soon = people["sessions"]["soon"]
    assert "Bob's harbour story" not in events
    assert f"/interview/{soon.id}" in str(events["School days"]["DESCRIPTION"])
    assert str(events["Cancelled chat"]["STATUS"]) == "CANCELLED"


def test_feed_shows_only_what_its_user_may_see(client, people, make_user):
    coordinator_events = _events(
        client.get(
            f"/calendar/feed/{calendar_feed.feed_token(SECRET, people['coordinator'])}.ics"
        ).data
    )
    assert "School days" in coordinator_events and "Bob's harbour story" not in coordinator_events
    admin = make_user("admin")
    admin_events = _events(
        client.get(f"/calendar/feed/{calendar_feed.feed_token(SECRET, admin)}.ics").data
    )
    assert "Bob's harbour story" in admin_events
    stranger = make_user("coordinator")
    assert (
        _events(client.get(f"/calendar/feed/{calendar_feed.feed_token(SECRET, stranger)}.ics").data)
        == {}
    )


def test_wrong_or_tampered_feed_token_is_not_found(client, people):
    token = calendar_feed.feed_token(SECRET, people["alice_user"])
    user_hex, _, signature = token.partition(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for bad in (
        f"{user_hex}.{flipped}",
        f"{people['coordinator'].id.hex}.{signature}",
        f"{uuid.uuid4().hex}.{signature}",
        "not-a-token",
        calendar_feed.feed_token("someone-elses-secret", people["alice_user"]),
    ):
        response = client.get(f"/calendar/feed/{bad}.ics")
        assert response.status_code == 404, bad
        assert "BEGIN:VCALENDAR" not in response.get_data(as_text=True)


def test_feed_stops_working_after_a_password_change(client, login, people):
    user = people["alice_user"]
    old = calendar_feed.feed_token(SECRET, user)
    login(user)
    response = client.post(
        "/account/password",
        data={
            "current_password": "correct horse battery",
            "new_password": "a new long password",
            "confirm_password": "a new long password",
        },
    )
    assert response.status_code == 303
    assert client.get(f"/calendar/feed/{old}.ics").status_code == 404
    page = client.get("/calendar").get_data(as_text=True)
    new = re.search(r"/calendar/feed/([^\"<]+)\.ics", page)
    assert new is not None and new.group(1) != old
    assert client.get(f"/calendar/feed/{new.group(1)}.ics").status_code == 200


def test_calendar_pages_for_unknown_storyteller_are_not_found(client, login, make_user):
    login(make_user("admin"))
    missing = uuid.uuid4()
    assert client.get(f"/storytellers/{missing}/calendar").status_code == 404
    assert client.get(f"/storytellers/{missing}/calendar.ics").status_code == 404


def test_dtstart_is_utc_even_for_a_storyteller_far_away(db_session, people):
    bob_session = people["sessions"]["bob"]
    body = calendar_feed.build_ics(
        db_session, [bob_session], base_url="http://x", link_for=lambda s: "http://x"
    )
    assert f"DTSTART:{bob_session.scheduled_at.astimezone(UTC):%Y%m%dT%H%M%S}Z" in body.decode()
