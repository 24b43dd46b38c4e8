"""Memories and their annotations (storyteller/memory_review.py): listing with use, each
annotation type, applying a change, and the mistakes that are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from storyteller import memories, memory_review
from storyteller.memory_review import AnnotationForm, MemoryFilters, MemoryReviewInputError
from storyteller.models import AuditLog, Event, InteractionMemory, MemoryAnnotation

TOM = {
    "subject": "brother Tom",
    "relation": "brother",
    "name": "Tom",
    "key": "person:brother:tom",
    "statement": "My brother Tom and I shared the attic room.",
}


@pytest.fixture
def world(db_session, make_user, make_storyteller, make_session):
    reviewer = make_user("reviewer")
    storyteller = make_storyteller(granted_to=[reviewer])
    first = make_session(storyteller, session_name="Childhood in Dorchester")
    second = make_session(storyteller, session_name="School days")
    return reviewer, storyteller, first, second


def _memory(db, storyteller, session=None, **fields):
    values = {
        "memory_type": "person",
        "content": dict(TOM),
        "memory_key": "person:brother:tom",
        "confidence": 0.75,
        "importance": 0.5,
    }
    values.update(fields)
    return memories.create_memory(
        db, storyteller_id=storyteller.id, session_id=session.id if session else None, **values
    )


def _use(db, memory, session, times=1):
    for _ in range(times):
        memories.record_memory_access(
            db,
            memory_id=memory.id,
            accessed_by="interviewer",
            session_id=session.id,
            context="next question: memory",
        )


def _events(db, event_type):
    return list(db.scalars(select(Event).where(Event.event_type == event_type)))


# ----------------------------------------------------------------------------- plain words


@pytest.mark.parametrize(
    ("memory_type", "content", "words"),
    [
        ("person", {**TOM, "details": "tall and funny"}, "Person: brother Tom — tall and funny"),
        ("person", {"subject": "Sister Agnes", "name": "Sister Agnes"}, "Person: Sister Agnes"),
        ("place", {"subject": "Dorchester", "place": "Dorchester"}, "Place: Dorchester"),
        (
            "fact",
            {"subject": "storyteller", "attribute": "birth_year", "year": 1931},
            "Fact: born in 1931",
        ),
        (
            "fact",
            {"subject": "mother", "attribute": "death_year", "year": 1944, "relation": "mother"},
            "Fact: mother died in 1944",
        ),
        (
            "fact",
            {"subject": "storyteller", "attribute": "number_of_children", "count": 3},
            "Fact: 3 children",
        ),
        (
            "preference",
            {"attribute": "preferred_name", "preferred_name": "Peggy", "value": "Peggy"},
            "Preference: likes to be called Peggy",
        ),
        (
            "event",
            {"subject": "We moved to Quincy", "year": 1955},
            "Event: 1955: We moved to Quincy",
        ),
        ("fact", {"statement": "She loved the sea."}, "Fact: She loved the sea."),
    ],
)
def test_a_memory_is_described_in_plain_words(memory_type, content, words):
    assert memory_review.describe(memory_type, content) == words


def test_confidence_in_words():
    assert memory_review.confidence_words(0.9) == "very sure"
    assert memory_review.confidence_words(0.7) == "fairly sure"
    assert memory_review.confidence_words(0.5) == "not sure"
    assert memory_review.confidence_words(0.1) == "doubtful"


# ----------------------------------------------------------------------------- listing


def test_listing_counts_uses_and_sessions_and_sorts_and_filters(db_session, world):
    _reviewer, storyteller, first, second = world
    tom = _memory(db_session, storyteller, first, importance=0.4)
    place = _memory(
        db_session,
        storyteller,
        first,
        memory_type="place",
        content={"subject": "Dorchester", "place": "Dorchester", "key": "place:dorchester"},
        memory_key="place:dorchester",
        importance=0.9,
    )
    _use(db_session, tom, first, 2)
    _use(db_session, tom, second, 1)

    rows = memory_review.list_memories(db_session, storyteller)
    assert [r.memory.id for r in rows] == [place.id, tom.id]  # most important first
    by_id = {r.memory.id: r for r in rows}
    assert by_id[tom.id].memory.access_count == 3
    assert by_id[tom.id].sessions_used_in == 2
    assert by_id[tom.id].session.id == first.id
    assert by_id[tom.id].summary == "Person: brother Tom"
    assert by_id[place.id].memory.access_count == 0
    assert by_id[place.id].sessions_used_in == 0

    used_first = memory_review.list_memories(db_session, storyteller, MemoryFilters(sort="use"))
    assert [r.memory.id for r in used_first] == [tom.id, place.id]
    people = memory_review.list_memories(
        db_session, storyteller, MemoryFilters(memory_type="person")
    )
    assert [r.memory.id for r in people] == [tom.id]
    tom.verification_status = "verified"
    db_session.flush()
    verified = memory_review.list_memories(
        db_session, storyteller, MemoryFilters(status="verified")
    )
    assert [r.memory.id for r in verified] == [tom.id]
    assert memory_review.list_memories(
        db_session, storyteller, MemoryFilters(status="disputed")
    ) == []


def test_someone_elses_memories_are_not_listed(db_session, world, make_storyteller):
    _reviewer, storyteller, first, _second = world
    other = make_storyteller()
    _memory(db_session, other)
    mine = _memory(db_session, storyteller, first)
    assert [r.memory.id for r in memory_review.list_memories(db_session, storyteller)] == [
        mine.id
    ]


@pytest.mark.parametrize(
    ("args", "field"),
    [({"type": "dragon"}, "type"), ({"status": "maybe"}, "status"), ({"sort": "x"}, "sort")],
)
def test_unknown_filters_are_refused(args, field):
    with pytest.raises(MemoryReviewInputError) as caught:
        memory_review.parse_filters(args, ["person"])
    assert field in caught.value.errors


def test_filters_are_read(world):
    filters = memory_review.parse_filters(
        {"type": "person", "status": "disputed", "sort": "use"}, ["person"]
    )
    assert filters == MemoryFilters("person", "disputed", "use")


def test_detail_lists_each_use_with_its_session(db_session, world):
    _reviewer, storyteller, first, second = world
    tom = _memory(db_session, storyteller, first)
    _use(db_session, tom, first)
    _use(db_session, tom, second)
    detail = memory_review.memory_detail(db_session, tom)
    assert {a.session.id for a in detail.accesses} == {first.id, second.id}
    assert detail.sessions_used_in == 2
    assert detail.session.id == first.id
    assert detail.storyteller.id == storyteller.id


# ----------------------------------------------------------------------------- verification


def test_verifying_marks_the_memory_verified_at_once(db_session, world):
    reviewer, storyteller, first, _second = world
    tom = _memory(db_session, storyteller, first)
    annotation = memory_review.annotate(
        db_session,
        tom,
        AnnotationForm(annotation_type="verification", verdict="verified", note="Yes."),
        user=reviewer,
    )
    assert tom.verification_status == "verified"
    assert annotation.annotation_type == "verification"
    assert annotation.is_applied and annotation.applied_at is not None
    assert annotation.content["verdict"] == "verified"
    assert annotation.content["previous"] == {"verification_status": "unverified"}
    assert annotation.created_by_id == reviewer.id
    assert len(_events(db_session, "memory.verified")) == 1
    assert len(_events(db_session, "memory.annotated")) == 1
    audits = list(
        db_session.scalars(select(AuditLog).where(AuditLog.storyteller_id == storyteller.id,
                                                  AuditLog.object_type.like("%memory%")))
    )
    assert {(a.action, a.object_type) for a in audits} == {
        ("create", "memory_annotation"),
        ("update", "interaction_memory"),
    }


def test_disputing_needs_a_note_and_takes_the_memory_out_of_use(db_session, world):
    reviewer, storyteller, first, _second = world
    tom = _memory(db_session, storyteller, first)
    with pytest.raises(MemoryReviewInputError) as caught:
        memory_review.annotate(
            db_session, tom, AnnotationForm(annotation_type="verification", verdict="disputed"),
            user=reviewer,
        )
    assert caught.value.field == "note"
    assert tom.verification_status == "unverified"
    memory_review.annotate(
        db_session,
        tom,
        AnnotationForm(annotation_type="verification", verdict="disputed", note="No brother."),
        user=reviewer,
    )
    assert tom.verification_status == "disputed"
    assert tom.id not in {m.id for m in memories.usable_memories(db_session, storyteller.id)}
    assert len(_events(db_session, "memory.disputed")) == 1


def test_a_verification_needs_a_verdict(db_session, world):
    reviewer, storyteller, first, _second = world
    tom = _memory(db_session, storyteller, first)
    with pytest.raises(MemoryReviewInputError) as caught:
        memory_review.annotate(
            db_session, tom, AnnotationForm(annotation_type="verification", verdict="perhaps"),
            user=reviewer,
        )
    assert caught.value.field == "verdict"
    assert db_session.scalar(select(func.count()).select_from(MemoryAnnotation)) == 0


# ----------------------------------------------------------------------------- corrections


def test_a_correction_waits_then_applying_changes_the_memory_and_keeps_the_old(
    db_session, world
):
    reviewer, storyteller, first, _second = world
    tom = _memory(db_session, storyteller, first)
    form = AnnotationForm(
        annotation_type="correction",
        note="His name was Thomas, and he was older.",
        changes={"name": "Thomas", "relation": "brother", "subject": "older brother Thomas",
                 "statement": TOM["statement"]},
        memory_key="person:brother:thomas",
    )
    annotation = memory_review.annotate(db_session, tom, form, user=reviewer)
    assert not annotation.is_applied and annotation.applied_at is None
    assert annotation.content["proposed"] == {
        "set": {"name": "Thomas", "subject": "older brother Thomas"},
        "memory_key": "person:brother:thomas",
    }
    assert tom.content["name"] == "Tom"  # nothing changes before it is applied
    assert tom.corrected_at is None

    memory_review.apply_annotation(db_session, annotation, user=reviewer)
    db_session.expire_all()
    tom = db_session.get(InteractionMemory, tom.id)
    annotation = db_session.get(MemoryAnnotation, annotation.id)
    assert tom.content["name"] == "Thomas"
    assert tom.content["subject"] == "older brother Thomas"
    assert tom.content["statement"] == TOM["statement"]
    assert tom.memory_key == "person:brother:thomas"
    assert tom.verification_status == "verified"
    assert annotation.is_applied
    assert annotation.applied_at is not None and tom.corrected_at is not None
    assert annotation.applied_at == tom.corrected_at
    assert annotation.content["previous"]["content"] == TOM
    assert annotation.content["previous"]["memory_key"] == "person:brother:tom"
    assert annotation.content["previous"]["verification_status"] == "unverified"
    assert annotation.content["applied_by_id"] == str(reviewer.id)
    [event] = _events(db_session, "memory.correction_applied")
    assert event.payload["memory_id"] == str(tom.id)
    assert event.payload["annotation_id"] == str(annotation.id)
    assert db_session.scalar(
        select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "update", AuditLog.object_id == str(tom.id)
        )
    ) == 1


def test_a_correction_can_change_the_kind_and_remove_a_field(db_session, world):
    reviewer, storyteller, first, _second = world
    tom = _memory(db_session, storyteller, first)
    annotation = memory_review.annotate(
        db_session,
        tom,
        AnnotationForm(annotation_type="correction", changes={"relation": ""},
                       memory_type="fact"),
        user=reviewer,
    )
    memory_review.apply_annotation(db_session, annotation, user=reviewer)
    assert tom.memory_type == "fact"
    assert "relation" not in tom.content
    assert annotation.content["previous"]["memory_type"] == "person"


def test_an_enhancement_adds_a_detail_and_keeps_the_status(db_session, world):
    reviewer, storyteller, first, _second = world
    tom = _memory(db_session, storyteller, first)
    tom.verification_status = "verified"
    annotation = memory_review.annotate(
        db_session,
        tom,
        AnnotationForm(annotation_type="enhancement", detail="  tall and   funny "),
        user=reviewer,
    )
    assert annotation.content["proposed"] == {"add_detail": "tall and funny"}
    assert "details" not in tom.content
    memory_review.apply_annotation(db_session, annotation, user=reviewer)
    assert memory_review.describe(tom.memory_type, tom.content) == (
        "Person: brother Tom — tall and funny"
    )
    second = memory_review.annotate(
        db_session, tom, AnnotationForm(annotation_type="enhancement", detail="a teacher"),
        user=reviewer,
    )
    memory_review.apply_annotation(db_session, second, user=reviewer)
    assert tom.content["details"] == "tall and funny; a teacher"
    assert tom.verification_status == "verified"
    assert len(_events(db_session, "memory.enhancement_applied")) == 2


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (AnnotationForm(annotation_type="opinion"), "annotation_type"),
        (AnnotationForm(annotation_type="correction", changes={"name": "Tom"}), "changes"),
        (AnnotationForm(annotation_type="correction", changes={"year": "nineteen"}), "c_year"),
        (AnnotationForm(annotation_type="correction", changes={"year": "1700"}), "c_year"),
        (AnnotationForm(annotation_type="correction", changes={"count": "-2"}), "c_count"),
        (AnnotationForm(annotation_type="correction", changes={"name": "x" * 301}), "c_name"),
        (AnnotationForm(annotation_type="correction", memory_type="dragon"), "memory_type"),
        (AnnotationForm(annotation_type="correction", memory_key="k" * 201), "memory_key"),
        (AnnotationForm(annotation_type="enhancement"), "detail"),
        (AnnotationForm(annotation_type="enhancement", detail="d" * 501), "detail"),
        (
            AnnotationForm(annotation_type="correction", changes={"name": "T"}, note="n" * 2001),
            "change_note",
        ),
    ],
)
def test_bad_annotations_are_refused_and_nothing_is_saved(db_session, world, form, field):
    reviewer, storyteller, first, _second = world
    tom = _memory(db_session, storyteller, first)
    with pytest.raises(MemoryReviewInputError) as caught:
        memory_review.annotate(db_session, tom, form, user=reviewer)
    assert field in caught.value.errors
    assert caught.value.message
    assert db_session.scalar(select(func.count()).select_from(MemoryAnnotation)) == 0


def test_a_change_cannot_be_applied_twice_and_a_check_has_nothing_to_apply(db_session, world):
    reviewer, storyteller, first, _second = world
    tom = _memory(db_session, storyteller, first)
    correction = memory_review.annotate(
        db_session, tom, AnnotationForm(annotation_type="correction", changes={"name": "Tim"}),
        user=reviewer,
    )
    memory_review.apply_annotation(db_session, correction, user=reviewer)
    with pytest.raises(MemoryReviewInputError) as caught:
        memory_review.apply_annotation(db_session, correction, user=reviewer)
    assert caught.value.field == f"apply_{correction.id}"
    check = memory_review.annotate(
        db_session, tom, AnnotationForm(annotation_type="verification", verdict="verified"),
        user=reviewer,
    )
    check.is_applied = False  # even if it were somehow pending
    with pytest.raises(MemoryReviewInputError):
        memory_review.apply_annotation(db_session, check, user=reviewer)


# ----------------------------------------------------------------------------- who may see


def test_memory_and_annotation_lookups_hide_what_the_user_may_not_see(
    db_session, world, make_user
):
    reviewer, storyteller, first, _second = world
    stranger = make_user("coordinator")
    admin = make_user("admin")
    tom = _memory(db_session, storyteller, first)
    annotation = memory_review.annotate(
        db_session, tom, AnnotationForm(annotation_type="enhancement", detail="kind"),
        user=reviewer,
    )
    assert memory_review.memory_or_404(db_session, reviewer, tom.id) is tom
    assert memory_review.memory_or_404(db_session, admin, tom.id) is tom
    assert memory_review.annotation_or_404(db_session, reviewer, annotation.id) is annotation
    with pytest.raises(NotFound):
        memory_review.memory_or_404(db_session, stranger, tom.id)
    with pytest.raises(NotFound):
        memory_review.annotation_or_404(db_session, stranger, annotation.id)
    assert memory_review.can_annotate(reviewer) and memory_review.can_annotate(admin)
    assert memory_review.can_annotate(stranger)  # a coordinator, once granted
