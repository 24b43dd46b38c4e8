"""events.EventBatch: a unit of work's events numbered and inserted together."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storyteller import events
from storyteller.models import Event


def _sequences(db, session_id):
    return list(
        db.execute(
            select(Event.sequence, Event.event_type)
            .where(Event.session_id == session_id)
            .order_by(Event.sequence)
        ).all()
    )


def test_a_batch_follows_the_events_already_there_and_keeps_numbering(
    db_session, make_storyteller, make_session
):
    session = make_session(make_storyteller())
    events.record_event(db_session, event_type="before", session_id=session.id)
    batch = events.EventBatch(db_session, session.id)
    batch.add(event_type="one")
    batch.add(event_type="two", payload={"n": 2})
    assert db_session.scalar(select(Event).where(Event.event_type == "one")) is None
    batch.write()
    batch.add(event_type="three")
    batch.write()
    rows = _sequences(db_session, session.id)
    assert [t for _, t in rows][-4:] == ["before", "one", "two", "three"]
    numbers = [n for n, _ in rows]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_a_batch_renumbers_when_another_writer_took_its_numbers(
    db_session, make_storyteller, make_session
):
    session = make_session(make_storyteller())
    batch = events.EventBatch(db_session, session.id)
    batch.add(event_type="first")
    batch.write()
    # Someone else writes in between: the number this batch would continue with is taken.
    events.record_event(db_session, event_type="someone else", session_id=session.id)
    batch.add(event_type="second")
    batch.write()
    rows = _sequences(db_session, session.id)
    assert [t for _, t in rows][-3:] == ["first", "someone else", "second"]
    assert len({n for n, _ in rows}) == len(rows)


def test_a_batch_refuses_a_bad_event_when_it_is_added(db_session, make_storyteller, make_session):
    session = make_session(make_storyteller())
    batch = events.EventBatch(db_session, session.id)
    with pytest.raises(ValueError, match="empty"):
        batch.add(event_type="  ")
    with pytest.raises(ValueError, match="negative"):
        batch.add(event_type="x", duration_ms=-1)
    assert batch.write() == []
