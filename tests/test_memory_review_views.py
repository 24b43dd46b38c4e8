"""The memory pages: the list, one memory, annotating and applying, through HTTP."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from storyteller import memories
from storyteller.models import AuditLog, InteractionMemory, MemoryAnnotation

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
    owner = make_user("storyteller")
    storyteller = make_storyteller(user=owner, granted_to=[reviewer])
    first = make_session(storyteller, session_name="Childhood in Dorchester")
    second = make_session(storyteller, session_name="School days")
    tom = memories.create_memory(
        db_session,
        storyteller_id=storyteller.id,
        session_id=first.id,
        memory_type="person",
        memory_key="person:brother:tom",
        content=dict(TOM),
        confidence=0.75,
        importance=0.6,
    )
    place = memories.create_memory(
        db_session,
        storyteller_id=storyteller.id,
        session_id=first.id,
        memory_type="place",
        content={"subject": "Dorchester", "place": "Dorchester", "key": "place:dorchester"},
        confidence=0.55,
        importance=0.3,
    )
    for session in (first, second, second):
        memories.record_memory_access(
            db_session, memory_id=tom.id, accessed_by="interviewer", session_id=session.id,
            context="next question: memory",
        )
    db_session.commit()
    return {"reviewer": reviewer, "owner": owner, "storyteller": storyteller, "tom": tom,
            "place": place, "first": first, "second": second}


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_the_list_shows_each_memory_in_plain_words_with_its_use(client, login, world):
    login(world["reviewer"])
    response = client.get(f"/storytellers/{world['storyteller'].id}/memories")
    assert response.status_code == 200
    page = _text(response)
    assert "Person: brother Tom" in page
    assert "Place: Dorchester" in page
    assert "Used</dt><dd>3 times, in 2 sessions" in page
    assert "Not used yet" in page
    assert "Fairly sure (0.75)" in page
    assert "Not checked yet" in page
    assert f'href="/sessions/{world["first"].id}"' in page
    assert f'href="/memories/{world["tom"].id}"' in page
    assert "Check or correct" in page
    assert '{"subject"' not in page  # never raw JSON
    assert page.index("brother Tom") < page.index("Place: Dorchester")  # importance


def test_the_list_filters_and_sorts(client, login, world, db_session):
    login(world["reviewer"])
    url = f"/storytellers/{world['storyteller'].id}/memories"
    page = _text(client.get(url, query_string={"type": "place"}))
    assert "Place: Dorchester" in page and "brother Tom" not in page
    world["tom"].verification_status = "disputed"
    db_session.commit()
    page = _text(client.get(url, query_string={"status": "disputed"}))
    assert "brother Tom" in page and "Place: Dorchester" not in page
    assert "Disputed: no longer used" in page
    page = _text(client.get(url, query_string={"status": "verified"}))
    assert "No memories match" in page


def test_an_unknown_filter_is_a_400_with_the_message_by_the_field(client, login, world):
    login(world["reviewer"])
    response = client.get(
        f"/storytellers/{world['storyteller'].id}/memories", query_string={"status": "maybe"}
    )
    assert response.status_code == 400
    page = _text(response)
    assert 'id="status-error"' in page
    assert re.search(r'<select id="status" name="status" aria-describedby="status-error"', page)
    assert "Please choose a status from the list." in page


def test_the_storyteller_sees_their_own_memories_read_only(client, login, world):
    login(world["owner"])
    page = _text(client.get(f"/storytellers/{world['storyteller'].id}/memories"))
    assert "Person: brother Tom" in page
    assert "Check or correct" not in page and "See more" in page
    response = client.get(f"/memories/{world['tom'].id}")
    assert response.status_code == 200
    page = _text(response)
    assert "Person: brother Tom" in page
    assert "/annotations" not in page and "Apply this change" not in page
    response = client.post(
        f"/memories/{world['tom'].id}/annotations",
        data={"annotation_type": "verification", "verdict": "disputed", "note": "Wrong"},
    )
    assert response.status_code == 403


def test_one_memory_shows_its_source_and_every_use(client, login, world, db_session):
    login(world["reviewer"])
    response = client.get(f"/memories/{world['tom'].id}")
    assert response.status_code == 200
    page = _text(response)
    assert "My brother Tom and I shared the attic room." in page
    assert "Childhood in Dorchester" in page and "School days" in page
    assert "3 times, in 2 sessions" in page
    assert "To ask a question about it" in page
    assert 'name="c_name" type="text" value="Tom"' in page
    audit = db_session.scalars(
        select(AuditLog).where(AuditLog.action == "read",
                               AuditLog.object_id == str(world["tom"].id))
    ).all()
    assert len(audit) == 1


def test_disputing_from_the_page(client, login, world, db_session):
    login(world["reviewer"])
    url = f"/memories/{world['tom'].id}/annotations"
    response = client.post(url, data={"annotation_type": "verification", "verdict": "disputed"})
    assert response.status_code == 400
    page = _text(response)
    assert "Please say what is wrong" in page
    assert 'aria-describedby="note-error"' in page
    assert 'value="disputed" checked' in page  # the choice is kept
    response = client.post(
        url, data={"annotation_type": "verification", "verdict": "disputed",
                   "note": "There was no Tom."}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/memories/{world['tom'].id}")
    db_session.expire_all()
    assert db_session.get(InteractionMemory, world["tom"].id).verification_status == "disputed"
    page = _text(client.get(response.headers["Location"]))
    assert "The interviewer will no longer bring it up" in page
    assert "Disputed: no longer used" in page
    assert "There was no Tom." in page


def test_proposing_and_applying_a_correction_from_the_page(client, login, world, db_session):
    login(world["reviewer"])
    tom_id = world["tom"].id
    response = client.post(
        f"/memories/{tom_id}/annotations",
        data={"annotation_type": "correction", "c_name": "Thomas", "c_relation": "brother",
              "c_subject": "brother Thomas", "c_statement": TOM["statement"],
              "detail": "", "memory_type": "person", "memory_key": "person:brother:tom",
              "change_note": "His full name."},
    )
    assert response.status_code == 303
    db_session.expire_all()
    [annotation] = db_session.scalars(select(MemoryAnnotation)).all()
    assert not annotation.is_applied
    assert db_session.get(InteractionMemory, tom_id).content["name"] == "Tom"
    page = _text(client.get(f"/memories/{tom_id}"))
    assert "Proposed changes waiting" in page
    assert "Name: Thomas" in page and "His full name." in page

    response = client.post(f"/memory-annotations/{annotation.id}/apply")
    assert response.status_code == 303
    db_session.expire_all()
    memory = db_session.get(InteractionMemory, tom_id)
    assert memory.content["name"] == "Thomas"
    assert memory.corrected_at is not None
    page = _text(client.get(f"/memories/{tom_id}"))
    assert "<h1>Person: brother Thomas</h1>" in page
    assert "What was done before" in page
    assert "Before: Person: brother Tom" in page
    assert "Last corrected" in page

    again = client.post(f"/memory-annotations/{annotation.id}/apply")
    assert again.status_code == 400
    assert "This change has already been applied." in _text(again)


def test_a_bad_correction_is_shown_again_with_what_was_typed(client, login, world, db_session):
    login(world["reviewer"])
    response = client.post(
        f"/memories/{world['place'].id}/annotations",
        data={"annotation_type": "correction", "c_place": "Dorchester, Boston",
              "c_subject": "Dorchester", "memory_type": "dragon"},
    )
    assert response.status_code == 400
    page = _text(response)
    assert "Please choose a kind from the list." in page
    assert 'value="Dorchester, Boston"' in page
    assert 'aria-describedby="memory_type-error"' in page
    assert db_session.scalars(select(MemoryAnnotation)).all() == []
    response = client.post(
        f"/memories/{world['place'].id}/annotations",
        data={"annotation_type": "enhancement", "c_place": "Dorchester", "detail": ""},
    )
    assert response.status_code == 400
    assert "Please write what should be added." in _text(response)


def test_an_enhancement_from_the_page(client, login, world, db_session):
    login(world["reviewer"])
    tom_id = world["tom"].id
    client.post(
        f"/memories/{tom_id}/annotations",
        data={"annotation_type": "enhancement", "c_name": "Tom", "detail": "tall and funny"},
    )
    db_session.expire_all()
    [annotation] = db_session.scalars(select(MemoryAnnotation)).all()
    assert annotation.annotation_type == "enhancement"
    assert client.post(f"/memory-annotations/{annotation.id}/apply").status_code == 303
    page = _text(client.get(f"/storytellers/{world['storyteller'].id}/memories"))
    assert "Person: brother Tom — tall and funny" in page


def test_others_cannot_see_or_annotate(client, login, world, make_user, db_session):
    stranger = make_user("reviewer")
    db_session.commit()
    login(stranger)
    tom_id = world["tom"].id
    assert client.get(f"/storytellers/{world['storyteller'].id}/memories").status_code == 404
    assert client.get(f"/memories/{tom_id}").status_code == 404
    response = client.post(
        f"/memories/{tom_id}/annotations",
        data={"annotation_type": "verification", "verdict": "verified"},
    )
    assert response.status_code == 404
    assert client.get(f"/memories/{uuid.uuid4()}").status_code == 404
    assert client.post(f"/memory-annotations/{uuid.uuid4()}/apply").status_code == 404
