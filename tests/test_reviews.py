"""Domain tests for storyteller/reviews.py: decisions, edits and their history, diffs, the
book choice, the storyteller's confirmation and correction, and the queue."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from storyteller import reviews
from storyteller.models import (
    ArtifactRevision,
    AuditLog,
    Event,
    LifeEvent,
    SessionArtifact,
    SessionInteraction,
    utcnow,
)

ANSWER = "My brother Tom and I swam at Carson Beach in the summer of 1950."


@pytest.fixture
def people(make_user, make_storyteller, make_session, db_session):
    reviewer = make_user("reviewer", name="Rita Reviewer")
    coordinator = make_user("coordinator", name="Cora Coordinator")
    teller_user = make_user("storyteller", name="Alice Owner")
    alice = make_storyteller(user=teller_user, granted_to=(reviewer, coordinator))
    session = make_session(alice, session_name="Summers by the sea")
    return {
        "reviewer": reviewer,
        "coordinator": coordinator,
        "teller": teller_user,
        "alice": alice,
        "session": session,
    }


@pytest.fixture
def make_artifact(db_session, people):
    counter = {"n": 0}

    def make(
        session=None,
        *,
        status="provisional",
        kind="scene_capture",
        age_minutes=0,
        life_event=None,
        content="Tom swam at Carson Beach in 1950.",
        **fields,
    ):
        session = session or people["session"]
        counter["n"] += 1
        interaction = SessionInteraction(
            session_id=session.id,
            interaction_sequence=counter["n"] + 100 * len(session.interactions),
            agent_prompt="Where did you spend your summers?",
            storyteller_response=ANSWER,
            response_method="text",
            answered_at=utcnow(),
        )
        db_session.add(interaction)
        db_session.flush()
        artifact = SessionArtifact(
            session_id=session.id,
            source_interaction_id=interaction.id,
            life_event_id=life_event.id if life_event else None,
            artifact_type=kind,
            artifact_name="Scene: Carson Beach",
            content=content,
            structured_data={"who": ["Tom"], "where": ["Carson Beach"], "when": [1950]},
            review_status=status,
            is_approved=status == "approved",
            **fields,
        )
        db_session.add(artifact)
        db_session.flush()
        if age_minutes:
            artifact.created_at = utcnow() - timedelta(minutes=age_minutes)
            db_session.flush()
        return artifact

    return make


def _events(db, artifact, event_type):
    return [
        e
        for e in db.scalars(select(Event).where(Event.event_type == event_type))
        if (e.payload or {}).get("artifact_id") == str(artifact.id)
    ]


def _audits(db, artifact):
    return list(db.scalars(select(AuditLog).where(AuditLog.object_id == str(artifact.id))))


# ----------------------------------------------------------------------------- decisions


def test_approve_sets_the_review_fields_an_event_and_an_audit(db_session, people, make_artifact):
    artifact = make_artifact()
    assert reviews.decide(db_session, artifact, "approve", "", user=people["reviewer"])
    assert artifact.review_status == "approved"
    assert artifact.is_approved is True
    assert artifact.approved_at is not None
    assert artifact.reviewed_by_id == people["reviewer"].id
    assert artifact.reviewed_at is not None
    assert artifact.review_comment is None
    assert artifact.is_provisional is True  # only the storyteller's confirmation clears it
    assert len(_events(db_session, artifact, "artifact.approved")) == 1
    audit = _audits(db_session, artifact)
    assert [a.action for a in audit] == ["review"]
    assert audit[0].storyteller_id == people["alice"].id


def test_approving_twice_changes_nothing_the_second_time(db_session, people, make_artifact):
    artifact = make_artifact()
    assert reviews.decide(db_session, artifact, "approve", "Lovely", user=people["reviewer"])
    first_at = artifact.approved_at
    assert not reviews.decide(db_session, artifact, "approve", "Lovely", user=people["reviewer"])
    assert artifact.approved_at == first_at
    assert len(_events(db_session, artifact, "artifact.approved")) == 1


@pytest.mark.parametrize(
    ("decision", "status"), [("request_changes", "changes_requested"), ("reject", "rejected")]
)
def test_request_changes_and_reject_need_a_comment(
    db_session, people, make_artifact, decision, status
):
    artifact = make_artifact()
    with pytest.raises(reviews.ReviewInputError) as refused:
        reviews.decide(db_session, artifact, decision, "   ", user=people["reviewer"])
    assert refused.value.field == "comment"
    assert artifact.review_status == "provisional"
    assert reviews.decide(
        db_session, artifact, decision, "The year is wrong", user=people["reviewer"]
    )
    assert artifact.review_status == status
    assert artifact.review_comment == "The year is wrong"
    assert artifact.is_approved is False and artifact.approved_at is None
    assert len(_events(db_session, artifact, f"artifact.{status}")) == 1


def test_rejecting_an_approved_included_artifact_takes_it_out_of_the_book(
    db_session, people, make_artifact
):
    artifact = make_artifact()
    reviews.decide(db_session, artifact, "approve", None, user=people["reviewer"])
    reviews.set_included(db_session, artifact, True, user=people["reviewer"])
    reviews.decide(db_session, artifact, "reject", "Invented", user=people["coordinator"])
    assert artifact.included_in_synthesis is False
    assert artifact.is_approved is False
    assert artifact.reviewed_by_id == people["coordinator"].id


def test_unknown_decision_and_overlong_comment_are_refused(db_session, people, make_artifact):
    artifact = make_artifact()
    with pytest.raises(reviews.ReviewInputError) as refused:
        reviews.decide(db_session, artifact, "publish", "", user=people["reviewer"])
    assert refused.value.field == "decision"
    with pytest.raises(reviews.ReviewInputError) as refused:
        reviews.decide(db_session, artifact, "reject", "x" * 2001, user=people["reviewer"])
    assert refused.value.field == "comment"


# ----------------------------------------------------------------------------- the book


def test_include_only_when_approved(db_session, people, make_artifact):
    artifact = make_artifact()
    with pytest.raises(reviews.ReviewInputError) as refused:
        reviews.set_included(db_session, artifact, True, user=people["reviewer"])
    assert refused.value.field == "included"
    assert artifact.included_in_synthesis is False
    reviews.decide(db_session, artifact, "approve", None, user=people["reviewer"])
    assert reviews.set_included(db_session, artifact, True, user=people["reviewer"])
    assert artifact.included_in_synthesis is True
    assert not reviews.set_included(db_session, artifact, True, user=people["reviewer"])
    assert len(_events(db_session, artifact, "artifact.included")) == 1
    assert reviews.set_included(db_session, artifact, False, user=people["reviewer"])
    assert artifact.included_in_synthesis is False
    assert len(_events(db_session, artifact, "artifact.excluded")) == 1


def test_approved_artifacts_lists_only_the_approved_of_that_storyteller(
    db_session, people, make_artifact, make_storyteller, make_session
):
    approved = make_artifact(status="approved")
    make_artifact(status="rejected")
    make_artifact()
    other = make_artifact(make_session(make_storyteller()), status="approved")
    listed = reviews.approved_artifacts(db_session, people["alice"])
    assert [a.id for a in listed] == [approved.id]
    assert other.id not in [a.id for a in listed]


# ----------------------------------------------------------------------------- edits


def test_every_edit_keeps_the_version_it_replaced(db_session, people, make_artifact):
    artifact = make_artifact(content="Version one.")
    first = reviews.edit(
        db_session,
        artifact,
        name="Scene: the beach",
        content="Version two.",
        reason="Shorter",
        user=people["reviewer"],
    )
    second = reviews.edit(
        db_session,
        artifact,
        name="Scene: the beach",
        content="Version three.",
        reason=None,
        user=people["coordinator"],
    )
    assert (first.revision_number, second.revision_number) == (1, 2)
    assert first.content == "Version one." and first.artifact_name == "Scene: Carson Beach"
    assert first.edited_by_id == people["reviewer"].id and first.reason == "Shorter"
    assert second.content == "Version two." and second.edited_by_id == people["coordinator"].id
    assert artifact.content == "Version three."
    assert reviews.current_version_number(db_session, artifact) == 3
    assert len(_events(db_session, artifact, "artifact.edited")) == 2

    history = reviews.versions(db_session, artifact)
    assert [v.key for v in history] == ["1", "2", "current"]
    assert [v.content for v in history] == ["Version one.", "Version two.", "Version three."]
    assert history[0].made_by is None  # from the interview
    assert history[0].replaced_by.id == people["reviewer"].id
    assert history[1].made_by.id == people["reviewer"].id
    assert history[2].made_by.id == people["coordinator"].id
    assert history[2].is_current and history[2].number == 3


def test_an_unchanged_edit_stores_nothing(db_session, people, make_artifact):
    artifact = make_artifact()
    assert (
        reviews.edit(
            db_session,
            artifact,
            name=artifact.artifact_name,
            content=artifact.content,
            reason="",
            user=people["reviewer"],
        )
        is None
    )
    assert (
        db_session.scalars(
            select(ArtifactRevision).where(ArtifactRevision.artifact_id == artifact.id)
        ).all()
        == []
    )


def test_edit_refuses_empty_text_and_an_edit_over_a_newer_version(
    db_session, people, make_artifact
):
    artifact = make_artifact()
    with pytest.raises(reviews.ReviewInputError) as refused:
        reviews.edit(
            db_session, artifact, name="x" * 201, content=" ", reason=None, user=people["reviewer"]
        )
    assert set(refused.value.errors) == {"artifact_name", "content"}
    reviews.edit(
        db_session,
        artifact,
        name=None,
        content="Someone else's change.",
        reason=None,
        user=people["coordinator"],
        base_version=1,
    )
    with pytest.raises(reviews.ReviewInputError) as refused:
        reviews.edit(
            db_session,
            artifact,
            name=None,
            content="My change.",
            reason=None,
            user=people["reviewer"],
            base_version=1,
        )
    assert "Someone else changed" in refused.value.message
    assert artifact.content == "Someone else's change."


def test_diff_between_any_two_versions(db_session, people, make_artifact):
    artifact = make_artifact(content="We swam at Carson Beach in 1950.")
    reviews.edit(
        db_session,
        artifact,
        name="Scene: Revere",
        content="We swam at Revere Beach in 1950.",
        reason=None,
        user=people["reviewer"],
    )
    reviews.edit(
        db_session,
        artifact,
        name="Scene: Revere",
        content="We swam at Revere Beach in 1951.",
        reason=None,
        user=people["reviewer"],
    )

    _all, result = reviews.diff_versions(db_session, artifact, "1", "current")
    removed = "".join(s.text for s in result.content if s.kind == "removed")
    added = "".join(s.text for s in result.content if s.kind == "added")
    assert "Carson" in removed and "1950" in removed
    assert "Revere" in added and "1951" in added
    assert "Carson" in "".join(s.text for s in result.name if s.kind == "removed")

    _all, result = reviews.diff_versions(db_session, artifact, "2", "1")
    assert "".join(s.text for s in result.content if s.kind == "added") == "Carson"

    _all, result = reviews.diff_versions(db_session, artifact, "2", "3")  # 3 is current
    assert result.b.is_current
    assert {s.text for s in result.content if s.is_change} == {"1950", "1951"}

    _all, result = reviews.diff_versions(db_session, artifact, "current", "current")
    assert result.same

    _all, result = reviews.diff_versions(db_session, artifact, None, None)
    assert (result.a.key, result.b.key) == ("2", "current")


def test_diff_refuses_a_version_that_does_not_exist(db_session, people, make_artifact):
    artifact = make_artifact()
    with pytest.raises(reviews.ReviewInputError) as refused:
        reviews.diff_versions(db_session, artifact, "7", "banana")
    assert set(refused.value.errors) == {"a", "b"}


# ----------------------------------------------------------------------------- the storyteller


def test_storyteller_confirms_once(db_session, people, make_artifact):
    artifact = make_artifact()
    assert reviews.confirm(db_session, artifact, user=people["teller"])
    assert artifact.confirmed_at is not None and artifact.is_provisional is False
    assert artifact.review_status == "provisional"  # a confirmation is not a review
    confirmed_at = artifact.confirmed_at
    assert not reviews.confirm(db_session, artifact, user=people["teller"])
    assert artifact.confirmed_at == confirmed_at
    assert len(_events(db_session, artifact, "artifact.confirmed")) == 1


def test_a_correction_after_approval_goes_back_to_review(db_session, people, make_artifact):
    artifact = make_artifact(content="Tom swam at Carson Beach in 1950.")
    reviews.decide(db_session, artifact, "approve", None, user=people["reviewer"])
    reviews.set_included(db_session, artifact, True, user=people["reviewer"])
    revision = reviews.correct(
        db_session,
        artifact,
        content="Tom swam at Revere Beach in 1950.",
        reason="It was Revere",
        user=people["teller"],
    )
    assert revision.revision_number == 1
    assert revision.content == "Tom swam at Carson Beach in 1950."
    assert revision.edited_by_id == people["teller"].id
    assert artifact.content == "Tom swam at Revere Beach in 1950."
    assert artifact.confirmed_at is not None and artifact.is_provisional is False
    assert artifact.review_status == "provisional"
    assert artifact.is_approved is False and artifact.approved_at is None
    assert artifact.included_in_synthesis is False
    assert len(_events(db_session, artifact, "artifact.corrected")) == 1
    # Back in the reviewer's queue.
    assert artifact.id in [a.id for a in reviews.queue(db_session, people["reviewer"]).items]


def test_an_unchanged_correction_only_confirms(db_session, people, make_artifact):
    artifact = make_artifact()
    assert (
        reviews.correct(
            db_session, artifact, content=artifact.content, reason=None, user=people["teller"]
        )
        is None
    )
    assert artifact.confirmed_at is not None
    assert _events(db_session, artifact, "artifact.corrected") == []
    with pytest.raises(reviews.ReviewInputError):
        reviews.correct(db_session, artifact, content="", reason=None, user=people["teller"])


# ----------------------------------------------------------------------------- the queue


def test_queue_oldest_first_with_changes_requested_and_only_visible(
    db_session, people, make_artifact, make_storyteller, make_session
):
    newest = make_artifact(age_minutes=1)
    oldest = make_artifact(age_minutes=30)
    asked = make_artifact(status="changes_requested", age_minutes=10)
    make_artifact(status="approved", age_minutes=40)
    make_artifact(status="rejected", age_minutes=50)
    hidden = make_artifact(make_session(make_storyteller()), age_minutes=60)
    page = reviews.queue(db_session, people["reviewer"])
    assert [a.id for a in page.items] == [oldest.id, asked.id, newest.id]
    assert page.total == 3 and not page.has_more
    assert hidden.id not in [a.id for a in page.items]


def test_queue_filters_and_pages(db_session, people, make_artifact, make_storyteller, make_session):
    event = LifeEvent(storyteller_id=people["alice"].id, event_name="Summers at the beach")
    db_session.add(event)
    db_session.flush()
    other_session = make_session(people["alice"], session_name="School days")
    scene = make_artifact(life_event=event, age_minutes=5)
    timeline = make_artifact(kind="timeline_entry", age_minutes=4)
    school = make_artifact(other_session, age_minutes=3)
    bob = make_storyteller(display_name="Bob", granted_to=(people["reviewer"],))
    bobs = make_artifact(make_session(bob), age_minutes=2)
    user = people["reviewer"]

    def ids(**args):
        filters = reviews.parse_filters(db_session, user, args)
        return [a.id for a in reviews.queue(db_session, user, filters).items]

    assert ids() == [scene.id, timeline.id, school.id, bobs.id]
    assert ids(storyteller=str(bob.id)) == [bobs.id]
    assert ids(session=str(other_session.id)) == [school.id]
    assert ids(life_event=str(event.id)) == [scene.id]
    assert ids(type="timeline_entry") == [timeline.id]
    assert ids(storyteller=str(people["alice"].id), type="scene_capture") == [scene.id, school.id]

    filters = reviews.parse_filters(db_session, user, {"page": "2"})
    second = reviews.queue(db_session, user, filters, page_size=3)
    assert [a.id for a in second.items] == [bobs.id]
    assert second.total == 4 and second.pages == 2 and not second.has_more
    assert reviews.queue(db_session, user, page_size=3).has_more


def test_queue_filters_refuse_unknown_and_hidden_values(
    db_session, people, make_storyteller, make_session
):
    hidden = make_storyteller(display_name="Hidden")
    user = people["reviewer"]
    for args, field in (
        ({"storyteller": "not-an-id"}, "storyteller"),
        ({"storyteller": str(hidden.id)}, "storyteller"),
        ({"storyteller": str(uuid.uuid4())}, "storyteller"),
        ({"session": str(make_session(hidden).id)}, "session"),
        ({"life_event": str(uuid.uuid4())}, "life_event"),
        ({"type": "poem"}, "type"),
        ({"page": "two"}, "page"),
        ({"page": "0"}, "page"),
    ):
        with pytest.raises(reviews.ReviewInputError) as refused:
            reviews.parse_filters(db_session, user, args)
        assert field in refused.value.errors, args


def test_queue_summary_counts_per_storyteller(
    db_session, make_user, people, make_artifact, make_storyteller, make_session
):
    make_artifact(age_minutes=3)
    make_artifact(status="changes_requested", age_minutes=2)
    make_artifact(status="approved")
    bob = make_storyteller(display_name="Bob", granted_to=(people["reviewer"],))
    make_artifact(make_session(bob), age_minutes=1)
    summary = reviews.queue_summary(db_session, people["reviewer"])
    assert summary.total == 3
    assert [(r.storyteller.display_name, r.waiting) for r in summary.rows] == [
        ("Alice Owner", 2),
        ("Bob", 1),
    ]
    assert len(summary.oldest) == 3
    nobody = reviews.queue_summary(db_session, make_user("reviewer"))
    assert nobody.total == 0 and nobody.rows == []


def test_structured_facts_in_plain_words():
    facts = reviews.structured_facts(
        {
            "who": ["Tom", "Ann"],
            "where": [],
            "when": [1950],
            "document_id": "abc",
            "mood": "happy",
            "is_happy": True,
        }
    )
    assert facts == [
        ("People", "Tom, Ann"),
        ("Years", "1950"),
        ("Mood", "happy"),
        ("Is happy", "yes"),
    ]
