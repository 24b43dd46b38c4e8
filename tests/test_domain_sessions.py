"""storyteller.sessions and storyteller.events: sessions, hierarchy, life events, events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from storyteller import agent_versions, events
from storyteller.models import Agent, Event, LifeEvent, Session, SessionLifeEvent
from storyteller.sessions import (
    SessionInputError,
    create_session,
    link_life_event,
    next_event_sequence,
    normalise_tags,
    record_event,
)


def _events_of(db, session_id):
    return list(
        db.scalars(select(Event).where(Event.session_id == session_id).order_by(Event.sequence))
    )


def test_create_session_stores_fields_and_records_created_event(db_session, make_storyteller):
    storyteller = make_storyteller()
    when = datetime(2030, 5, 1, 14, 30, tzinfo=UTC)
    before_ms = events.epoch_ms()
    session = create_session(
        db_session,
        storyteller_id=storyteller.id,
        intention="  Capture three childhood scenes  ",
        session_name="  Childhood  ",
        session_purpose="Warm up",
        session_tags=[" childhood ", "Family", "childhood", "family", ""],
        success_indicators=["  one scene with a smell  ", " "],
        scheduled_at=when,
        scheduled_duration_minutes=45,
        metadata={"business_context": "pilot"},
    )
    db_session.expire_all()
    stored = db_session.get(Session, session.id)
    assert stored.status == "scheduled"
    assert stored.intention == "Capture three childhood scenes"
    assert stored.session_name == "Childhood"
    assert stored.session_tags == ["childhood", "Family"]
    assert stored.success_indicators == ["one scene with a smell"]
    assert stored.scheduled_at == when
    assert stored.scheduled_duration_minutes == 45
    assert stored.session_source == "coordinator"
    assert stored.metadata_ == {"business_context": "pilot"}

    [event] = _events_of(db_session, session.id)
    assert event.event_type == "session.created"
    assert event.sequence == 1
    assert event.payload["storyteller_id"] == str(storyteller.id)
    assert before_ms <= event.timestamp_ms <= events.epoch_ms()


def test_normalise_tags():
    assert normalise_tags(None) is None
    assert normalise_tags("a, b ,a,, B") == ["a", "b"]
    assert normalise_tags(["  x  y ", "x y"]) == ["x y"]
    with pytest.raises(SessionInputError):
        normalise_tags(["ok", 3])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"intention": "   "}, "intention"),
        ({"scheduled_duration_minutes": 0}, "scheduled_duration_minutes"),
        ({"scheduled_duration_minutes": -15}, "scheduled_duration_minutes"),
        ({"session_source": "webhook"}, "session_source"),
        ({"parent_session_id": uuid.uuid4()}, "parent_session_id"),
        ({"session_name": "x" * 201}, "session_name"),
    ],
)
def test_create_session_refuses_bad_input(db_session, make_storyteller, fields, field):
    storyteller = make_storyteller()
    fields.setdefault("intention", "Talk about school")
    before = db_session.scalar(select(func.count(Session.id)))
    with pytest.raises(SessionInputError) as caught:
        create_session(db_session, storyteller_id=storyteller.id, **fields)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    assert db_session.scalar(select(func.count(Session.id))) == before


def test_create_session_refuses_unknown_storyteller(db_session):
    with pytest.raises(SessionInputError) as caught:
        create_session(db_session, storyteller_id=uuid.uuid4(), intention="Anything")
    assert caught.value.field == "storyteller_id"


def test_hierarchy_parent_and_children_both_ways(db_session, make_storyteller):
    storyteller = make_storyteller()
    parent = create_session(db_session, storyteller_id=storyteller.id, intention="A plan")
    first = create_session(
        db_session,
        storyteller_id=storyteller.id,
        intention="Part one",
        parent_session_id=parent.id,
        scheduled_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    second = create_session(
        db_session,
        storyteller_id=storyteller.id,
        intention="Part two",
        parent_session_id=parent.id,
        scheduled_at=datetime(2030, 1, 8, tzinfo=UTC),
    )
    # In memory, at once ...
    assert first.parent_session is parent
    assert {child.id for child in parent.child_sessions} == {first.id, second.id}
    # ... and as stored.
    db_session.expire_all()
    parent = db_session.get(Session, parent.id)
    assert [child.id for child in parent.child_sessions] == [first.id, second.id]
    assert db_session.get(Session, second.id).parent_session_id == parent.id
    assert parent.parent_session is None


def test_parent_of_another_storyteller_is_refused(db_session, make_storyteller):
    mine, theirs = make_storyteller(), make_storyteller()
    their_session = create_session(db_session, storyteller_id=theirs.id, intention="Theirs")
    with pytest.raises(SessionInputError) as caught:
        create_session(
            db_session,
            storyteller_id=mine.id,
            intention="Mine",
            parent_session_id=their_session.id,
        )
    assert caught.value.field == "parent_session_id"


def test_session_pins_the_active_interviewer_version(db_session, make_storyteller):
    storyteller = make_storyteller()
    unpinned = create_session(db_session, storyteller_id=storyteller.id, intention="Before")
    assert unpinned.agent_id is None and unpinned.agent_version_id is None

    agent, version = agent_versions.ensure_interviewer_agent(db_session)
    pinned = create_session(db_session, storyteller_id=storyteller.id, intention="After")
    assert (pinned.agent_id, pinned.agent_version_id) == (agent.id, version.id)

    newer = agent_versions.create_agent_version(
        db_session, agent_id=agent.id, version_number="1.1.0", is_active=True
    )
    later = create_session(db_session, storyteller_id=storyteller.id, intention="Later")
    assert later.agent_version_id == newer.id
    db_session.expire_all()
    assert db_session.get(Session, pinned.id).agent_version_id == version.id


def test_given_agent_pins_its_active_version_and_mismatch_is_refused(db_session, make_storyteller):
    storyteller = make_storyteller()
    interviewer, interviewer_version = agent_versions.ensure_interviewer_agent(db_session)
    other = Agent(name=f"Summarizer {uuid.uuid4().hex[:6]}", type="summarizer")
    db_session.add(other)
    db_session.flush()
    other_version = agent_versions.create_agent_version(
        db_session, agent_id=other.id, version_number="0.1.0", is_active=True
    )
    session = create_session(
        db_session, storyteller_id=storyteller.id, intention="X", agent_id=other.id
    )
    assert session.agent_version_id == other_version.id
    by_version = create_session(
        db_session,
        storyteller_id=storyteller.id,
        intention="Y",
        agent_version_id=interviewer_version.id,
    )
    assert by_version.agent_id == interviewer.id
    with pytest.raises(SessionInputError) as caught:
        create_session(
            db_session,
            storyteller_id=storyteller.id,
            intention="Z",
            agent_id=other.id,
            agent_version_id=interviewer_version.id,
        )
    assert caught.value.field == "agent_version_id"


def _life_event(db, storyteller, name="Moving to Leeds"):
    event = LifeEvent(storyteller_id=storyteller.id, event_name=name)
    db.add(event)
    db.flush()
    return event


def test_link_life_event_is_idempotent_on_the_pair(db_session, make_storyteller):
    storyteller = make_storyteller()
    session = create_session(db_session, storyteller_id=storyteller.id, intention="Leeds")
    life_event = _life_event(db_session, storyteller)

    link = link_life_event(db_session, session, life_event.id, coverage_level="introduction")
    again = link_life_event(
        db_session, session, life_event.id, is_primary_focus=True, coverage_level="deep_dive"
    )
    assert again.id == link.id
    count = db_session.scalar(
        select(func.count(SessionLifeEvent.id)).where(SessionLifeEvent.session_id == session.id)
    )
    assert count == 1
    db_session.expire_all()
    stored = db_session.get(SessionLifeEvent, link.id)
    assert stored.is_primary_focus is True
    assert stored.coverage_level == "deep_dive"
    # None keeps the level already recorded.
    link_life_event(db_session, session, life_event.id, is_primary_focus=True)
    assert db_session.get(SessionLifeEvent, link.id).coverage_level == "deep_dive"
    assert [x.life_event_id for x in db_session.get(Session, session.id).life_event_links] == [
        life_event.id
    ]


def test_link_life_event_validates(db_session, make_storyteller):
    storyteller, someone_else = make_storyteller(), make_storyteller()
    session = create_session(db_session, storyteller_id=storyteller.id, intention="Leeds")
    mine = _life_event(db_session, storyteller)
    theirs = _life_event(db_session, someone_else, "Their wedding")
    with pytest.raises(SessionInputError) as caught:
        link_life_event(db_session, session, mine.id, coverage_level="everything")
    assert caught.value.field == "coverage_level"
    with pytest.raises(SessionInputError) as caught:
        link_life_event(db_session, session, theirs.id)
    assert caught.value.field == "life_event_id"
    with pytest.raises(SessionInputError):
        link_life_event(db_session, session, uuid.uuid4())


def test_event_sequence_is_per_session(db_session, make_storyteller, make_session):
    storyteller = make_storyteller()
    one, two = make_session(storyteller), make_session(storyteller)
    assert next_event_sequence(db_session, one.id) == 1
    first = record_event(db_session, event_type="interview.turn", session_id=one.id)
    second = record_event(
        db_session, event_type="interview.turn", session_id=one.id, payload={"n": 2}
    )
    other = record_event(db_session, event_type="interview.turn", session_id=two.id)
    loose = record_event(db_session, event_type="system.started")
    assert (first.sequence, second.sequence, other.sequence) == (1, 2, 1)
    assert loose.sequence is None and loose.session_id is None
    assert next_event_sequence(db_session, one.id) == 3
    assert [e.payload for e in _events_of(db_session, one.id)] == [{}, {"n": 2}]


def test_record_event_validates(db_session):
    with pytest.raises(ValueError):
        record_event(db_session, event_type="  ")
    with pytest.raises(ValueError):
        record_event(db_session, event_type="x", duration_ms=-1)
