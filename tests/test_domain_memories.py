"""storyteller.memories: creating, reading (access counts), usable memories, remember()."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from storyteller.memories import (
    MemoryInputError,
    contents_agree,
    create_memory,
    record_memory_access,
    reinforced_confidence,
    remember,
    usable_memories,
)
from storyteller.models import InteractionMemory, MemoryAccess


def _memory(db, storyteller, **fields):
    fields.setdefault("memory_type", "fact")
    fields.setdefault("content", {"value": "x"})
    return create_memory(db, storyteller_id=storyteller.id, **fields)


def test_create_memory_stores_and_validates(db_session, make_storyteller, make_session):
    storyteller = make_storyteller()
    session = make_session(storyteller)
    related = uuid.uuid4()
    memory = _memory(
        db_session,
        storyteller,
        memory_type="place",
        memory_key="place:birthplace",
        content={"value": "Leeds"},
        importance=0.8,
        confidence=0.9,
        session_id=session.id,
        related_memories=[related],
    )
    db_session.expire_all()
    stored = db_session.get(InteractionMemory, memory.id)
    assert (stored.memory_type, stored.memory_key, stored.type) == (
        "place",
        "place:birthplace",
        "fact",
    )
    assert stored.content == {"value": "Leeds"}
    assert (stored.importance, stored.confidence) == (0.8, 0.9)
    assert stored.verification_status == "unverified"
    assert stored.related_memories == [str(related)]
    assert stored.access_count == 0 and stored.last_accessed_at is None
    for bad in ({"confidence": 1.5}, {"importance": -0.1}, {"confidence": "high"}):
        with pytest.raises(MemoryInputError):
            _memory(db_session, storyteller, **bad)
    with pytest.raises(MemoryInputError):
        _memory(db_session, storyteller, memory_type=" ")
    with pytest.raises(MemoryInputError):
        _memory(db_session, storyteller, content=["not", "a", "mapping"])


def test_each_access_increments_the_count(db_session, make_storyteller, make_session):
    storyteller = make_storyteller()
    session = make_session(storyteller)
    memory = _memory(db_session, storyteller)
    agent_key = str(uuid.uuid4())
    accesses = [
        record_memory_access(
            db_session,
            memory_id=memory.id,
            accessed_by=agent_key,
            context="choosing the next question",
            usefulness=0.5,
            session_id=session.id,
        )
        for _ in range(3)
    ]
    # The object already loaded sees the new figures ...
    assert memory.access_count == 3
    assert memory.last_accessed_at == accesses[-1].created_at
    # ... and so does the database.
    db_session.expire_all()
    stored = db_session.get(InteractionMemory, memory.id)
    assert stored.access_count == 3
    assert stored.last_accessed_at == max(a.created_at for a in accesses)
    rows = db_session.scalars(select(MemoryAccess).where(MemoryAccess.memory_id == memory.id))
    assert {(r.access_type, r.accessor_type, r.accessed_by) for r in rows} == {
        ("read", "agent", agent_key)
    }


def test_access_validates(db_session, make_storyteller):
    memory = _memory(db_session, make_storyteller())
    with pytest.raises(MemoryInputError):
        record_memory_access(db_session, memory_id=uuid.uuid4(), accessed_by="agent")
    with pytest.raises(MemoryInputError):
        record_memory_access(db_session, memory_id=memory.id, accessed_by="a", usefulness=2)
    with pytest.raises(MemoryInputError):
        record_memory_access(db_session, memory_id=memory.id, accessed_by="")
    assert db_session.get(InteractionMemory, memory.id).access_count == 0


def test_usable_memories_exclude_disputed_and_are_ordered(db_session, make_storyteller):
    storyteller, other = make_storyteller(), make_storyteller()
    low = _memory(db_session, storyteller, importance=0.2, confidence=0.9)
    high_sure = _memory(db_session, storyteller, importance=0.9, confidence=0.9)
    high_unsure = _memory(db_session, storyteller, importance=0.9, confidence=0.3)
    disputed = _memory(db_session, storyteller, importance=1.0, confidence=1.0)
    disputed.verification_status = "disputed"
    verified = _memory(db_session, storyteller, importance=0.5, confidence=0.5)
    verified.verification_status = "verified"
    _memory(db_session, other, importance=1.0)
    db_session.flush()
    found = usable_memories(db_session, storyteller.id)
    assert [m.id for m in found] == [high_sure.id, high_unsure.id, verified.id, low.id]
    assert [m.id for m in usable_memories(db_session, storyteller.id, limit=1)] == [high_sure.id]


def test_contents_agree_ignores_free_text():
    assert contents_agree(
        {"value": "Leeds", "statement": "I was born in Leeds"},
        {
            "value": " leeds ",
            "statement": "Born in Leeds, yes",
            "year": 1941,
        },
    )
    assert not contents_agree({"value": "Leeds"}, {"value": "York"})
    assert contents_agree({"value": "Leeds"}, {"year": 1941})


def test_reinforced_confidence():
    assert reinforced_confidence(0.5) == pytest.approx(0.65)
    assert reinforced_confidence(0.98) == pytest.approx(0.986)
    assert reinforced_confidence(0.989) == pytest.approx(0.99)
    assert reinforced_confidence(0.5, 0.8) == pytest.approx(0.8)
    assert reinforced_confidence(1.0) == 1.0


def test_remember_reinforces_agreeing_memory(db_session, make_storyteller):
    storyteller = make_storyteller()
    first = remember(
        db_session,
        storyteller_id=storyteller.id,
        memory_type="place",
        memory_key="place:birthplace",
        content={"value": "Leeds", "statement": "I was born in Leeds."},
        confidence=0.5,
    )
    again = remember(
        db_session,
        storyteller_id=storyteller.id,
        memory_type="place",
        memory_key="place:birthplace",
        content={"value": "leeds", "statement": "Leeds, where I was born.", "street": "Kirk St"},
        confidence=0.4,
        importance=0.9,
    )
    assert again.id == first.id
    db_session.expire_all()
    stored = db_session.get(InteractionMemory, first.id)
    assert stored.confidence == pytest.approx(0.5 + 0.5 * 0.3)
    assert stored.importance == pytest.approx(0.9)
    assert stored.content == {
        "value": "Leeds",
        "statement": "I was born in Leeds.",
        "street": "Kirk St",
    }
    count = db_session.scalar(
        select(func.count(InteractionMemory.id)).where(
            InteractionMemory.storyteller_id == storyteller.id
        )
    )
    assert count == 1


def test_remember_links_contradictions_without_overwriting(db_session, make_storyteller):
    storyteller = make_storyteller()
    old = remember(
        db_session,
        storyteller_id=storyteller.id,
        memory_type="place",
        memory_key="place:birthplace",
        content={"value": "Leeds"},
        confidence=0.7,
    )
    new = remember(
        db_session,
        storyteller_id=storyteller.id,
        memory_type="place",
        memory_key="place:birthplace",
        content={"value": "York"},
        confidence=0.6,
    )
    assert new.id != old.id
    db_session.expire_all()
    old, new = db_session.get(InteractionMemory, old.id), db_session.get(InteractionMemory, new.id)
    assert old.content == {"value": "Leeds"}
    assert old.confidence == pytest.approx(0.7)
    assert new.content == {"value": "York", "contradicts": str(old.id)}
    assert old.related_memories == [str(new.id)]
    assert new.related_memories == [str(old.id)]
    # Telling the older account again reinforces it rather than creating a third memory.
    third = remember(
        db_session,
        storyteller_id=storyteller.id,
        memory_type="place",
        memory_key="place:birthplace",
        content={"value": "Leeds"},
        confidence=0.5,
    )
    assert third.id == old.id
    assert third.confidence > 0.7


def test_disputed_memories_are_never_reinforced(db_session, make_storyteller):
    storyteller = make_storyteller()
    disputed = remember(
        db_session,
        storyteller_id=storyteller.id,
        memory_type="person",
        memory_key="person:sister",
        content={"name": "Mary"},
        confidence=0.6,
    )
    disputed.verification_status = "disputed"
    db_session.flush()
    fresh = remember(
        db_session,
        storyteller_id=storyteller.id,
        memory_type="person",
        memory_key="person:sister",
        content={"name": "Mary"},
        confidence=0.6,
    )
    assert fresh.id != disputed.id
    assert fresh.related_memories is None
    assert "contradicts" not in fresh.content
    db_session.expire_all()
    assert db_session.get(InteractionMemory, disputed.id).confidence == pytest.approx(0.6)
    assert [m.id for m in usable_memories(db_session, storyteller.id)] == [fresh.id]


def test_remember_is_per_storyteller(db_session, make_storyteller):
    one, two = make_storyteller(), make_storyteller()
    a = remember(
        db_session,
        storyteller_id=one.id,
        memory_type="place",
        memory_key="place:birthplace",
        content={"value": "Leeds"},
        confidence=0.5,
    )
    b = remember(
        db_session,
        storyteller_id=two.id,
        memory_type="place",
        memory_key="place:birthplace",
        content={"value": "York"},
        confidence=0.5,
    )
    assert a.id != b.id
    assert b.related_memories is None and "contradicts" not in b.content
