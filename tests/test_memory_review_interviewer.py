"""A disputed memory is no longer used by the interviewer; a verified one still is."""

from __future__ import annotations

from dataclasses import replace

from storyteller import interview, memories, memory_review
from storyteller.agent.offline import OfflineInterviewer
from storyteller.memory_review import AnnotationForm

NEUTRAL_ANSWERS = [
    "It was a quiet sort of place and we got on with things.",
    "I suppose it was fairly ordinary, nothing special to tell really.",
    "We managed well enough, most of the time.",
    "It is hard to say now, it was a long while ago.",
]


def _questions(db, session, turns: int = 8) -> list[str]:
    """The offline interviewer's questions over a few plain answers in this session."""
    ctx, _rows = interview.build_context(db, session)
    offline = OfflineInterviewer()
    asked = []
    for index in range(turns):
        question = offline.next_question(ctx)
        asked.append(question.text)
        turn = interview.Turn(
            question=question.text,
            category=question.category,
            answer=NEUTRAL_ANSWERS[index % len(NEUTRAL_ANSWERS)],
            skipped=False,
            analysis=None,
        )
        ctx = replace(ctx, turns=[*ctx.turns, turn])
    return asked


def _person(db, storyteller, session, relation, name, confidence):
    return memories.create_memory(
        db,
        storyteller_id=storyteller.id,
        session_id=session.id,
        memory_type="person",
        memory_key=f"person:{relation}:{name.lower()}",
        content={
            "subject": f"{relation} {name}",
            "relation": relation,
            "name": name,
            "key": f"person:{relation}:{name.lower()}",
            "statement": f"My {relation} {name} lived with us.",
        },
        confidence=confidence,
        importance=0.6,
    )


def test_a_disputed_memory_stops_being_used_and_a_verified_one_is_still_used(
    db_session, make_user, make_storyteller, make_session
):
    reviewer = make_user("reviewer")
    storyteller = make_storyteller(granted_to=[reviewer])
    earlier = make_session(storyteller, session_name="Childhood", status="completed")
    tom = _person(db_session, storyteller, earlier, "brother", "Tom", 0.9)
    anna = _person(db_session, storyteller, earlier, "sister", "Anna", 0.8)

    before = make_session(storyteller, session_name="Growing up")
    ctx, _rows = interview.build_context(db_session, before)
    assert {m.id for m in ctx.memories} == {str(tom.id), str(anna.id)}
    assert any(q.startswith("Last time you told me about your brother Tom.")
               for q in _questions(db_session, before))

    memory_review.annotate(
        db_session,
        tom,
        AnnotationForm(annotation_type="verification", verdict="disputed",
                       note="She had no brother called Tom."),
        user=reviewer,
    )
    memory_review.annotate(
        db_session,
        anna,
        AnnotationForm(annotation_type="verification", verdict="verified"),
        user=reviewer,
    )
    db_session.flush()

    after = make_session(storyteller, session_name="Teenage years")
    ctx, rows = interview.build_context(db_session, after)
    assert [m.id for m in ctx.memories] == [str(anna.id)]
    assert [r.id for r in rows] == [anna.id]
    asked = _questions(db_session, after)
    assert not any("Tom" in q for q in asked)
    assert any(q.startswith("Last time you told me about your sister Anna.") for q in asked)


def test_an_applied_correction_is_what_the_interviewer_brings_up(
    db_session, make_user, make_storyteller, make_session
):
    reviewer = make_user("coordinator")
    storyteller = make_storyteller(granted_to=[reviewer])
    earlier = make_session(storyteller, session_name="Childhood", status="completed")
    tom = _person(db_session, storyteller, earlier, "brother", "Tom", 0.9)
    correction = memory_review.annotate(
        db_session,
        tom,
        AnnotationForm(annotation_type="correction",
                       changes={"name": "Thomas", "subject": "brother Thomas"}),
        user=reviewer,
    )
    pending = make_session(storyteller, session_name="Before the change")
    assert any("brother Tom." in q for q in _questions(db_session, pending))

    memory_review.apply_annotation(db_session, correction, user=reviewer)
    after = make_session(storyteller, session_name="After the change")
    ctx, _rows = interview.build_context(db_session, after)
    assert [m.content["name"] for m in ctx.memories] == ["Thomas"]
    asked = _questions(db_session, after)
    assert any(q.startswith("Last time you told me about your brother Thomas.") for q in asked)
    assert not any("brother Tom." in q for q in asked)
