"""The review pages through HTTP: queue, artifact beside its source, decisions, edits and
diffs, the book choice, the storyteller's "My stories", and reviewer session notes."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from storyteller.models import (
    ArtifactRevision,
    AuditLog,
    SessionArtifact,
    SessionInteraction,
    SessionNote,
    utcnow,
)

_sequence = itertools.count(1)
ANSWER = "My brother Tom and I swam at Carson Beach in the summer of 1950."


@pytest.fixture
def world(make_user, make_storyteller, make_session, db_session):
    reviewer = make_user("reviewer", name="Rita Reviewer")
    teller = make_user("storyteller", name="Alice Owner")
    alice = make_storyteller(user=teller, granted_to=(reviewer,))
    session = make_session(alice, session_name="Summers by the sea")
    hidden = make_storyteller(display_name="Hidden Henry")
    hidden_session = make_session(hidden, session_name="Henry's war")
    return {
        "reviewer": reviewer,
        "teller": teller,
        "alice": alice,
        "session": session,
        "hidden_session": hidden_session,
    }


@pytest.fixture
def artifact_in(db_session):
    def make(
        session,
        *,
        content="Tom swam at Carson Beach with his dog Rex.",
        status="provisional",
        age_minutes=0,
        kind="scene_capture",
        name="Scene: Carson",
    ):
        interaction = SessionInteraction(
            session_id=session.id,
            interaction_sequence=next(_sequence),
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
            artifact_type=kind,
            artifact_name=name,
            content=content,
            structured_data={"who": ["Tom"], "where": ["Carson Beach"]},
            review_status=status,
            is_approved=status == "approved",
        )
        db_session.add(artifact)
        db_session.flush()
        if age_minutes:
            artifact.created_at = utcnow() - timedelta(minutes=age_minutes)
            db_session.flush()
        return artifact

    return make


def _fresh(db_session, artifact):
    db_session.expire_all()
    return db_session.get(SessionArtifact, artifact.id)


# ----------------------------------------------------------------------------- queue


def test_queue_lists_waiting_artifacts_oldest_first(client, login, world, artifact_in):
    artifact_in(world["session"], name="Newer one", age_minutes=1)
    artifact_in(world["session"], name="Older one", age_minutes=20)
    artifact_in(world["session"], name="Already approved", status="approved")
    artifact_in(world["hidden_session"], name="Henry's secret")
    login(world["reviewer"])
    body = client.get("/review").get_data(as_text=True)
    assert body.index("Older one") < body.index("Newer one")
    assert "Already approved" not in body
    assert "Henry" not in body
    assert "2 waiting" in body


def test_queue_filter_by_type_and_htmx_fragment(client, login, world, artifact_in):
    artifact_in(world["session"], name="A scene")
    artifact_in(world["session"], name="A year", kind="timeline_entry")
    login(world["reviewer"])
    body = client.get("/review?type=timeline_entry").get_data(as_text=True)
    assert "A year" in body and "A scene" not in body
    fragment = client.get(
        "/review?type=scene_capture", headers={"HX-Request": "true", "HX-Target": "queue-list"}
    )
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert "<html" not in text and 'id="queue-list"' in text
    assert "A scene" in text and "A year" not in text
    assert "HX-Target" in fragment.headers["Vary"]


def test_queue_with_a_bad_filter_is_400_with_a_message(client, login, world):
    login(world["reviewer"])
    response = client.get(f"/review?storyteller={world['hidden_session'].storyteller_id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please choose a storyteller from the list." in body
    assert 'aria-describedby="storyteller-error"' in body
    assert "Hidden Henry" not in body
    assert client.get("/review?type=poem").status_code == 400
    assert client.get("/review?page=x").status_code == 400


def test_reviewer_home_shows_the_queue_summary(client, login, world, artifact_in):
    artifact_in(world["session"], name="Waiting scene")
    login(world["reviewer"])
    body = client.get("/").get_data(as_text=True)
    assert "1</strong> story is waiting" in body
    assert "Alice Owner" in body and "Waiting scene" in body
    assert f"/review?storyteller={world['alice'].id}" in body


# ----------------------------------------------------------------------------- artifact page


def test_artifact_page_shows_the_source_and_shared_words(
    client, login, world, artifact_in, db_session
):
    artifact = artifact_in(world["session"])
    login(world["reviewer"])
    response = client.get(f"/artifacts/{artifact.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Where did you spend your summers?" in body
    assert "Summers by the sea" in body
    assert "<mark>Carson</mark>" in body  # shared with the answer
    assert "<mark>Rex</mark>" not in body and "Rex" in body  # not in the answer
    assert "People" in body and "Carson Beach" in body  # structured data in plain words
    assert "Not yet confirmed by the storyteller" in body
    reads = db_session.scalars(
        select(AuditLog).where(AuditLog.object_id == str(artifact.id), AuditLog.action == "read")
    ).all()
    assert len(reads) == 1


def test_unknown_artifact_is_404(client, login, world):
    login(world["reviewer"])
    assert client.get(f"/artifacts/{uuid.uuid4()}").status_code == 404


# ----------------------------------------------------------------------------- decisions


def test_approve_from_the_page(client, login, world, artifact_in, db_session):
    artifact = artifact_in(world["session"])
    login(world["reviewer"])
    response = client.post(
        f"/artifacts/{artifact.id}/decision", data={"decision": "approve", "comment": ""}
    )
    assert response.status_code == 303
    fresh = _fresh(db_session, artifact)
    assert fresh.review_status == "approved" and fresh.is_approved
    assert fresh.reviewed_by_id == world["reviewer"].id
    body = client.get(f"/artifacts/{artifact.id}").get_data(as_text=True)
    assert "Approved</strong> by Rita Reviewer" in body
    # A double submit is harmless.
    again = client.post(
        f"/artifacts/{artifact.id}/decision", data={"decision": "approve", "comment": ""}
    )
    assert again.status_code == 303
    assert "already saved" in client.get(again.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(
    ("decision", "status"), [("request_changes", "changes_requested"), ("reject", "rejected")]
)
def test_request_changes_and_reject_need_a_comment(
    client, login, world, artifact_in, db_session, decision, status
):
    artifact = artifact_in(world["session"])
    login(world["reviewer"])
    refused = client.post(
        f"/artifacts/{artifact.id}/decision", data={"decision": decision, "comment": ""}
    )
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "Please say what should change or why" in body
    assert 'aria-describedby="comment-error"' in body
    assert _fresh(db_session, artifact).review_status == "provisional"
    done = client.post(
        f"/artifacts/{artifact.id}/decision",
        data={"decision": decision, "comment": "Rex was never mentioned"},
    )
    assert done.status_code == 303
    fresh = _fresh(db_session, artifact)
    assert fresh.review_status == status and fresh.review_comment == "Rex was never mentioned"


def test_an_unknown_decision_is_400(client, login, world, artifact_in):
    artifact = artifact_in(world["session"])
    login(world["reviewer"])
    response = client.post(
        f"/artifacts/{artifact.id}/decision", data={"decision": "publish", "comment": "x"}
    )
    assert response.status_code == 400


# ----------------------------------------------------------------------------- edits and diffs


def test_edit_keeps_history_and_the_diff_shows_any_two_versions(
    client, login, world, artifact_in, db_session
):
    artifact = artifact_in(world["session"], content="We swam at Carson Beach in 1950.")
    login(world["reviewer"])
    form = client.get(f"/artifacts/{artifact.id}/edit").get_data(as_text=True)
    assert 'name="base_version" value="1"' in form
    first = client.post(
        f"/artifacts/{artifact.id}/edit",
        data={
            "artifact_name": "Scene: Revere",
            "content": "We swam at Revere Beach in 1950.",
            "reason": "She said Revere later",
            "base_version": "1",
        },
    )
    assert first.status_code == 303
    second = client.post(
        f"/artifacts/{artifact.id}/edit",
        data={
            "artifact_name": "Scene: Revere",
            "content": "We swam at Revere Beach in 1951.",
            "reason": "",
            "base_version": "2",
        },
    )
    assert second.status_code == 303
    revisions = db_session.scalars(
        select(ArtifactRevision)
        .where(ArtifactRevision.artifact_id == artifact.id)
        .order_by(ArtifactRevision.revision_number)
    ).all()
    assert [r.content for r in revisions] == [
        "We swam at Carson Beach in 1950.",
        "We swam at Revere Beach in 1950.",
    ]
    assert all(r.edited_by_id == world["reviewer"].id for r in revisions)

    page = client.get(f"/artifacts/{artifact.id}").get_data(as_text=True)
    assert "Version 1" in page and "Current version" in page
    assert "She said Revere later" in page and "Rita Reviewer" in page

    diff = client.get(f"/artifacts/{artifact.id}/diff?a=1&b=current").get_data(as_text=True)
    assert '<span class="visually-hidden">[removed: </span>Carson' in diff
    assert '<span class="visually-hidden">[added: </span>Revere' in diff
    older = client.get(f"/artifacts/{artifact.id}/diff?a=2&b=1").get_data(as_text=True)
    assert "[added: </span>Carson" in older and "1951" not in older.split("Text")[-1]
    same = client.get(f"/artifacts/{artifact.id}/diff?a=2&b=2").get_data(as_text=True)
    assert "These two versions are the same." in same


def test_edit_with_empty_text_is_400_and_keeps_what_was_typed(
    client, login, world, artifact_in, db_session
):
    artifact = artifact_in(world["session"])
    login(world["reviewer"])
    response = client.post(
        f"/artifacts/{artifact.id}/edit",
        data={"artifact_name": "My new title", "content": "  ", "reason": "", "base_version": "1"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "cannot be empty" in body and 'value="My new title"' in body
    assert _fresh(db_session, artifact).artifact_name == "Scene: Carson"


def test_diff_with_an_unknown_version_is_400(client, login, world, artifact_in):
    artifact = artifact_in(world["session"])
    login(world["reviewer"])
    response = client.get(f"/artifacts/{artifact.id}/diff?a=9&b=current")
    assert response.status_code == 400
    assert "Please choose a version from the list." in response.get_data(as_text=True)


# ----------------------------------------------------------------------------- the book


def test_include_only_approved(client, login, world, artifact_in, db_session):
    artifact = artifact_in(world["session"])
    login(world["reviewer"])
    refused = client.post(f"/artifacts/{artifact.id}/include", data={"included": "1"})
    assert refused.status_code == 400
    assert "Only an approved story can go into the book" in refused.get_data(as_text=True)
    assert not _fresh(db_session, artifact).included_in_synthesis
    assert (
        client.post(f"/artifacts/{artifact.id}/include", data={"included": "maybe"}).status_code
        == 400
    )

    client.post(f"/artifacts/{artifact.id}/decision", data={"decision": "approve"})
    back = f"/storytellers/{world['alice'].id}/artifacts"
    done = client.post(f"/artifacts/{artifact.id}/include", data={"included": "1", "next": back})
    assert done.status_code == 303 and done.headers["Location"].endswith(back)
    assert _fresh(db_session, artifact).included_in_synthesis
    listing = client.get(back).get_data(as_text=True)
    assert "1 approved, 1 chosen for the book" in listing
    assert "Leave it out of the book" in listing
    client.post(f"/artifacts/{artifact.id}/include", data={"included": "0"})
    assert not _fresh(db_session, artifact).included_in_synthesis


# ----------------------------------------------------------------------------- the storyteller


def test_my_stories_confirm_and_correct(client, login, world, artifact_in, db_session):
    artifact = artifact_in(world["session"], content="Tom swam at Carson Beach.")
    artifact_in(world["hidden_session"], name="Henry's secret")
    login(world["reviewer"])
    client.post(f"/artifacts/{artifact.id}/decision", data={"decision": "approve"})
    client.post("/sign-out")

    login(world["teller"])
    page = client.get("/my-stories").get_data(as_text=True)
    assert "Tom swam at Carson Beach." in page and "Henry" not in page
    assert "Approved</strong> by Rita Reviewer" in page
    assert "Not yet confirmed by the storyteller" in page
    assert "Yes, that&#39;s right" in page or "Yes, that's right" in page

    assert client.post(f"/artifacts/{artifact.id}/confirm").status_code == 303
    assert client.post(f"/artifacts/{artifact.id}/confirm").status_code == 303  # harmless
    fresh = _fresh(db_session, artifact)
    assert fresh.confirmed_at is not None and fresh.is_provisional is False
    assert fresh.review_status == "approved"
    assert "Confirmed by the storyteller" in client.get("/my-stories").get_data(as_text=True)

    assert client.get(f"/artifacts/{artifact.id}/correct").status_code == 200
    refused = client.post(f"/artifacts/{artifact.id}/correct", data={"content": ""})
    assert refused.status_code == 400
    corrected = client.post(
        f"/artifacts/{artifact.id}/correct",
        data={"content": "Tom swam at Revere Beach.", "reason": "Revere"},
    )
    assert corrected.status_code == 303
    fresh = _fresh(db_session, artifact)
    assert fresh.content == "Tom swam at Revere Beach."
    assert fresh.review_status == "provisional" and not fresh.is_approved
    assert [r.content for r in fresh.revisions] == ["Tom swam at Carson Beach."]
    client.post("/sign-out")

    # The reviewer sees the correction waiting again, and the storyteller's confirmation.
    login(world["reviewer"])
    assert "Scene: Carson" in client.get("/review").get_data(as_text=True)
    review_page = client.get(f"/artifacts/{artifact.id}").get_data(as_text=True)
    assert "Confirmed by the storyteller" in review_page
    assert "Alice Owner" in review_page  # who made the current version


def test_storyteller_cannot_review_and_staff_cannot_confirm(client, login, world, artifact_in):
    artifact = artifact_in(world["session"])
    login(world["teller"])
    assert client.get("/review").status_code == 403
    assert client.get(f"/artifacts/{artifact.id}").status_code == 403
    assert (
        client.post(f"/artifacts/{artifact.id}/decision", data={"decision": "approve"}).status_code
        == 403
    )
    hidden = artifact_in(world["hidden_session"])
    assert client.post(f"/artifacts/{hidden.id}/confirm").status_code == 404
    client.post("/sign-out")
    login(world["reviewer"])
    assert client.post(f"/artifacts/{artifact.id}/confirm").status_code == 403
    assert client.get("/my-stories").status_code == 403


# ----------------------------------------------------------------------------- reviewer notes


def test_reviewer_adds_a_session_note_from_the_artifact_page(
    client, login, world, artifact_in, db_session
):
    artifact = artifact_in(world["session"])
    login(world["reviewer"])
    response = client.post(
        f"/sessions/{world['session'].id}/notes",
        data={
            "note_type": "concern",
            "note_content": "Rex the dog is not in her answer.",
            "requires_followup": "1",
            "artifact_id": str(artifact.id),
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/artifacts/{artifact.id}#notes")
    note = db_session.scalar(
        select(SessionNote).where(SessionNote.session_id == world["session"].id)
    )
    assert note.author_id == world["reviewer"].id and note.requires_followup
    page = client.get(f"/artifacts/{artifact.id}").get_data(as_text=True)
    assert "Rex the dog is not in her answer." in page
    done = client.post(
        f"/session-notes/{note.id}/done", data={"next": f"/artifacts/{artifact.id}#notes"}
    )
    assert done.status_code == 303
    db_session.expire_all()
    assert db_session.get(SessionNote, note.id).followup_done_at is not None


def test_a_bad_reviewer_note_is_shown_again_on_the_artifact_page(client, login, world, artifact_in):
    artifact = artifact_in(world["session"])
    login(world["reviewer"])
    response = client.post(
        f"/sessions/{world['session'].id}/notes",
        data={"note_type": "concern", "note_content": "   ", "artifact_id": str(artifact.id)},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please write the note." in body
    assert "Where did you spend your summers?" in body  # the artifact page, not the session's


def test_reviewer_adds_a_note_from_the_session_page(client, login, world, db_session):
    login(world["reviewer"])
    response = client.post(
        f"/sessions/{world['session'].id}/notes",
        data={"note_type": "insight", "note_content": "Loves talking about the sea."},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/sessions/{world['session'].id}#notes")
    assert (
        db_session.scalar(
            select(SessionNote.note_content).where(SessionNote.session_id == world["session"].id)
        )
        == "Loves talking about the sea."
    )
