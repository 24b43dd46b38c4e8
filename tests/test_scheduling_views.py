"""The scheduling pages: forms, bad input, plans, schedule-next, reschedule/cancel, progress."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from storyteller import builtin_content
from storyteller.models import Event, LifeEvent, Session


def _sessions(db) -> int:
    return int(db.scalar(select(func.count()).select_from(Session)) or 0)


@pytest.fixture
def people(make_user, make_storyteller):
    coordinator = make_user("coordinator", name="Daniel")
    user = make_user("storyteller", name="Margaret")
    storyteller = make_storyteller(user=user, granted_to=(coordinator,))
    storyteller.time_zone = "Europe/Dublin"
    return coordinator, user, storyteller


@pytest.fixture
def process(db_session):
    process = builtin_content.ensure_default_process(db_session)
    builtin_content.ensure_builtin_templates(db_session, process)
    return process


def _template(db, name="Childhood exploration"):
    from storyteller.models import SessionTemplate

    return db.scalar(select(SessionTemplate).where(SessionTemplate.template_name == name))


def _form(**changes):
    data = {
        "session_name": "School days",
        "intention": "Capture the first day at school",
        "success_indicators": "At least 2 scenes\nTeachers named",
        "completion_indicators": "Storyteller says that's all",
        "constraints": "Allow skipping",
        "scheduled_at": "2026-12-01T10:00",
        "scheduled_duration_minutes": "30",
        "session_tags": "school, childhood",
        "session_purpose": "Warm-up",
    }
    data.update(changes)
    return data


def test_new_from_a_template_shows_its_defaults(client, login, db_session, people, process):
    coordinator, _user, storyteller = people
    template = _template(db_session)
    login(coordinator)
    body = client.get(
        f"/storytellers/{storyteller.id}/sessions/new?template={template.id}"
    ).get_data(as_text=True)
    assert template.default_intention in body
    assert template.default_success_indicators[0] in body
    assert f'name="template_id" id="template_id" value="{template.id}"' in body
    assert 'value="30"' in body or f'value="{template.default_duration_minutes}"' in body


def test_new_from_a_retired_or_unknown_template_says_so(
    client, login, db_session, people, process
):
    coordinator, _user, storyteller = people
    template = _template(db_session)
    template.is_active = False
    db_session.flush()
    login(coordinator)
    response = client.get(f"/storytellers/{storyteller.id}/sessions/new?template={template.id}")
    assert response.status_code == 400
    assert "is retired" in response.get_data(as_text=True)
    response = client.get(f"/storytellers/{storyteller.id}/sessions/new?template=nonsense")
    assert response.status_code == 400
    assert "That template does not exist." in response.get_data(as_text=True)


def test_new_from_a_node_shows_its_objective_and_linked_events(
    client, login, db_session, people, process
):
    coordinator, _user, storyteller = people
    node = process.nodes[1]
    event = LifeEvent(storyteller_id=storyteller.id, event_name="Dorchester",
                      life_period="childhood")
    db_session.add(event)
    db_session.flush()
    login(coordinator)
    body = client.get(
        f"/storytellers/{storyteller.id}/sessions/new?node={node.id}"
    ).get_data(as_text=True)
    assert node.agent_objective in body
    assert f'id="event-{event.id}" name="life_event_ids" value="{event.id}" checked' in body


def test_schedule_from_scratch_and_see_it(client, login, db_session, people):
    coordinator, _user, storyteller = people
    event = LifeEvent(storyteller_id=storyteller.id, event_name="Convent school")
    db_session.add(event)
    db_session.flush()
    login(coordinator)
    form = _form(life_event_ids=str(event.id), primary_life_event_id=str(event.id),
                 **{f"coverage_{event.id}": "introduction"})
    response = client.post(f"/storytellers/{storyteller.id}/sessions/new", data=form)
    assert response.status_code == 303
    session = db_session.scalar(select(Session).where(Session.storyteller_id == storyteller.id))
    assert response.headers["Location"].endswith(f"/sessions/{session.id}")
    assert session.session_source == "coordinator"
    assert session.scheduled_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert session.session_tags == ["school", "childhood"]
    [link] = session.life_event_links
    assert link.is_primary_focus and link.coverage_level == "introduction"
    page = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Convent school" in page and "(main focus)" in page
    assert "Session planned" in page and "Change or reschedule" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"intention": ""}, "intention", "Please say what this session is for."),
        ({"scheduled_duration_minutes": "-15"}, "scheduled_duration_minutes", "more than 0"),
        ({"scheduled_at": "31/12/2026"}, "scheduled_at", "Please give a date and time"),
        ({"template_id": "00000000-0000-4000-8000-000000000000"}, "template_id",
         "That template does not exist."),
    ],
)
def test_bad_input_is_shown_again_with_the_message(
    client, login, db_session, people, changes, field, message
):
    coordinator, _user, storyteller = people
    login(coordinator)
    before = _sessions(db_session)
    response = client.post(f"/storytellers/{storyteller.id}/sessions/new", data=_form(**changes))
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert message in body
    assert f'id="{field}-error"' in body
    if field != "template_id":
        assert f'aria-describedby="{field}-help {field}-error"' in body or (
            f'aria-describedby="{field}-error"' in body
        )
    # What was typed is kept.
    assert "School days" in body
    assert _sessions(db_session) == before


def test_plan_an_event_over_three_sessions(client, login, db_session, people):
    coordinator, _user, storyteller = people
    event = LifeEvent(storyteller_id=storyteller.id, event_name="Navy years", start_year=1952,
                      end_year=1956, location="Portsmouth")
    db_session.add(event)
    db_session.flush()
    login(coordinator)
    page = client.get(f"/life-events/{event.id}/plan").get_data(as_text=True)
    assert "Navy years: deep dive" in page
    response = client.post(
        f"/life-events/{event.id}/plan",
        data={"first_at": "2026-12-01T10:00", "spacing_days": "7", "finish_by": "2026-12-31"},
    )
    assert response.status_code == 303
    parent = db_session.scalar(
        select(Session).where(Session.session_name == "Plan: Navy years")
    )
    assert response.headers["Location"].endswith(f"/sessions/{parent.id}")
    assert [c.scheduled_at.date().isoformat() for c in parent.child_sessions] == [
        "2026-12-01", "2026-12-08", "2026-12-15"
    ]
    body = client.get(f"/sessions/{parent.id}").get_data(as_text=True)
    assert "Sessions in this plan" in body and "Navy years: reflection" in body


def test_a_plan_ending_before_it_starts_is_refused(client, login, db_session, people):
    coordinator, _user, storyteller = people
    event = LifeEvent(storyteller_id=storyteller.id, event_name="Navy years")
    db_session.add(event)
    db_session.flush()
    login(coordinator)
    before = _sessions(db_session)
    response = client.post(
        f"/life-events/{event.id}/plan",
        data={"first_at": "2026-12-01T10:00", "spacing_days": "7", "finish_by": "2026-11-01"},
    )
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "The end date is before the first session." in body
    assert 'id="finish_by-error"' in body and 'value="2026-11-01"' in body
    assert _sessions(db_session) == before


def test_schedule_the_next_session_in_one_click(client, login, db_session, people,
                                                make_session):
    coordinator, _user, storyteller = people
    done = make_session(storyteller, status="completed",
                        next_session_suggestion="A reflection session: what it means today.")
    login(coordinator)
    page = client.get(f"/sessions/{done.id}").get_data(as_text=True)
    assert "Plan this next session" in page
    response = client.post(f"/sessions/{done.id}/schedule-next")
    assert response.status_code == 303
    follow = db_session.scalar(select(Session).where(Session.parent_session_id == done.id))
    assert follow.intention == "A reflection session: what it means today."
    assert response.headers["Location"].endswith(f"/sessions/{follow.id}/edit")
    edit = client.get(f"/sessions/{follow.id}/edit")
    assert edit.status_code == 200
    assert "A reflection session: what it means today." in edit.get_data(as_text=True)
    page = client.get(f"/sessions/{done.id}").get_data(as_text=True)
    assert "Already planned" in page


def test_schedule_next_of_a_running_session_says_why_not(client, login, db_session, people,
                                                        make_session):
    coordinator, _user, storyteller = people
    session = make_session(storyteller)
    login(coordinator)
    response = client.post(f"/sessions/{session.id}/schedule-next", follow_redirects=True)
    assert "Only a completed session has a next session to plan." in response.get_data(
        as_text=True
    )
    assert db_session.scalar(
        select(func.count()).select_from(Session).where(Session.parent_session_id == session.id)
    ) == 0


def test_reschedule_and_cancel_show_their_history(client, login, db_session, people):
    coordinator, _user, storyteller = people
    login(coordinator)
    client.post(f"/storytellers/{storyteller.id}/sessions/new", data=_form())
    session = db_session.scalar(select(Session).where(Session.storyteller_id == storyteller.id))
    response = client.post(
        f"/sessions/{session.id}/edit", data=_form(scheduled_at="2026-12-03T14:00")
    )
    assert response.status_code == 303
    page = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Rescheduled from Tue 1 Dec 10:00 to Thu 3 Dec 14:00 by Daniel" in page

    assert client.get(f"/sessions/{session.id}/cancel").status_code == 200
    response = client.post(f"/sessions/{session.id}/cancel", data={"reason": "In hospital"})
    assert response.status_code == 303
    page = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Cancelled by Daniel. Reason: “In hospital”" in page
    assert db_session.scalar(
        select(func.count()).select_from(Event).where(
            Event.session_id == session.id, Event.event_type.in_(
                ["session.rescheduled", "session.cancelled"])
        )
    ) == 2


def test_bad_input_when_editing_changes_nothing(client, login, db_session, people,
                                                make_session):
    coordinator, _user, storyteller = people
    session = make_session(storyteller, scheduled_at=datetime(2026, 12, 1, 10, tzinfo=UTC))
    login(coordinator)
    response = client.post(f"/sessions/{session.id}/edit",
                           data=_form(intention="", scheduled_at="2026-12-09T10:00"))
    assert response.status_code == 400
    assert "Please say what this session is for." in response.get_data(as_text=True)
    db_session.expire_all()
    stored = db_session.get(Session, session.id)
    assert stored.scheduled_at == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert stored.intention != ""


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_an_ended_session_cannot_be_rescheduled_or_cancelled(
    client, login, db_session, people, make_session, status
):
    coordinator, _user, storyteller = people
    session = make_session(storyteller, status=status,
                           scheduled_at=datetime(2026, 12, 1, 10, tzinfo=UTC))
    login(coordinator)
    for method, path, data in (
        ("GET", "edit", None),
        ("POST", "edit", _form(scheduled_at="2026-12-09T10:00")),
        ("GET", "cancel", None),
        ("POST", "cancel", {"reason": "x"}),
    ):
        response = client.open(f"/sessions/{session.id}/{path}", method=method, data=data)
        assert response.status_code == 409, (method, path)
        assert "can no longer be changed" in response.get_data(as_text=True)
    db_session.expire_all()
    stored = db_session.get(Session, session.id)
    assert stored.status == status
    assert stored.scheduled_at == datetime(2026, 12, 1, 10, tzinfo=UTC)


def test_progress_pages(client, login, db_session, people, make_session):
    _coordinator, user, storyteller = people
    session = make_session(storyteller, success_indicators=["At least 3 scenes"],
                           completion_indicators=["Storyteller says that's all"])
    login(user)
    body = client.get(f"/sessions/{session.id}/progress").get_data(as_text=True)
    assert "At least 3 scenes" in body and "Not yet" in body and "0%" in body
    body = client.get(f"/storytellers/{storyteller.id}/progress").get_data(as_text=True)
    assert "Sessions" in body and "Stories approved" in body
    assert "Plan a session" not in body  # the storyteller reads, does not plan
