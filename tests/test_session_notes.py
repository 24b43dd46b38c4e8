"""storyteller.session_notes and the note routes: add notes, mark follow-ups done."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storyteller import session_notes
from storyteller.models import AuditLog, Event, SessionNote
from storyteller.session_notes import NoteForm, NoteInputError


@pytest.fixture
def setup(make_user, make_storyteller, make_session):
    coordinator = make_user("coordinator", name="Daniel Coordinator")
    storyteller = make_storyteller(display_name="Margaret", granted_to=(coordinator,))
    session = make_session(storyteller)
    return coordinator, storyteller, session


def _notes(db):
    return int(db.scalar(select(func.count()).select_from(SessionNote)) or 0)


def test_add_note_and_mark_followup_done(db_session, setup):
    coordinator, storyteller, session = setup
    note = session_notes.add_note(
        db_session,
        session,
        NoteForm("concern", "  Seemed tired; ask about her hip.  ", True, True),
        user=coordinator,
    )
    assert note.note_type == "concern"
    assert note.note_content == "Seemed tired; ask about her hip."
    assert note.is_important and note.requires_followup
    assert note.author_id == coordinator.id and note.noted_by == "user"
    assert note.followup_done_at is None
    assert db_session.scalar(
        select(Event).where(Event.session_id == session.id,
                            Event.event_type == "session.note_added")
    )
    session_notes.mark_followup_done(db_session, note, user=coordinator)
    first = note.followup_done_at
    assert first is not None
    session_notes.mark_followup_done(db_session, note, user=coordinator)  # twice: no change
    assert note.followup_done_at == first
    assert db_session.scalar(
        select(func.count()).select_from(Event).where(Event.event_type == "session.followup_done")
    ) == 1
    assert db_session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.object_type == "session_note")
    ) == 2


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (NoteForm("gossip", "x"), "note_type"),
        (NoteForm("observation", "   "), "note_content"),
        (NoteForm("observation", "x" * 5001), "note_content"),
    ],
)
def test_bad_notes_are_refused(db_session, setup, form, field):
    coordinator, _storyteller, session = setup
    with pytest.raises(NoteInputError) as bad:
        session_notes.add_note(db_session, session, form, user=coordinator)
    assert bad.value.field == field
    assert _notes(db_session) == 0


def test_a_note_without_followup_cannot_be_marked_done(db_session, setup):
    coordinator, _storyteller, session = setup
    note = session_notes.add_note(db_session, session, NoteForm("insight", "Loves the sea"),
                                  user=coordinator)
    with pytest.raises(NoteInputError):
        session_notes.mark_followup_done(db_session, note, user=coordinator)


def test_notes_on_the_session_page_and_followups_on_the_progress_page(
    client, login, db_session, setup, make_user
):
    coordinator, storyteller, session = setup
    login(coordinator)
    response = client.post(
        f"/sessions/{session.id}/notes",
        data={"note_type": "concern", "note_content": "Ask about the hip", "is_important": "1",
              "requires_followup": "1"},
    )
    assert response.status_code == 303
    note = db_session.scalar(select(SessionNote).where(SessionNote.session_id == session.id))
    assert note.requires_followup and note.is_important
    page = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Ask about the hip" in page and "Mark follow-up as done" in page
    progress = client.get(f"/storytellers/{storyteller.id}/progress").get_data(as_text=True)
    assert "Open follow-ups" in progress and "Ask about the hip" in progress

    response = client.post(
        f"/session-notes/{note.id}/done",
        data={"next": f"/storytellers/{storyteller.id}/progress"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/storytellers/{storyteller.id}/progress")
    db_session.expire_all()
    assert db_session.get(SessionNote, note.id).followup_done_at is not None
    progress = client.get(f"/storytellers/{storyteller.id}/progress").get_data(as_text=True)
    assert "No follow-ups are waiting." in progress


def test_a_bad_note_is_shown_again_with_its_message(client, login, db_session, setup):
    coordinator, _storyteller, session = setup
    login(coordinator)
    response = client.post(
        f"/sessions/{session.id}/notes",
        data={"note_type": "observation", "note_content": "  ", "requires_followup": "1"},
    )
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "Please write the note." in body
    assert 'aria-describedby="note_content-error"' in body
    assert _notes(db_session) == 0


def test_the_storyteller_does_not_see_notes(client, login, db_session, make_user,
                                            make_storyteller, make_session):
    coordinator = make_user("coordinator")
    user = make_user("storyteller", name="Margaret")
    storyteller = make_storyteller(user=user, granted_to=(coordinator,))
    session = make_session(storyteller)
    session_notes.add_note(db_session, session, NoteForm("concern", "Private worry"),
                           user=coordinator)
    db_session.flush()
    login(user)
    body = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Private worry" not in body and "Add a note" not in body
    body = client.get(f"/storytellers/{storyteller.id}/progress").get_data(as_text=True)
    assert "Open follow-ups" not in body


def test_a_reviewer_adds_notes_from_the_session_page(client, login, db_session, make_user,
                                                     make_storyteller, make_session):
    reviewer = make_user("reviewer", name="Rita Reviewer")
    storyteller = make_storyteller(display_name="Margaret", granted_to=(reviewer,))
    session = make_session(storyteller)
    login(reviewer)
    body = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Add a note" in body
    assert "Change or reschedule" not in body  # notes yes, schedule changes no
    response = client.post(
        f"/sessions/{session.id}/notes",
        data={"note_type": "insight", "note_content": "The bakery story needs a date."},
    )
    assert response.status_code == 303
    assert "The bakery story needs a date." in client.get(
        f"/sessions/{session.id}"
    ).get_data(as_text=True)
