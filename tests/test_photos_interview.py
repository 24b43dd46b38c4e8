"""The interviewer and photos: a photo question, the photo on the page, the annotation artifact."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from storyteller import interview, photos
from storyteller.agent.llm import LlmSettings
from storyteller.file_storage import storage_for
from storyteller.models import LifeEvent, SessionArtifact, SessionTemplate
from tests.interview_helpers import (  # noqa: F401 - fixtures
    answer_and_turn,
    chat_bodies,
    fake_llm,
    interactions,
    llm_settings,
    open_question,
)
from tests.photo_files import jpeg_with_gps

OFFLINE = interview.InterviewSettings(
    llm=LlmSettings(base_url=None, api_key=None, model="none"), daily_token_budget=0, prices={}
)
ANSWER = (
    "That is my sister Mary and me at Revere Beach in 1955. We had walked all the way "
    "from the station with a basket of sandwiches."
)


@pytest.fixture
def storage(app):
    return storage_for(app.instance_path)


def _photo(db_session, storyteller, storage, title="Wedding day", life_event=None):
    return photos.add_photo(
        db_session,
        storyteller,
        jpeg_with_gps(size=(64, 48)),
        user=None,
        storage=storage,
        title=title,
        life_event=life_event,
    )


def _photo_template(db_session) -> SessionTemplate:
    template = SessionTemplate(template_name="Photo memories", wants_photos=True)
    db_session.add(template)
    db_session.flush()
    return template


def test_ask_about_this_photo_then_the_annotation_artifact(
    client, login, make_user, make_session, db_session, storage
):
    user = make_user("storyteller", name="Margaret Ellis")
    storyteller = user.storyteller_profile
    photo = _photo(db_session, storyteller, storage)
    session = make_session(storyteller)  # its template does not ask for photos
    db_session.commit()
    login(user)
    page = client.get(f"/storytellers/{storyteller.id}/photos").get_data(as_text=True)
    assert "Ask about this photo" in page
    response = client.post(f"/photos/{photo.id}/ask", data={"session_id": str(session.id)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/interview/{session.id}")

    assert client.post(f"/interview/{session.id}/start").status_code == 303
    db_session.expire_all()
    question = open_question(db_session, session.id)
    assert "Who is in this photo?" in question.agent_prompt
    assert question.metadata_["photo_document_id"] == str(photo.id)
    page = client.get(f"/interview/{session.id}").get_data(as_text=True)
    assert f'src="/photos/{photo.id}/web"' in page
    assert page.index(f"/photos/{photo.id}/web") < page.index('id="current-question"')

    response = client.post(
        f"/interview/{session.id}/answer",
        data={"interaction_id": question.id, "answer": ANSWER, "idempotency_key": "k1"},
    )
    assert response.status_code == 303
    db_session.expire_all()
    note = db_session.scalar(
        select(SessionArtifact).where(
            SessionArtifact.session_id == session.id,
            SessionArtifact.artifact_type == "photo_annotation",
        )
    )
    assert note is not None and note.review_status == "provisional"
    data = note.structured_data
    assert data["document_id"] == str(photo.id)
    assert data["caption"] == "That is my sister Mary and me at Revere Beach in 1955."
    assert note.artifact_name == data["caption"]
    assert data["date"] == "1955"
    assert "Revere Beach" in (data["place"] or "")
    assert any("Mary" in person for person in data["people"]), data["people"]
    # No other photo is left: the next question is about none, or follows up on this one.
    nxt = open_question(db_session, session.id)
    assert "photo_document_id" not in (nxt.metadata_ or {}) or (
        nxt.metadata_["photo_document_id"] == str(photo.id)  # a follow-up on the same photo
    )


def test_a_photo_session_asks_about_photos_not_discussed_before(
    db_session, make_storyteller, make_session, storage
):
    storyteller = make_storyteller()
    template = _photo_template(db_session)
    first_photo = _photo(db_session, storyteller, storage, title="Wedding day")
    second_photo = _photo(db_session, storyteller, storage, title="Tom at the beach")
    earlier = make_session(storyteller, session_template_id=template.id)
    interview.start(db_session, earlier, user_id=None, settings=OFFLINE)
    asked = open_question(db_session, earlier.id)
    assert asked.metadata_["photo_document_id"] == str(first_photo.id)
    assert "Wedding day" in asked.agent_prompt
    answer_and_turn(db_session, earlier, ANSWER, OFFLINE)
    interview.finish(db_session, earlier, user_id=None)

    later = make_session(storyteller, session_template_id=template.id)
    interview.start(db_session, later, user_id=None, settings=OFFLINE)
    question = open_question(db_session, later.id)
    assert question.metadata_["photo_document_id"] == str(second_photo.id)
    assert "Tom at the beach" in question.agent_prompt


def test_a_photo_added_during_a_session_is_asked_about_next(
    client, login, make_user, make_session, db_session
):
    user = make_user("storyteller")
    session = make_session(user.storyteller_profile)
    db_session.commit()
    login(user)
    client.post(f"/interview/{session.id}/start")
    db_session.expire_all()
    first = open_question(db_session, session.id)
    response = client.post(
        f"/sessions/{session.id}/photos",
        data={"photo": (io.BytesIO(jpeg_with_gps()), "IMG_1.jpg"), "title": "Pier"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    refused = client.post(
        f"/sessions/{session.id}/photos",
        data={"photo": (io.BytesIO(b"<html>not a photo</html>"), "x.jpg")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 415 and "JPEG, PNG or WebP" in refused.get_data(as_text=True)
    client.post(
        f"/interview/{session.id}/answer",
        data={"interaction_id": first.id, "answer": "We lived by the sea.", "idempotency_key": "a"},
    )
    db_session.expire_all()
    question = open_question(db_session, session.id)
    photo = db_session.scalar(
        select(photos.Document).where(photos.Document.session_id == session.id)
    )
    assert question.metadata_.get("photo_document_id") == str(photo.id), question.agent_prompt
    assert "Pier" in question.agent_prompt


def test_the_llm_is_told_the_photo_facts_and_nothing_of_other_storytellers(
    db_session,
    make_storyteller,
    make_session,
    storage,
    fake_llm,  # noqa: F811
):
    storyteller = make_storyteller()
    event = LifeEvent(storyteller_id=storyteller.id, event_name="Our wedding", start_year=1955)
    db_session.add(event)
    db_session.flush()
    photo = _photo(db_session, storyteller, storage, title="On the church steps", life_event=event)
    _photo(db_session, make_storyteller(), storage, title="Somebody else's secret picnic")
    session = make_session(storyteller, session_template_id=_photo_template(db_session).id)
    interview.start(db_session, session, user_id=None, settings=llm_settings(fake_llm))
    question = open_question(db_session, session.id)
    assert question.metadata_.get("photo_document_id") == str(photo.id), question.metadata_
    prompts = json.dumps(chat_bodies(fake_llm))
    assert "photo_to_ask_about" in prompts
    assert "On the church steps" in prompts and "Our wedding" in prompts
    assert "1962-07-14T15:30:00" in prompts  # the date taken
    assert "secret picnic" not in prompts


def test_a_photo_question_phrased_without_the_usual_words_is_not_asked_again(
    db_session, make_storyteller, make_session, storage
):
    """An LLM may phrase a photo question without "photo you shared" (which the offline
    interviewer counts): the next photo question is still about the next photo."""
    storyteller = make_storyteller()
    first = _photo(db_session, storyteller, storage, title="Wedding day")
    second = _photo(db_session, storyteller, storage, title="Tom at the beach")
    session = make_session(storyteller, session_template_id=_photo_template(db_session).id)
    opening = interview.start(db_session, session, user_id=None, settings=OFFLINE)
    assert opening.metadata_["photo_document_id"] == str(first.id)
    opening.agent_prompt = "Who is standing with you on the church steps, and who took it?"
    db_session.flush()
    for number in range(6):
        answer_and_turn(db_session, session, f"We were happy then. ({number})", OFFLINE)
    keyed = [
        (i.metadata_["question_key"], i.metadata_.get("photo_document_id"))
        for i in interactions(db_session, session.id)
        if (i.metadata_ or {}).get("question_key", "").startswith("photo:")
    ]
    assert [photo_id for _, photo_id in keyed] == [str(first.id), str(second.id)], keyed


def test_an_approved_photo_annotation_puts_the_photo_and_its_caption_in_the_book(
    app, client, login, make_user, make_storyteller, make_session, db_session, storage
):
    import shutil
    import subprocess

    from storyteller import book, book_content, reviews
    from storyteller.exports.pdf import book_pdf

    owner = make_user("storyteller", name="Margaret Ellis")
    reviewer = make_user("reviewer")
    storyteller = make_storyteller(user=owner, granted_to=(reviewer,))
    photo = _photo(db_session, storyteller, storage, title="Beach")
    session = make_session(storyteller, session_template_id=_photo_template(db_session).id)
    interview.start(db_session, session, user_id=None, settings=OFFLINE)
    answer_and_turn(db_session, session, ANSWER, OFFLINE)
    note = db_session.scalar(
        select(SessionArtifact).where(SessionArtifact.artifact_type == "photo_annotation")
    )
    for artifact in db_session.scalars(
        select(SessionArtifact).where(SessionArtifact.session_id == session.id)
    ):
        reviews.decide(db_session, artifact, "approve", None, user=reviewer)
        reviews.set_included(db_session, artifact, True, user=reviewer)
    # The review queue names it in plain words.
    assert reviews.ARTIFACT_TYPE_LABELS["photo_annotation"] == "Photo note"
    book.compile_book(db_session, storyteller, actor_id=reviewer.id)
    for chapter in book.chapters_of(db_session, storyteller):
        book.decide_chapter(
            db_session, chapter, decision="approved", comment="", actor_id=reviewer.id
        )
    db_session.commit()
    caption = "That is my sister Mary and me at Revere Beach in 1955."
    assert note.artifact_name == caption

    login(owner)
    html = client.get(f"/storytellers/{storyteller.id}/book/preview").get_data(as_text=True)
    assert f"<figcaption>{caption}</figcaption>" in html
    assert f'src="/book-photos/{photo.id}"' in html

    loaded = book_content.load_book(db_session, storyteller, app.instance_path)
    assert [p.caption for p in loaded.photos] == [caption]
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) is not installed")
    pdf = book_pdf(loaded, instance_path=app.instance_path)
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert "Revere Beach in 1955" in " ".join(text.split())


def test_the_review_page_of_a_photo_note_shows_its_photo(
    client, login, make_user, make_storyteller, make_session, db_session, storage
):
    reviewer = make_user("reviewer")
    storyteller = make_storyteller(granted_to=(reviewer,))
    photo = _photo(db_session, storyteller, storage, title="Beach")
    session = make_session(storyteller, session_template_id=_photo_template(db_session).id)
    interview.start(db_session, session, user_id=None, settings=OFFLINE)
    answer_and_turn(db_session, session, ANSWER, OFFLINE)
    note = db_session.scalar(
        select(SessionArtifact).where(SessionArtifact.artifact_type == "photo_annotation")
    )
    others = db_session.scalars(
        select(SessionArtifact).where(SessionArtifact.artifact_type != "photo_annotation")
    ).all()
    db_session.commit()
    login(reviewer)
    page = client.get(f"/artifacts/{note.id}").get_data(as_text=True)
    assert f'src="/photos/{photo.id}/web"' in page
    assert client.get(f"/photos/{photo.id}/web").status_code == 200
    if others:
        other_page = client.get(f"/artifacts/{others[0].id}").get_data(as_text=True)
        assert "/photos/" not in other_page
