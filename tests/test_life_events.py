"""Life events: validation, create / edit / delete, the timeline, and their pages."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from storyteller import life_events
from storyteller.life_events import LifeEventInputError
from storyteller.models import (
    AuditLog,
    Event,
    LifeEvent,
    SessionInteraction,
    SessionLifeEvent,
    utcnow,
)
from storyteller.sessions import create_session, link_life_event

THIS_YEAR = utcnow().year


def _count_events(db, storyteller_id) -> int:
    return db.scalar(
        select(func.count())
        .select_from(LifeEvent)
        .where(LifeEvent.storyteller_id == storyteller_id)
    )


def _event(db, storyteller, **fields) -> LifeEvent:
    fields.setdefault("event_name", "An event")
    event = LifeEvent(storyteller_id=storyteller.id, **fields)
    db.add(event)
    db.flush()
    return event


# ---- Validation (domain) -----------------------------------------------------------------

BAD_INPUTS = [
    ({"event_name": "   "}, "event_name", "Please give the event a name"),
    ({"event_name": "x" * 201}, "event_name", "at most 200 characters"),
    ({"start_year": "nineteen fifty"}, "start_year", "must be a year written in numbers"),
    ({"start_year": "1950.5"}, "start_year", "must be a year written in numbers"),
    ({"end_year": "-1960"}, "end_year", "must be a year written in numbers"),
    ({"start_year": "1849"}, "start_year", f"between 1850 and {THIS_YEAR}"),
    ({"start_year": str(THIS_YEAR + 1)}, "start_year", f"between 1850 and {THIS_YEAR}"),
    ({"end_year": str(THIS_YEAR + 3)}, "end_year", f"between 1850 and {THIS_YEAR}"),
    ({"start_year": "1960", "end_year": "1955"}, "end_year", "cannot be before the start year"),
    ({"approximate_start": "a" * 51}, "approximate_start", "at most 50 characters"),
    ({"approximate_end": "b" * 51}, "approximate_end", "at most 50 characters"),
    ({"event_type": "t" * 51}, "event_type", "at most 50 characters"),
    ({"location": "l" * 201}, "location", "at most 200 characters"),
    ({"description": "d" * 5001}, "description", "at most 5000 characters"),
    ({"life_period": "the_moon_years"}, "life_period", "choose a period of life"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_INPUTS)
def test_create_refuses_bad_input_and_saves_nothing(
    db_session, make_storyteller, change, field, message
):
    storyteller = make_storyteller()
    values = {"event_name": "Moving to Boston", **change}
    with pytest.raises(LifeEventInputError) as caught:
        life_events.create_life_event(db_session, storyteller, values, actor_id=None)
    assert caught.value.field == field
    assert message in caught.value.errors[field]
    assert _count_events(db_session, storyteller.id) == 0


def test_every_problem_is_reported_at_once(db_session, make_storyteller):
    storyteller = make_storyteller()
    with pytest.raises(LifeEventInputError) as caught:
        life_events.create_life_event(
            db_session,
            storyteller,
            {"event_name": "", "start_year": "abc", "end_year": "1700"},
            actor_id=None,
        )
    assert list(caught.value.errors) == ["event_name", "start_year", "end_year"]
    assert caught.value.field == "event_name"


def test_create_cleans_and_keeps_every_field(db_session, make_storyteller, make_user):
    coordinator = make_user("coordinator")
    storyteller = make_storyteller(granted_to=[coordinator])
    event = life_events.create_life_event(
        db_session,
        storyteller,
        {
            "event_name": "  Moving   to Boston ",
            "event_type": "Move",
            "life_period": "migration",
            "start_year": " 1948 ",
            "end_year": 1950,
            "approximate_start": "spring 1948",
            "approximate_end": "",
            "location": "Boston",
            "description": "We took the train.\nIt rained.",
        },
        actor_id=coordinator.id,
        ip_address="127.0.0.1",
    )
    assert event.event_name == "Moving to Boston"
    assert (event.start_year, event.end_year) == (1948, 1950)
    assert event.approximate_start == "spring 1948"
    assert event.approximate_end is None
    assert event.description == "We took the train.\nIt rained."
    assert event.life_period == "migration"
    audit = db_session.scalars(
        select(AuditLog).where(AuditLog.object_id == str(event.id), AuditLog.action == "create")
    ).one()
    assert audit.actor_id == coordinator.id
    assert audit.storyteller_id == storyteller.id
    assert db_session.scalar(
        select(func.count()).select_from(Event).where(Event.event_type == "life_event.created")
    )


def test_this_year_and_1850_are_allowed(db_session, make_storyteller):
    storyteller = make_storyteller()
    event = life_events.create_life_event(
        db_session,
        storyteller,
        {"event_name": "Family history", "start_year": "1850", "end_year": str(THIS_YEAR)},
        actor_id=None,
    )
    assert (event.start_year, event.end_year) == (1850, THIS_YEAR)


def test_update_changes_values_and_refuses_bad_ones_without_change(db_session, make_storyteller):
    storyteller = make_storyteller()
    event = _event(db_session, storyteller, event_name="Wedding", start_year=1960)
    life_events.update_life_event(
        db_session,
        event,
        {"event_name": "Our wedding", "start_year": "1961", "location": "Cork"},
        actor_id=None,
    )
    assert (event.event_name, event.start_year, event.location) == ("Our wedding", 1961, "Cork")
    audit = db_session.scalars(
        select(AuditLog).where(AuditLog.object_id == str(event.id), AuditLog.action == "update")
    ).one()
    assert audit.details == {"fields": ["event_name", "location", "start_year"]}
    with pytest.raises(LifeEventInputError):
        life_events.update_life_event(
            db_session, event, {"event_name": "Renamed", "start_year": "later"}, actor_id=None
        )
    assert (event.event_name, event.start_year) == ("Our wedding", 1961)


def test_delete_unlinks_sessions_and_keeps_the_answers(db_session, make_storyteller):
    storyteller = make_storyteller()
    event = _event(db_session, storyteller, event_name="The war years", start_year=1940)
    other = _event(db_session, storyteller, event_name="School", start_year=1935)
    session = create_session(db_session, storyteller_id=storyteller.id, intention="The war years")
    link_life_event(db_session, session, event.id, coverage_level="introduction")
    link_life_event(db_session, session, other.id)
    interaction = SessionInteraction(
        session_id=session.id,
        life_event_id=event.id,
        interaction_sequence=1,
        agent_prompt="Where were you when the war began?",
        storyteller_response="In Dublin, at my aunt's.",
        response_method="text",
    )
    db_session.add(interaction)
    db_session.flush()

    unlinked = life_events.delete_life_event(db_session, event, actor_id=None)

    assert unlinked == 1
    assert db_session.get(LifeEvent, event.id) is None
    links = db_session.scalars(
        select(SessionLifeEvent).where(SessionLifeEvent.session_id == session.id)
    ).all()
    assert [link.life_event_id for link in links] == [other.id]
    assert [link.life_event_id for link in session.life_event_links] == [other.id]
    assert interaction.life_event_id is None
    assert interaction.storyteller_response == "In Dublin, at my aunt's."
    assert db_session.scalar(
        select(AuditLog.details).where(
            AuditLog.object_id == str(event.id), AuditLog.action == "delete"
        )
    ) == {"event_name": "The war years", "sessions_unlinked": 1}


def test_life_event_or_404_hides_other_storytellers_events(db_session, make_user, make_storyteller):
    from werkzeug.exceptions import NotFound

    coordinator = make_user("coordinator")
    mine = make_storyteller(granted_to=[coordinator])
    theirs = make_storyteller()
    my_event = _event(db_session, mine)
    their_event = _event(db_session, theirs)
    assert life_events.life_event_or_404(db_session, coordinator, my_event.id) is my_event
    for missing in (their_event.id, uuid.uuid4()):
        with pytest.raises(NotFound):
            life_events.life_event_or_404(db_session, coordinator, missing)


def test_who_may_edit_and_delete(db_session, make_user, make_storyteller):
    coordinator, reviewer, admin = (make_user(r) for r in ("coordinator", "reviewer", "admin"))
    owner = make_user("storyteller")
    storyteller = make_storyteller(user=owner, granted_to=[coordinator, reviewer])
    stranger = make_user("coordinator")
    sid = storyteller.id
    assert [life_events.can_edit(db_session, u, sid) for u in (owner, coordinator, admin)] == [
        True,
        True,
        True,
    ]
    assert not life_events.can_edit(db_session, reviewer, sid)
    assert not life_events.can_edit(db_session, stranger, sid)
    assert life_events.can_delete(db_session, coordinator, sid)
    assert life_events.can_delete(db_session, admin, sid)
    assert not life_events.can_delete(db_session, owner, sid)
    assert not life_events.can_delete(db_session, reviewer, sid)
    assert not life_events.can_delete(db_session, stranger, sid)


# ---- The timeline --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("spring 1948", 1948),
        ("early 1950s", 1950),
        ("around 1899 or 1900", 1899),
        ("when I was small", None),
        ("12345", None),
        ("", None),
        (None, None),
    ],
)
def test_year_in_text(text, year):
    assert life_events.year_in_text(text) == year


def test_timeline_is_in_life_order_with_approximate_and_undated(db_session, make_storyteller):
    storyteller = make_storyteller(birth_year=1941)
    # Added in a jumbled order on purpose.
    wedding = _event(db_session, storyteller, event_name="Wedding", start_year=1963)
    undated_a = _event(db_session, storyteller, event_name="A summer by the sea")
    bakery = _event(
        db_session,
        storyteller,
        event_name="Bakery years",
        approximate_start="early 1950s",
        approximate_end="1958",
    )
    born = _event(db_session, storyteller, event_name="Born in Cork", start_year=1941)
    war = _event(db_session, storyteller, event_name="Evacuation", start_year=1941, end_year=1945)
    retired = _event(db_session, storyteller, event_name="Retired", approximate_end="until 2001")
    undated_b = _event(
        db_session, storyteller, event_name="Grandmother's kitchen", approximate_start="long ago"
    )

    line = life_events.timeline(db_session, storyteller)

    assert [e.life_event for e in line.dated] == [born, war, bakery, wedding, retired]
    assert [e.life_event for e in line.undated] == [undated_a, undated_b]
    by_event = {e.life_event.id: e for e in line.entries}
    assert by_event[born.id].age == "age 0"
    assert by_event[war.id].age == "ages 0–4"
    assert by_event[war.id].when == "1941–1945"
    assert by_event[bakery.id].age == "about ages 9–17"
    assert by_event[bakery.id].when == "early 1950s – 1958"
    assert by_event[wedding.id].age == "age 22"
    assert by_event[retired.id].sort_year == 2001
    assert by_event[undated_a.id].age == ""
    assert by_event[undated_a.id].when == ""


def test_timeline_without_birth_year_has_no_ages(db_session, make_storyteller):
    storyteller = make_storyteller()
    _event(db_session, storyteller, event_name="Wedding", start_year=1963)
    [entry] = life_events.timeline(db_session, storyteller).dated
    assert entry.age == ""


def test_timeline_counts_sessions_held_and_planned_not_cancelled(db_session, make_storyteller):
    storyteller = make_storyteller()
    event = _event(db_session, storyteller, event_name="School", start_year=1950)
    statuses = ["completed", "paused", "scheduled", "scheduled", "cancelled"]
    for status in statuses:
        session = create_session(db_session, storyteller_id=storyteller.id, intention="School")
        link_life_event(db_session, session, event.id)
        session.status = status
    db_session.flush()
    [entry] = life_events.timeline(db_session, storyteller).entries
    assert (entry.sessions_held, entry.sessions_planned) == (2, 2)


# ---- Pages ---------------------------------------------------------------------------------


@pytest.fixture
def granted(make_user, make_storyteller):
    coordinator = make_user("coordinator")
    storyteller = make_storyteller(
        display_name="Margaret Doyle", birth_year=1941, granted_to=[coordinator]
    )
    return coordinator, storyteller


def test_timeline_page_shows_events_in_order_with_ages(client, login, db_session, granted):
    coordinator, storyteller = granted
    _event(db_session, storyteller, event_name="Wedding in Cork", start_year=1963)
    _event(db_session, storyteller, event_name="First school day", start_year=1947)
    _event(db_session, storyteller, event_name="A song my father sang")
    db_session.commit()
    login(coordinator)
    response = client.get(f"/storytellers/{storyteller.id}/life-events")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.index("First school day") < body.index("Wedding in Cork")
    assert body.index("Wedding in Cork") < body.index("Undated") < body.index("A song my father")
    assert "age 6" in body and "age 22" in body
    assert "Add a life event" in body
    assert db_session.scalar(
        select(func.count())
        .select_from(AuditLog)
        .where(AuditLog.storyteller_id == storyteller.id, AuditLog.object_type == "life_events")
    )


def test_add_a_life_event_through_the_form(client, login, db_session, granted):
    coordinator, storyteller = granted
    login(coordinator)
    page = client.get(f"/storytellers/{storyteller.id}/life-events/new")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.get_data(as_text=True)
    response = client.post(
        f"/storytellers/{storyteller.id}/life-events/new",
        data={
            "event_name": "Moving to Boston",
            "start_year": "1948",
            "approximate_start": "spring 1948",
            "life_period": "migration",
            "location": "Boston",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/storytellers/{storyteller.id}/life-events")
    event = db_session.scalars(
        select(LifeEvent).where(LifeEvent.storyteller_id == storyteller.id)
    ).one()
    assert (event.event_name, event.start_year, event.location) == (
        "Moving to Boston",
        1948,
        "Boston",
    )
    followed = client.get(response.headers["Location"])
    assert "“Moving to Boston” is added to the timeline." in followed.get_data(as_text=True)


@pytest.mark.parametrize(("change", "field", "message"), BAD_INPUTS)
def test_the_form_shows_each_problem_next_to_its_field(
    client, login, db_session, granted, change, field, message
):
    coordinator, storyteller = granted
    login(coordinator)
    kept = next(name for name in ("location", "event_type") if name not in change)
    values = {"event_name": "Moving to Boston", kept: "Boston, Mass.", **change}
    response = client.post(f"/storytellers/{storyteller.id}/life-events/new", data=values)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert f'id="{field}-error"' in body
    error_at = body.index(f'id="{field}-error"')
    assert message in body[error_at : error_at + 300]
    assert (
        f"{field}-error"
        in body[body.index(f'id="{field}"') - 400 : body.index(f'id="{field}"') + 400]
    )
    assert 'aria-invalid="true"' in body
    assert "Boston, Mass." in body  # the values typed are kept
    assert _count_events(db_session, storyteller.id) == 0


def test_edit_page_is_filled_in_and_saves(client, login, db_session, granted):
    coordinator, storyteller = granted
    event = _event(db_session, storyteller, event_name="Wedding", start_year=1963, location="Cork")
    db_session.commit()
    login(coordinator)
    page = client.get(f"/life-events/{event.id}/edit").get_data(as_text=True)
    assert 'value="Wedding"' in page and 'value="1963"' in page and 'value="Cork"' in page
    bad = client.post(
        f"/life-events/{event.id}/edit",
        data={"event_name": "Our wedding", "start_year": "1963", "end_year": "1962"},
    )
    assert bad.status_code == 400
    assert "cannot be before the start year" in bad.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(LifeEvent, event.id).event_name == "Wedding"
    good = client.post(
        f"/life-events/{event.id}/edit",
        data={"event_name": "Our wedding", "start_year": "1963", "life_period": "love_and_family"},
    )
    assert good.status_code == 303
    db_session.expire_all()
    saved = db_session.get(LifeEvent, event.id)
    assert (saved.event_name, saved.life_period, saved.location) == (
        "Our wedding",
        "love_and_family",
        None,
    )


def test_delete_asks_first_then_deletes_and_unlinks(client, login, db_session, granted):
    coordinator, storyteller = granted
    event = _event(db_session, storyteller, event_name="The war years", start_year=1940)
    session = create_session(db_session, storyteller_id=storyteller.id, intention="War years")
    link_life_event(db_session, session, event.id)
    db_session.commit()
    event_id, session_id = event.id, session.id
    login(coordinator)
    page = client.get(f"/life-events/{event_id}/delete")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Delete “The war years”?" in body and "linked to 1 session" in body
    assert db_session.get(LifeEvent, event_id) is not None  # asking deletes nothing
    response = client.post(f"/life-events/{event_id}/delete")
    assert response.status_code == 303
    db_session.expire_all()
    assert db_session.get(LifeEvent, event_id) is None
    assert not db_session.scalars(
        select(SessionLifeEvent).where(SessionLifeEvent.session_id == session_id)
    ).all()
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "no longer linked to 1 session" in followed


def test_the_storyteller_adds_and_edits_their_own_but_does_not_delete(
    client, login, db_session, make_user
):
    owner = make_user("storyteller")
    storyteller = owner.storyteller_profile
    event = _event(db_session, storyteller, event_name="My first job", start_year=1957)
    db_session.commit()
    login(owner)
    assert (
        client.post(
            f"/storytellers/{storyteller.id}/life-events/new",
            data={"event_name": "Learning to swim", "start_year": "1950"},
        ).status_code
        == 303
    )
    assert (
        client.post(
            f"/life-events/{event.id}/edit", data={"event_name": "My first job, at the mill"}
        ).status_code
        == 303
    )
    timeline = client.get(f"/storytellers/{storyteller.id}/life-events").get_data(as_text=True)
    assert "Learning to swim" in timeline and "My first job, at the mill" in timeline
    assert f"/life-events/{event.id}/delete" not in timeline
    assert client.post(f"/life-events/{event.id}/delete").status_code == 403
    assert _count_events(db_session, storyteller.id) == 2


def test_a_reviewer_reads_but_cannot_change(client, login, db_session, make_user, make_storyteller):
    reviewer = make_user("reviewer")
    storyteller = make_storyteller(granted_to=[reviewer])
    event = _event(db_session, storyteller, event_name="Wedding", start_year=1963)
    db_session.commit()
    login(reviewer)
    page = client.get(f"/storytellers/{storyteller.id}/life-events")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Wedding" in body and "Add a life event" not in body
    assert "/edit" not in body
    assert (
        client.post(
            f"/storytellers/{storyteller.id}/life-events/new", data={"event_name": "X"}
        ).status_code
        == 403
    )
    assert client.post(f"/life-events/{event.id}/edit", data={"event_name": "X"}).status_code == 403
    assert _count_events(db_session, storyteller.id) == 1


def test_unknown_life_event_is_not_found(client, login, make_user):
    login(make_user("admin"))
    for action in ("edit", "delete"):
        assert client.get(f"/life-events/{uuid.uuid4()}/{action}").status_code == 404
        assert client.post(f"/life-events/{uuid.uuid4()}/{action}").status_code == 404
    assert client.get(f"/storytellers/{uuid.uuid4()}/life-events").status_code == 404
