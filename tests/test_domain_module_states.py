"""storyteller.module_states: hashing, upsert with history, transitions, current state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from storyteller.models import ModuleState, StateTransition
from storyteller.module_states import (
    ModuleStateError,
    current_state,
    record_state_transition,
    state_hash,
    state_history,
    upsert_module_state,
)

MODULE = "interview"
TYPE = "interview_progress"


def _count(db, model):
    return db.scalar(select(func.count(model.id)))


def test_state_hash_is_canonical():
    a = state_hash({"b": 1, "a": [1, 2], "c": {"y": 2, "x": 1}})
    b = state_hash({"c": {"x": 1, "y": 2}, "a": [1, 2], "b": 1})
    assert a == b
    assert len(a) == 64 and int(a, 16) >= 0
    assert state_hash({"a": [2, 1]}) != state_hash({"a": [1, 2]})
    assert state_hash({"a": 1}) != state_hash({"a": "1"})
    # Values JSON cannot hold are hashed through str().
    when = datetime(2024, 1, 2, tzinfo=UTC)
    assert state_hash({"at": when}) == state_hash({"at": str(when)})


def test_first_upsert_creates_without_transition(db_session):
    states, transitions = _count(db_session, ModuleState), _count(db_session, StateTransition)
    state = upsert_module_state(db_session, module_id=MODULE, state_type=TYPE, state={"turn": 1})
    assert state.previous_state_id is None
    assert state.state_hash == state_hash({"turn": 1})
    assert state.version == "1.0.0"
    assert _count(db_session, ModuleState) == states + 1
    assert _count(db_session, StateTransition) == transitions


def test_same_content_records_nothing(db_session, make_storyteller, make_session):
    session = make_session(make_storyteller())
    first = upsert_module_state(
        db_session,
        module_id=MODULE,
        state_type=TYPE,
        session_id=session.id,
        state={"turn": 1, "asked": ["a", "b"]},
    )
    states, transitions = _count(db_session, ModuleState), _count(db_session, StateTransition)
    again = upsert_module_state(
        db_session,
        module_id=MODULE,
        state_type=TYPE,
        session_id=session.id,
        state={"asked": ["a", "b"], "turn": 1},
        trigger_type="user_action",
    )
    assert again.id == first.id
    assert _count(db_session, ModuleState) == states
    assert _count(db_session, StateTransition) == transitions


def test_changed_content_chains_and_records_one_transition(
    db_session, make_storyteller, make_session
):
    session = make_session(make_storyteller())
    old = upsert_module_state(
        db_session,
        module_id=MODULE,
        state_type=TYPE,
        session_id=session.id,
        state={"turn": 1, "topic": "school", "kept": True, "dropped": "x"},
    )
    transitions = _count(db_session, StateTransition)
    new = upsert_module_state(
        db_session,
        module_id=MODULE,
        state_type=TYPE,
        session_id=session.id,
        state={"turn": 2, "topic": "school", "kept": True, "added": [1]},
        trigger_type="agent_decision",
        trigger_id="turn-2",
        version="1.1.0",
    )
    assert new.id != old.id
    assert new.previous_state_id == old.id
    assert new.version == "1.1.0"
    assert _count(db_session, StateTransition) == transitions + 1

    db_session.expire_all()
    [transition] = db_session.scalars(
        select(StateTransition).where(StateTransition.state_id == old.id)
    ).all()
    assert transition.to_state_id == new.id
    assert transition.trigger_type == "agent_decision"
    assert transition.trigger_id == "turn-2"
    assert transition.previous_values == {"turn": 1, "dropped": "x"}
    assert transition.new_values == {"turn": 2, "added": [1]}
    assert transition.transition_data == {
        "changed_keys": ["added", "dropped", "turn"],
        "from_hash": old.state_hash,
        "to_hash": new.state_hash,
    }
    assert db_session.get(ModuleState, old.id).next_states == [db_session.get(ModuleState, new.id)]


def test_current_state_is_the_head_of_its_own_chain(db_session, make_storyteller, make_session):
    storyteller = make_storyteller()
    one, two = make_session(storyteller), make_session(storyteller)
    assert current_state(db_session, module_id=MODULE, state_type=TYPE, session_id=one.id) is None
    upsert_module_state(
        db_session, module_id=MODULE, state_type=TYPE, session_id=one.id, state={"n": 1}
    )
    latest = upsert_module_state(
        db_session, module_id=MODULE, state_type=TYPE, session_id=one.id, state={"n": 2}
    )
    other = upsert_module_state(
        db_session, module_id=MODULE, state_type=TYPE, session_id=two.id, state={"n": 1}
    )
    global_state = upsert_module_state(
        db_session, module_id=MODULE, state_type=TYPE, state={"n": 1}
    )
    preferences = upsert_module_state(
        db_session, module_id=MODULE, state_type="preferences", session_id=one.id, state={"n": 1}
    )
    found = current_state(db_session, module_id=MODULE, state_type=TYPE, session_id=one.id)
    assert found.id == latest.id
    assert current_state(db_session, module_id=MODULE, state_type=TYPE, session_id=two.id) is other
    assert current_state(db_session, module_id=MODULE, state_type=TYPE) is global_state
    assert other.previous_state_id is None
    assert global_state.previous_state_id is None
    assert preferences.previous_state_id is None
    # Going back to an earlier content is a change too, chained after the latest.
    back = upsert_module_state(
        db_session, module_id=MODULE, state_type=TYPE, session_id=one.id, state={"n": 1}
    )
    assert back.previous_state_id == latest.id


def test_state_history_walks_back_newest_first(db_session):
    module_id = f"history-{uuid.uuid4().hex[:6]}"
    rows = [
        upsert_module_state(db_session, module_id=module_id, state_type=TYPE, state={"n": n})
        for n in range(4)
    ]
    history = state_history(db_session, rows[-1])
    assert [s.id for s in history] == [r.id for r in reversed(rows)]
    assert [s.id for s in state_history(db_session, rows[1])] == [rows[1].id, rows[0].id]


def test_snapshot_fields_and_stored_content_match_the_hash(db_session):
    when = datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)
    state = upsert_module_state(
        db_session,
        module_id=MODULE,
        state_type="export",
        state={"at": when, "items": (1, 2)},
        is_snapshot=True,
        snapshot_reason="before export",
        expires_at=when,
    )
    db_session.expire_all()
    stored = db_session.get(ModuleState, state.id)
    assert stored.is_snapshot is True
    assert stored.snapshot_reason == "before export"
    assert stored.expires_at == when
    assert stored.state == {"at": str(when), "items": [1, 2]}
    assert stored.state_hash == state_hash(stored.state)


def test_record_state_transition_validates_trigger_type(db_session):
    state = upsert_module_state(db_session, module_id=MODULE, state_type="misc", state={"a": 1})
    with pytest.raises(ModuleStateError):
        record_state_transition(db_session, state_id=state.id, trigger_type="whim")
    with pytest.raises(ModuleStateError):
        record_state_transition(db_session, state_id=uuid.uuid4(), trigger_type="system")
    with pytest.raises(ModuleStateError):
        upsert_module_state(
            db_session, module_id=MODULE, state_type="misc", state={"a": 2}, trigger_type="whim"
        )
    transition = record_state_transition(
        db_session,
        state_id=state.id,
        trigger_type="scheduled",
        trigger_id=uuid.UUID(int=7),
        transition_data={"why": "nightly"},
        previous_values={"a": 1},
        new_values={"a": 1},
    )
    db_session.expire_all()
    stored = db_session.get(StateTransition, transition.id)
    assert stored.trigger_type == "scheduled"
    assert stored.trigger_id == str(uuid.UUID(int=7))
    assert stored.to_state_id is None
    assert stored.transition_data == {"why": "nightly"}


def test_upsert_refuses_non_mapping(db_session):
    with pytest.raises(ModuleStateError):
        upsert_module_state(db_session, module_id=MODULE, state_type=TYPE, state=[1, 2])
