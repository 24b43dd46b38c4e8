"""The book pages: compile, chapter review, edit, diff, the preview and its photos."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from storyteller import book
from storyteller.models import BookChapter, Document, LlmInteraction
from tests import interview_helpers
from tests.conftest import sign_in
from tests.interview_helpers import llm_config
from tests.test_book_fixtures import (
    EXPECTED_TITLES,
    NOT_INCLUDED_TEXT,
    REJECTED_TEXT,
    add_artifact,
    build_world,
)

fake_llm = interview_helpers.fake_llm
app_factory = interview_helpers.app_factory

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
def reviewer(make_user):
    return make_user("reviewer", name="Rita Reviewer")


@pytest.fixture
def world(db_session, make_storyteller, make_user, reviewer):
    owner = make_user("storyteller", name="Margaret Ellis")
    made = build_world(db_session, make_storyteller, user=owner, granted_to=(reviewer,))
    made.owner = owner
    db_session.commit()
    return made


def _chapters(db_session, world) -> list[BookChapter]:
    db_session.expire_all()
    return book.chapters_of(db_session, world.storyteller)


def _compile(client, world, **data):
    return client.post(
        f"/storytellers/{world.storyteller.id}/book/compile", data={"scope": "unapproved", **data}
    )


def test_compile_from_the_book_page(client, login, db_session, world, reviewer):
    login(reviewer)
    page = client.get(f"/storytellers/{world.storyteller.id}/book")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Compile the book" in html and "There are no chapters yet" in html
    assert "8 approved memories chosen for the book" in html
    response = _compile(client, world)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/storytellers/{world.storyteller.id}/book")
    page = client.get(f"/storytellers/{world.storyteller.id}/book").get_data(as_text=True)
    assert "6 chapters drafted." in page
    positions = [page.index(title.replace("'", "&#39;")) for title in EXPECTED_TITLES]
    assert positions == sorted(positions)
    assert [c.title for c in _chapters(db_session, world)] == EXPECTED_TITLES


def test_storyteller_reads_but_cannot_compile(client, login, world):
    login(world.owner)
    html = client.get(f"/storytellers/{world.storyteller.id}/book").get_data(as_text=True)
    assert "Read the book (preview)" in html
    assert "Compile the book</button>" not in html
    assert _compile(client, world).status_code == 403


def test_recompile_everything_needs_confirmation(client, login, db_session, world, reviewer):
    login(reviewer)
    _compile(client, world)
    chapter = _chapters(db_session, world)[0]
    book.decide_chapter(db_session, chapter, decision="approved", comment="", actor_id=reviewer.id)
    db_session.commit()
    chapter_id = chapter.id
    refused = _compile(client, world, scope="everything")
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "Please tick the box to confirm" in html
    assert 'aria-describedby="confirm-error"' in html
    assert _chapters(db_session, world)[0].id == chapter_id
    assert _compile(client, world, scope="sideways").status_code == 400
    # Without "everything" the approved chapter stays.
    assert _compile(client, world).status_code == 303
    assert _chapters(db_session, world)[0].id == chapter_id
    done = _compile(client, world, scope="everything", confirm="yes")
    assert done.status_code == 303
    chapters = _chapters(db_session, world)
    assert chapter_id not in {c.id for c in chapters}
    assert all(c.review_status == "provisional" for c in chapters)


def _compiled(db_session, world, reviewer) -> list[BookChapter]:
    book.compile_book(db_session, world.storyteller, actor_id=reviewer.id)
    db_session.commit()
    return _chapters(db_session, world)


def test_chapter_page_shows_text_sources_and_versions(client, login, db_session, world, reviewer):
    chapter = _compiled(db_session, world, reviewer)[0]
    login(reviewer)
    html = client.get(f"/chapters/{chapter.id}").get_data(as_text=True)
    assert "Chapter 1: Moving to Boston" in html
    assert "We came to Boston by train in 1948." in html
    assert "Where this paragraph came from (1 memory)" in html
    assert "<blockquote" in html and "Compiled" in html
    assert "Approve this chapter" in html and "Edit this chapter" in html


def test_edit_chapter_keeps_values_on_error_and_saves_a_revision(
    client, login, db_session, world, reviewer
):
    chapter = _compiled(db_session, world, reviewer)[0]
    links = [p["artifact_ids"] for p in chapter.paragraphs]
    login(reviewer)
    form = client.get(f"/chapters/{chapter.id}/edit").get_data(as_text=True)
    assert 'name="paragraph_0"' in form and 'name="paragraph_1"' in form
    bad = client.post(
        f"/chapters/{chapter.id}/edit",
        data={"title": "", "paragraph_0": "My own new words.", "paragraph_1": "Second."},
    )
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "Please give the chapter a title." in html
    assert 'aria-describedby="title-error"' in html
    assert "My own new words." in html
    assert len(book.revisions_of(db_session, chapter)) == 1
    good = client.post(
        f"/chapters/{chapter.id}/edit",
        data={
            "title": "Coming to Boston",
            "paragraph_0": "We came to Boston by ship in 1948.",
            "paragraph_1": chapter.paragraphs[1]["text"],
            "reason": "It was a ship",
        },
    )
    assert good.status_code == 303
    chapter = _chapters(db_session, world)[0]
    assert chapter.title == "Coming to Boston"
    assert [p["artifact_ids"] for p in chapter.paragraphs] == links
    html = client.get(f"/chapters/{chapter.id}").get_data(as_text=True)
    assert "Rita Reviewer" in html and "It was a ship" in html
    diff = client.get(f"/chapters/{chapter.id}/diff")
    assert diff.status_code == 200
    html = diff.get_data(as_text=True)
    assert "<del>train</del>" in html and "<ins>ship</ins>" in html
    assert "<del>Moving</del>" in html
    same = client.get(f"/chapters/{chapter.id}/diff?from=2&to=2").get_data(as_text=True)
    assert "These two versions are the same." in same
    wrong = client.get(f"/chapters/{chapter.id}/diff?from=7&to=abc")
    assert wrong.status_code == 400
    assert "Please choose one of the versions in the list." in wrong.get_data(as_text=True)


def test_storyteller_may_not_edit_or_decide(client, login, db_session, world, reviewer):
    chapter = _compiled(db_session, world, reviewer)[0]
    login(world.owner)
    assert client.get(f"/chapters/{chapter.id}").status_code == 200
    assert client.get(f"/chapters/{chapter.id}/edit").status_code == 403
    decided = client.post(f"/chapters/{chapter.id}/decision", data={"decision": "approved"})
    assert decided.status_code == 403
    assert _chapters(db_session, world)[0].review_status == "provisional"


def test_decisions(client, login, db_session, world, reviewer):
    chapter = _compiled(db_session, world, reviewer)[0]
    login(reviewer)
    refused = client.post(
        f"/chapters/{chapter.id}/decision", data={"decision": "rejected", "comment": ""}
    )
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "Please write a comment saying what should change." in html
    assert 'aria-describedby="comment-help comment-error"' in html
    assert _chapters(db_session, world)[0].review_status == "provisional"
    asked = client.post(
        f"/chapters/{chapter.id}/decision",
        data={"decision": "changes_requested", "comment": "Which train?"},
    )
    assert asked.status_code == 303
    html = client.get(f"/chapters/{chapter.id}").get_data(as_text=True)
    assert "Changes asked for" in html and "Which train?" in html and "Rita Reviewer" in html
    approved = client.post(f"/chapters/{chapter.id}/decision", data={"decision": "approved"})
    assert approved.status_code == 303
    assert _chapters(db_session, world)[0].review_status == "approved"


def test_unknown_chapter_is_404(client, login, world, reviewer):
    login(reviewer)
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.get(f"/chapters/{missing}").status_code == 404
    assert client.post(f"/chapters/{missing}/decision", data={}).status_code == 404


def _photo(app, db_session, world, key="photos/sea.png", data=PNG) -> Document:
    path = Path(app.instance_path) / "uploads" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    document = Document(
        storyteller_id=world.storyteller.id,
        kind="photo",
        title="At the sea",
        content_type="image/png",
        storage_key=key,
    )
    db_session.add(document)
    db_session.flush()
    return document


def test_preview_shows_only_the_approved_book_with_photos(
    app, client, login, db_session, world, reviewer
):
    document = _photo(app, db_session, world)
    add_artifact(
        db_session,
        world,
        "photo",
        world.sessions["loose"],
        "This is me at the sea in 1962.",
        data={"document_id": str(document.id)},
        name="Me at the sea",
    )
    chapters = _compiled(db_session, world, reviewer)
    for chapter in chapters:
        if chapter.title in ("Moving to Boston", "Other memories"):
            book.decide_chapter(
                db_session, chapter, decision="approved", comment="", actor_id=reviewer.id
            )
        elif chapter.title == "Wedding":
            book.decide_chapter(
                db_session, chapter, decision="rejected", comment="No", actor_id=reviewer.id
            )
    db_session.commit()
    login(world.owner)
    page = client.get(f"/storytellers/{world.storyteller.id}/book/preview")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "The story of Margaret Ellis" in html and "Contents" in html
    assert re.search(r"Chapter 1</span> Moving to Boston", html)
    assert re.search(r"Chapter 2</span> Other memories", html)
    assert "We came to Boston by train in 1948." in html
    assert "This is me at the sea in 1962." in html
    for absent in ("We married in June", "Grandmother baked", REJECTED_TEXT, NOT_INCLUDED_TEXT):
        assert absent not in html
    assert f'src="/book-photos/{document.id}"' in html
    assert 'alt="Me at the sea"' in html
    photo = client.get(f"/book-photos/{document.id}")
    assert photo.status_code == 200
    assert photo.data == PNG and photo.mimetype == "image/png"


def test_empty_preview_says_so(client, login, world):
    login(world.owner)
    html = client.get(f"/storytellers/{world.storyteller.id}/book/preview").get_data(as_text=True)
    assert "No chapter is approved yet" in html


def test_photo_route_refuses_what_is_not_a_servable_photo(app, client, login, db_session, world):
    missing_file = Document(
        storyteller_id=world.storyteller.id,
        kind="photo",
        title="Lost",
        content_type="image/png",
        storage_key="photos/not-there.png",
    )
    escaping = Document(
        storyteller_id=world.storyteller.id,
        kind="photo",
        title="Escape",
        content_type="image/png",
        storage_key="../../etc/passwd",
    )
    text = _photo(app, db_session, world, key="notes/a.txt", data=b"text")
    text.kind = "document"
    db_session.add_all([missing_file, escaping])
    db_session.commit()
    login(world.owner)
    for document in (missing_file, escaping, text):
        assert client.get(f"/book-photos/{document.id}").status_code == 404


def test_compile_with_the_llm_over_http(app_factory, db_session, world, reviewer, fake_llm):
    reply = {"paragraphs": [{"text": "I remember it, in my words.", "passage_ids": ["p1"]}]}
    for _ in range(6):
        fake_llm.queue_json(reply)
    other = app_factory(**llm_config(fake_llm))
    client = other.test_client()
    assert sign_in(client, reviewer).status_code == 303
    response = client.post(
        f"/storytellers/{world.storyteller.id}/book/compile", data={"scope": "unapproved"}
    )
    assert response.status_code == 303
    chapters = _chapters(db_session, world)
    assert [c.source for c in chapters] == ["llm"] * 6
    assert chapters[0].content == "I remember it, in my words."
    rows = db_session.scalars(
        select(LlmInteraction).where(LlmInteraction.purpose == "book_chapter")
    ).all()
    assert len(rows) == 6
