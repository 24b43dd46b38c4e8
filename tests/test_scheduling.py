"""storyteller.scheduling: every way to schedule, plans, schedule-next, reschedule and cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from storyteller import builtin_content, scheduling
from storyteller.models import (
    Event,
    LifeEvent,
    ModuleState,
    Session,
    SessionLifeEvent,
    StateTransition,
)
from storyteller.scheduling import SessionForm, SessionFormError

# ----------------------------------------------------------------------------- helpers


def _count(db, model) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


def _event(db, storyteller, name, **fields) -> LifeEvent:
    event = LifeEvent(storyteller_id=storyteller.id, event_name=name, **fields)
    db.add(event)
    db.flush()
    return event


def _events_of(db, session_id, event_type):
    return list(
        db.scalars(
            select(Event)
            .where(Event.session_id == session_id, Event.event_type == event_type)
            .order_by(Event.sequence)
        )
    )


def _transitions(db, session_id):
    return list(
        db.scalars(
            select(StateTransition)
            .join(ModuleState, StateTransition.to_state_id == ModuleState.id)
            .where(
                ModuleState.session_id == session_id,
                ModuleState.state_type == scheduling.SCHEDULE_STATE,
            )
            .order_by(StateTransition.created_at)
        )
    )


@pytest.fixture
def process(db_session):
    return builtin_content.ensure_default_process(db_session)


@pytest.fixture
def template(db_session, process):
    templates = builtin_content.ensure_builtin_templates(db_session, process)
    return next(t for t in templates if t.template_name == "Childhood exploration")


@pytest.fixture
def coordinator(make_user):
    return make_user("coordinator", name="Daniel Coordinator")


@pytest.fixture
def storyteller(make_storyteller, coordinator):
    return make_storyteller(
        display_name="Margaret", granted_to=(coordinator,), time_zone="Europe/Dublin"
    )


# ----------------------------------------------------------------------------- from a template


def test_template_defaults_are_copied_into_the_form(db_session, storyteller, template):
    home = _event(db_session, storyteller, "The house on Adams Street", event_type="childhood")
    _event(db_session, storyteller, "Navy years", event_type="military")
    form = scheduling.form_from_template(db_session, template.id, storyteller)
    assert form.session_name == "Childhood exploration"
    assert form.intention == template.default_intention
    assert form.success_indicators.splitlines() == template.default_success_indicators
    assert form.completion_indicators.splitlines() == template.default_completion_indicators
    assert form.constraints.splitlines() == template.default_constraints
    assert form.procedure_notes == template.default_procedure_notes
    assert form.scheduled_duration_minutes == str(template.default_duration_minutes)
    assert form.template_id == str(template.id)
    # Life events of a type the template is suggested for are ticked.
    assert form.life_event_ids == [str(home.id)]


def test_scheduling_from_a_template_keeps_every_edit(
    db_session, storyteller, template, coordinator
):
    home = _event(db_session, storyteller, "The house on Adams Street", event_type="childhood")
    form = scheduling.form_from_template(db_session, template.id, storyteller)
    form.intention = "Capture the kitchen on Adams Street"
    form.success_indicators = "Two scenes in the kitchen\nMother described"
    form.scheduled_at = "2026-12-01T10:00"
    form.scheduled_duration_minutes = "40"
    form.session_tags = "childhood, Kitchen, childhood"
    form.session_purpose = "Warm-up"
    form.primary_life_event_id = str(home.id)
    form.coverage = {str(home.id): "deep_dive"}
    session = scheduling.create_from_form(db_session, storyteller, form, user=coordinator)

    db_session.expire_all()
    stored = db_session.get(Session, session.id)
    assert stored.session_source == "template"
    assert stored.session_template_id == template.id
    assert stored.process_version_id == template.process_version_id
    assert stored.intention == "Capture the kitchen on Adams Street"
    assert stored.success_indicators == ["Two scenes in the kitchen", "Mother described"]
    assert stored.completion_indicators == template.default_completion_indicators
    # 10:00 in Dublin in December is 10:00 UTC.
    assert stored.scheduled_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert stored.scheduled_duration_minutes == 40
    assert stored.session_tags == ["childhood", "Kitchen"]
    assert stored.session_purpose == "Warm-up"
    assert stored.created_by_id == coordinator.id
    [link] = stored.life_event_links
    assert (link.life_event_id, link.is_primary_focus, link.coverage_level) == (
        home.id,
        True,
        "deep_dive",
    )
    # The first schedule state exists; nothing changed yet, so no transition.
    assert _transitions(db_session, session.id) == []


def test_a_retired_or_unknown_template_is_refused(db_session, storyteller, template):
    template.is_active = False
    db_session.flush()
    with pytest.raises(scheduling.SchedulingError) as refused:
        scheduling.form_from_template(db_session, template.id, storyteller)
    assert refused.value.field == "template_id"
    assert "retired" in refused.value.message

    before = _count(db_session, Session)
    for template_id in (str(template.id), "00000000-0000-4000-8000-000000000000", "nonsense"):
        form = SessionForm(intention="Anything", template_id=template_id)
        with pytest.raises(SessionFormError) as bad:
            scheduling.create_from_form(db_session, storyteller, form, user=None)
        assert "template_id" in bad.value.errors
    assert _count(db_session, Session) == before


def test_editing_a_session_from_a_template_retired_since_still_works(
    db_session, storyteller, template
):
    form = scheduling.form_from_template(db_session, template.id, storyteller)
    session = scheduling.create_from_form(db_session, storyteller, form, user=None)
    template.is_active = False
    db_session.flush()
    edit = scheduling.form_from_session(session, storyteller.time_zone)
    edit.intention = "Still about the childhood home"
    scheduling.update_from_form(db_session, session, edit, user=None)
    assert session.intention == "Still about the childhood home"
    assert session.session_template_id == template.id


# ----------------------------------------------------------------------------- from a process node


def test_parse_constraints_takes_one_per_line_without_bullets():
    text = "- Keep it light\n\n2. Don't ask about the war yet\n  * No more than 30 minutes  \n"
    assert scheduling.parse_constraints(text) == [
        "Keep it light",
        "Don't ask about the war yet",
        "No more than 30 minutes",
    ]
    assert scheduling.parse_constraints(None) == []


def test_initialize_session_from_process_node(db_session, storyteller, process, coordinator):
    node = next(n for n in process.nodes if n.node_name == "Childhood")
    home = _event(db_session, storyteller, "Growing up in Dorchester", life_period="childhood")
    family = _event(db_session, storyteller, "My big family", event_type="Family")
    _event(db_session, storyteller, "Navy years", event_type="military", life_period="work")
    when = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)

    session = scheduling.initialize_session_from_process_node(
        db_session, storyteller, node, user=coordinator, scheduled_at=when
    )

    assert session.session_source == "process_node"
    assert session.current_process_node_id == node.id
    assert session.process_version_id == process.id
    assert session.session_name == "Childhood session"
    assert session.intention == node.agent_objective
    assert session.constraints == [
        "Don't push on sensitive family topics without consent",
        "Allow the storyteller to skip",
    ]
    assert session.procedure_notes == node.user_facing_text
    assert session.success_indicators and session.completion_indicators
    assert session.scheduled_at == when
    linked = {link.life_event_id: link for link in session.life_event_links}
    assert set(linked) == {home.id, family.id}
    assert sum(1 for link in linked.values() if link.is_primary_focus) == 1


def test_an_unknown_process_node_is_refused(db_session, storyteller):
    with pytest.raises(scheduling.SchedulingError) as refused:
        scheduling.form_from_node(db_session, "00000000-0000-4000-8000-000000000000", storyteller)
    assert refused.value.field == "process_node_id"
    form = SessionForm(intention="x", process_node_id="00000000-0000-4000-8000-000000000000")
    with pytest.raises(SessionFormError) as bad:
        scheduling.create_from_form(db_session, storyteller, form, user=None)
    assert "process_node_id" in bad.value.errors


# ----------------------------------------------------------------------------- from scratch


def test_from_scratch_with_a_preselected_life_event(db_session, storyteller, coordinator):
    event = _event(db_session, storyteller, "Wedding in Galway", start_year=1961)
    form = scheduling.blank_form(life_event=event)
    assert form.life_event_ids == [str(event.id)]
    assert form.primary_life_event_id == str(event.id)
    form.intention = "The wedding day"
    session = scheduling.create_from_form(db_session, storyteller, form, user=coordinator)
    assert session.session_source == "coordinator"
    assert session.session_template_id is None and session.current_process_node_id is None
    assert session.scheduled_at is None
    [link] = session.life_event_links
    assert link.is_primary_focus and link.coverage_level == "exploration"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"intention": "   "}, "intention", "what this session is for"),
        ({"scheduled_duration_minutes": "-10"}, "scheduled_duration_minutes", "more than 0"),
        ({"scheduled_duration_minutes": "0"}, "scheduled_duration_minutes", "more than 0"),
        ({"scheduled_duration_minutes": "241"}, "scheduled_duration_minutes", "240"),
        ({"scheduled_duration_minutes": "half an hour"}, "scheduled_duration_minutes", "whole"),
        ({"scheduled_at": "next Tuesday"}, "scheduled_at", "date and time"),
        ({"scheduled_at": "2026-02-30T10:00"}, "scheduled_at", "date and time"),
        ({"session_tags": "x" * 51}, "session_tags", "longer than"),
        ({"life_event_ids": ["00000000-0000-4000-8000-000000000000"]}, "life_event_ids", "exist"),
        ({"parent_session_id": "00000000-0000-4000-8000-000000000000"}, "parent_session_id",
         "exist"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_saved(
    db_session, storyteller, changes, field, words
):
    form = SessionForm(intention="Capture the school years", scheduled_duration_minutes="30")
    for key, value in changes.items():
        setattr(form, key, value)
    before = (_count(db_session, Session), _count(db_session, SessionLifeEvent),
              _count(db_session, Event))
    with pytest.raises(SessionFormError) as bad:
        scheduling.create_from_form(db_session, storyteller, form, user=None)
    assert field in bad.value.errors
    assert words in bad.value.errors[field]
    assert before == (_count(db_session, Session), _count(db_session, SessionLifeEvent),
                      _count(db_session, Event))


def test_several_mistakes_are_reported_together(db_session, storyteller):
    form = SessionForm(intention="", scheduled_duration_minutes="-5", scheduled_at="soon")
    with pytest.raises(SessionFormError) as bad:
        scheduling.create_from_form(db_session, storyteller, form, user=None)
    assert set(bad.value.errors) == {"intention", "scheduled_duration_minutes", "scheduled_at"}


def test_the_main_focus_must_be_a_ticked_event(db_session, storyteller):
    a = _event(db_session, storyteller, "A")
    b = _event(db_session, storyteller, "B")
    form = SessionForm(intention="x", life_event_ids=[str(a.id)], primary_life_event_id=str(b.id))
    with pytest.raises(SessionFormError) as bad:
        scheduling.create_from_form(db_session, storyteller, form, user=None)
    assert "primary_life_event_id" in bad.value.errors


def test_another_storytellers_life_event_cannot_be_linked(
    db_session, storyteller, make_storyteller
):
    other = make_storyteller()
    theirs = _event(db_session, other, "Not yours")
    form = SessionForm(intention="x", life_event_ids=[str(theirs.id)])
    with pytest.raises(SessionFormError) as bad:
        scheduling.create_from_form(db_session, storyteller, form, user=None)
    assert "life_event_ids" in bad.value.errors


# ----------------------------------------------------------------------------- the plan


def test_plan_sessions_for_event(db_session, storyteller, coordinator):
    event = _event(
        db_session, storyteller, "Navy years", event_type="military", start_year=1952,
        end_year=1956, location="Portsmouth",
    )
    first = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    parent, children = scheduling.plan_sessions_for_event(
        db_session, event, first_at=first, spacing_days=7, user=coordinator
    )
    db_session.expire_all()
    parent = db_session.get(Session, parent.id)
    assert parent.metadata_["kind"] == "plan"
    assert parent.parent_session_id is None
    assert [c.id for c in parent.child_sessions] == [c.id for c in children]
    assert [c.scheduled_at for c in parent.child_sessions] == [
        first, first + timedelta(days=7), first + timedelta(days=14)
    ]
    levels = []
    for child in parent.child_sessions:
        assert child.parent_session_id == parent.id
        assert child.status == "scheduled"
        assert child.created_by_id == coordinator.id
        [link] = child.life_event_links
        assert link.life_event_id == event.id and link.is_primary_focus
        levels.append(link.coverage_level)
        assert "Navy years" in child.intention
        assert "1952–1956" in child.intention and "Portsmouth" in child.intention
        assert child.success_indicators and child.completion_indicators
    assert levels == ["introduction", "deep_dive", "completion"]
    assert [c.scheduled_duration_minutes for c in parent.child_sessions] == [20, 45, 30]
    assert _events_of(db_session, parent.id, "session.plan_created")


def test_the_plan_form_checks_dates(storyteller):
    storyteller.time_zone = "UTC"
    parsed = scheduling.parse_plan_form(
        storyteller, scheduling.PlanForm("2026-12-01T10:00", "7", "2026-12-15")
    )
    assert parsed.first_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert parsed.spacing_days == 7
    cases = [
        (scheduling.PlanForm("", "7", ""), "first_at"),
        (scheduling.PlanForm("1 December", "7", ""), "first_at"),
        (scheduling.PlanForm("2026-12-01T10:00", "0", ""), "spacing_days"),
        (scheduling.PlanForm("2026-12-01T10:00", "-7", ""), "spacing_days"),
        (scheduling.PlanForm("2026-12-01T10:00", "weekly", ""), "spacing_days"),
        (scheduling.PlanForm("2026-12-01T10:00", "7", "2026-11-20"), "finish_by"),
        (scheduling.PlanForm("2026-12-01T10:00", "7", "2026-12-10"), "finish_by"),
        (scheduling.PlanForm("2026-12-01T10:00", "7", "someday"), "finish_by"),
    ]
    for form, field in cases:
        with pytest.raises(SessionFormError) as bad:
            scheduling.parse_plan_form(storyteller, form)
        assert field in bad.value.errors, (form, bad.value.errors)
    with pytest.raises(SessionFormError) as bad:
        scheduling.parse_plan_form(storyteller, scheduling.PlanForm("2026-12-01T10:00", "7",
                                                                    "2026-11-20"))
    assert "before the first session" in bad.value.errors["finish_by"]


# ----------------------------------------------------------------------------- schedule next


def test_schedule_next_continues_unmet_indicators_on_the_same_node(
    db_session, storyteller, process, coordinator, make_session
):
    node = process.nodes[1]
    event = _event(db_session, storyteller, "Dorchester", life_period="childhood")
    done = make_session(
        storyteller,
        status="completed",
        success_indicators=["At least 3 scenes captured with who/where/when details"],
        current_process_node_id=node.id,
        process_version_id=process.id,
        next_session_suggestion="Continue Childhood memories: at least 3 scenes captured.",
        scheduled_duration_minutes=30,
    )
    db_session.add(SessionLifeEvent(session_id=done.id, life_event_id=event.id,
                                    is_primary_focus=True, coverage_level="introduction"))
    db_session.flush()
    db_session.refresh(done)

    follow = scheduling.schedule_next(db_session, done, user=coordinator)
    assert follow.parent_session_id == done.id
    assert follow.intention == done.next_session_suggestion
    assert follow.current_process_node_id == node.id
    assert follow.success_indicators == done.success_indicators
    assert follow.status == "scheduled" and follow.scheduled_at is None
    [link] = follow.life_event_links
    assert (link.life_event_id, link.is_primary_focus, link.coverage_level) == (
        event.id, True, "exploration"
    )
    # A second click gives the same follow-up.
    db_session.refresh(done)
    assert scheduling.schedule_next(db_session, done, user=coordinator).id == follow.id


def test_schedule_next_moves_to_the_next_node_when_the_goal_was_met(
    db_session, storyteller, process, make_session
):
    first, second = process.nodes[0], process.nodes[1]
    home = _event(db_session, storyteller, "Dorchester", life_period="childhood")
    done = make_session(
        storyteller,
        status="completed",
        current_process_node_id=first.id,
        process_version_id=process.id,
        next_session_suggestion=f"{second.node_name}: {second.agent_objective}",
    )
    follow = scheduling.schedule_next(db_session, done, user=None)
    assert follow.current_process_node_id == second.id
    assert follow.session_source == "process_node"
    assert follow.session_name == f"{second.node_name} session"
    assert follow.intention == done.next_session_suggestion
    assert [link.life_event_id for link in follow.life_event_links] == [home.id]


def test_schedule_next_needs_a_completed_session_with_a_suggestion(
    db_session, storyteller, make_session
):
    waiting = make_session(storyteller, next_session_suggestion="Something")
    with pytest.raises(scheduling.SchedulingError):
        scheduling.schedule_next(db_session, waiting, user=None)
    silent = make_session(storyteller, status="completed")
    with pytest.raises(scheduling.SchedulingError):
        scheduling.schedule_next(db_session, silent, user=None)


# ----------------------------------------------------------------------------- reschedule, cancel


def _scheduled(db_session, storyteller, coordinator, at="2026-12-01T10:00"):
    form = SessionForm(intention="The school years", scheduled_at=at,
                       scheduled_duration_minutes="30")
    return scheduling.create_from_form(db_session, storyteller, form, user=coordinator)


def test_reschedule_keeps_its_history(db_session, storyteller, coordinator):
    session = _scheduled(db_session, storyteller, coordinator)
    form = scheduling.form_from_session(session, storyteller.time_zone)
    assert form.scheduled_at == "2026-12-01T10:00"
    form.scheduled_at = "2026-12-03T14:00"
    scheduling.update_from_form(db_session, session, form, user=coordinator)

    assert session.scheduled_at == datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    [transition] = _transitions(db_session, session.id)
    assert transition.trigger_type == "user_action"
    assert transition.trigger_id == "session.rescheduled"
    assert transition.previous_values["scheduled_at"].startswith("2026-12-01T10:00")
    assert transition.new_values["scheduled_at"].startswith("2026-12-03T14:00")
    [event] = _events_of(db_session, session.id, "session.rescheduled")
    assert event.user_id == coordinator.id
    assert event.payload["from"].startswith("2026-12-01T10:00")
    assert event.payload["to"].startswith("2026-12-03T14:00")

    history = scheduling.schedule_history(db_session, session)
    texts = [(h.kind, h.text, h.who) for h in history]
    assert ("rescheduled", "Rescheduled from Tue 1 Dec 10:00 to Thu 3 Dec 14:00",
            "Daniel Coordinator") in texts


def test_an_edit_that_keeps_the_time_is_not_a_reschedule(db_session, storyteller, coordinator):
    session = _scheduled(db_session, storyteller, coordinator)
    form = scheduling.form_from_session(session, storyteller.time_zone)
    form.intention = "The school years, and the teachers"
    scheduling.update_from_form(db_session, session, form, user=coordinator)
    assert _transitions(db_session, session.id) == []
    assert _events_of(db_session, session.id, "session.rescheduled") == []
    assert _events_of(db_session, session.id, "session.updated")


def test_a_session_made_elsewhere_gets_history_on_its_first_reschedule(
    db_session, storyteller, coordinator, make_session
):
    session = make_session(storyteller, scheduled_at=datetime(2026, 12, 1, 10, tzinfo=UTC))
    form = scheduling.form_from_session(session, storyteller.time_zone)
    form.scheduled_at = "2026-12-08T10:00"
    scheduling.update_from_form(db_session, session, form, user=coordinator)
    [transition] = _transitions(db_session, session.id)
    assert transition.previous_values["scheduled_at"].startswith("2026-12-01T10:00")


def test_cancel_keeps_the_reason_in_the_history(db_session, storyteller, coordinator):
    session = _scheduled(db_session, storyteller, coordinator)
    scheduling.cancel_session(db_session, session, reason="  In hospital  ", user=coordinator)
    assert session.status == "cancelled"
    [transition] = _transitions(db_session, session.id)
    assert transition.previous_values["status"] == "scheduled"
    assert transition.new_values["status"] == "cancelled"
    [event] = _events_of(db_session, session.id, "session.cancelled")
    assert event.payload == {"reason": "In hospital"}
    entry = scheduling.schedule_history(db_session, session)[-1]
    assert (entry.kind, entry.text, entry.who, entry.reason) == (
        "cancelled", "Cancelled", "Daniel Coordinator", "In hospital"
    )


def test_cancelling_a_plan_cancels_its_sessions_not_yet_started(
    db_session, storyteller, coordinator
):
    event = _event(db_session, storyteller, "Navy years")
    parent, children = scheduling.plan_sessions_for_event(
        db_session, event, first_at=datetime(2026, 12, 1, 10, tzinfo=UTC), user=coordinator
    )
    children[0].status = "completed"
    db_session.flush()
    scheduling.cancel_session(db_session, parent, reason=None, user=coordinator)
    assert [c.status for c in children] == ["completed", "cancelled", "cancelled"]


@pytest.mark.parametrize("status", ["completed", "cancelled", "in_progress"])
def test_an_ended_or_running_session_cannot_be_changed(
    db_session, storyteller, coordinator, make_session, status
):
    session = make_session(storyteller, status=status)
    form = scheduling.form_from_session(session, storyteller.time_zone)
    form.scheduled_at = "2026-12-08T10:00"
    with pytest.raises(scheduling.SchedulingError) as refused:
        scheduling.update_from_form(db_session, session, form, user=coordinator)
    assert refused.value.field == "status"
    with pytest.raises(scheduling.SchedulingError):
        scheduling.cancel_session(db_session, session, reason=None, user=coordinator)
    assert session.status == status
    assert _transitions(db_session, session.id) == []


def test_history_lists_interview_status_changes(db_session, storyteller, coordinator):
    session = _scheduled(db_session, storyteller, coordinator)
    from storyteller import events

    events.record_event(db_session, event_type="session.started", session_id=session.id,
                        user_id=coordinator.id)
    events.record_event(db_session, event_type="session.paused", session_id=session.id)
    kinds = [(h.kind, h.text) for h in scheduling.schedule_history(db_session, session)]
    assert kinds == [("created", "Session planned"), ("status", "Started"), ("status", "Paused")]

