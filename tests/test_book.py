"""The book's domain: compiling chapters, recompiling, editing, reviewing, revisions."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from storyteller import book
from storyteller.agent import book_writer
from storyteller.models import BookChapter, ChapterRevision, LlmInteraction
from tests import interview_helpers
from tests.interview_helpers import llm_settings
from tests.test_book_fixtures import (
    EXPECTED_TITLES,
    NOT_INCLUDED_TEXT,
    PROVISIONAL_TEXT,
    REJECTED_TEXT,
    build_world,
)

fake_llm = interview_helpers.fake_llm


@pytest.fixture
def world(db_session, make_storyteller):
    return build_world(db_session, make_storyteller)


def _chapters(db_session, world):
    return book.chapters_of(db_session, world.storyteller)


def _ids(*artifacts):
    return [str(a.id) for a in artifacts]


def test_chapters_follow_life_order_and_artifacts_their_time(db_session, world):
    result = book.compile_book(db_session, world.storyteller, actor_id=None)
    chapters = _chapters(db_session, world)
    assert [c.title for c in chapters] == EXPECTED_TITLES
    assert [c.sequence for c in chapters] == [1, 2, 3, 4, 5, 6]
    assert len(result.made) == 6 and not result.kept
    boston, _kitchen, school, work, wedding, other = chapters
    a = world.artifacts
    # Years in the structured data: 1948 before 1949, although told later.
    assert [p["artifact_ids"] for p in boston.paragraphs] == [
        _ids(a["boston_early"]),
        _ids(a["boston_late"]),
    ]
    # No years: the session date decides.
    assert [p["artifact_ids"] for p in school.paragraphs] == [
        _ids(a["school_a"]),
        _ids(a["school_b"]),
    ]
    assert boston.life_event_id == world.events["boston"].id
    assert wedding.life_event_id == world.events["wedding"].id
    assert work.life_period == "work" and work.life_event_id is None
    assert other.life_event_id is None and other.life_period is None
    assert all(c.review_status == "provisional" and c.source == "offline" for c in chapters)


def test_only_approved_and_included_artifacts_are_used(db_session, world):
    book.compile_book(db_session, world.storyteller, actor_id=None)
    chapters = _chapters(db_session, world)
    text = "\n".join(c.content for c in chapters)
    for never in (REJECTED_TEXT, NOT_INCLUDED_TEXT, PROVISIONAL_TEXT):
        assert never not in text
    used = {a for c in chapters for p in c.paragraphs for a in p["artifact_ids"]}
    a = world.artifacts
    assert used == set(
        _ids(*(a[k] for k in a if k not in ("rejected", "not_included", "provisional")))
    )


def test_paragraphs_keep_their_sources_and_invent_nothing(db_session, world):
    book.compile_book(db_session, world.storyteller, actor_id=None)
    by_id = {str(a.id): a for a in world.artifacts.values()}
    for chapter in _chapters(db_session, world):
        assert chapter.content == "\n\n".join(p["text"] for p in chapter.paragraphs)
        for paragraph in chapter.paragraphs:
            sources = [by_id[i] for i in paragraph["artifact_ids"]]
            assert sources
            assert paragraph["interaction_ids"] == [str(s.source_interaction_id) for s in sources]
            source_sentences = {s for src in sources for s in book_writer.sentences(src.content)}
            for sentence in book_writer.sentences(paragraph["text"]):
                assert sentence in source_sentences


def test_compiling_records_revision_one(db_session, world):
    book.compile_book(db_session, world.storyteller, actor_id=None)
    chapter = _chapters(db_session, world)[0]
    revisions = book.revisions_of(db_session, chapter)
    assert [(r.revision_number, r.reason) for r in revisions] == [(1, "Compiled")]
    assert revisions[0].content == chapter.content


def test_recompile_keeps_approved_chapters_and_replaces_the_rest(db_session, world, make_user):
    reviewer = make_user("reviewer")
    book.compile_book(db_session, world.storyteller, actor_id=reviewer.id)
    first = _chapters(db_session, world)
    boston, kitchen = first[0], first[1]
    book.decide_chapter(db_session, boston, decision="approved", comment="", actor_id=reviewer.id)
    book.edit_chapter(db_session, kitchen, title="Kitchen", texts=["Bread."], actor_id=reviewer.id)
    boston_id, kitchen_id = boston.id, kitchen.id
    # A new approved memory of Boston: its group has an approved chapter, so it waits.
    from tests.test_book_fixtures import add_artifact

    add_artifact(
        db_session,
        world,
        "boston_new",
        world.sessions["loose"],
        "The snow in Boston was deep.",
        life_event=world.events["boston"],
    )
    result = book.compile_book(db_session, world.storyteller, actor_id=reviewer.id)
    chapters = _chapters(db_session, world)
    assert [c.id for c in result.kept] == [boston_id]
    assert result.replaced == 5 and result.left_out == 3
    assert chapters[0].id == boston_id and chapters[0].review_status == "approved"
    assert "The snow in Boston" not in chapters[0].content
    assert kitchen_id not in {c.id for c in chapters}
    assert chapters[1].title == "Grandmother's kitchen"
    assert [c.title for c in chapters] == EXPECTED_TITLES
    assert (
        db_session.scalar(select(ChapterRevision).where(ChapterRevision.chapter_id == kitchen_id))
        is None
    )

    everything = book.compile_book(
        db_session, world.storyteller, actor_id=reviewer.id, everything=True
    )
    chapters = _chapters(db_session, world)
    assert not everything.kept and everything.replaced == 6
    assert boston_id not in {c.id for c in chapters}
    assert "The snow in Boston was deep." in chapters[0].content


def test_edit_keeps_links_and_a_revision_with_who(db_session, world, make_user):
    reviewer = make_user("reviewer", name="Rita Reviewer")
    book.compile_book(db_session, world.storyteller, actor_id=None)
    chapter = _chapters(db_session, world)[0]
    links = [p["artifact_ids"] for p in chapter.paragraphs]
    book.decide_chapter(db_session, chapter, decision="approved", comment="", actor_id=reviewer.id)
    changed = book.edit_chapter(
        db_session,
        chapter,
        title="  Coming to   Boston ",
        texts=["We came to Boston by train in the spring of 1948.", chapter.paragraphs[1]["text"]],
        actor_id=reviewer.id,
        reason="Spring",
    )
    assert changed
    assert chapter.title == "Coming to Boston"
    assert [p["artifact_ids"] for p in chapter.paragraphs] == links
    assert chapter.source == "edited" and chapter.review_status == "provisional"
    revisions = book.revisions_of(db_session, chapter)
    assert [r.revision_number for r in revisions] == [1, 2]
    assert revisions[1].edited_by.name == "Rita Reviewer" and revisions[1].reason == "Spring"
    assert revisions[1].created_at is not None
    # The same values again: nothing changes, no revision.
    assert not book.edit_chapter(
        db_session,
        chapter,
        title=chapter.title,
        texts=[p["text"] for p in chapter.paragraphs],
        actor_id=reviewer.id,
    )
    assert len(book.revisions_of(db_session, chapter)) == 2
    # An emptied paragraph is left out with its links.
    book.edit_chapter(
        db_session, chapter, title="Boston", texts=["", "Only this."], actor_id=reviewer.id
    )
    assert [p["artifact_ids"] for p in chapter.paragraphs] == [links[1]]


def test_edit_refuses_bad_input_and_saves_nothing(db_session, world):
    book.compile_book(db_session, world.storyteller, actor_id=None)
    chapter = _chapters(db_session, world)[0]
    before = (chapter.title, list(chapter.paragraphs))
    with pytest.raises(book.BookInputError) as caught:
        book.edit_chapter(db_session, chapter, title=" ", texts=["", ""], actor_id=None)
    assert set(caught.value.errors) == {"title", "paragraph_0"}
    with pytest.raises(book.BookInputError) as caught:
        book.edit_chapter(db_session, chapter, title="T", texts=["one"], actor_id=None)
    assert caught.value.field == "paragraphs"
    with pytest.raises(book.BookInputError) as caught:
        book.edit_chapter(db_session, chapter, title="x" * 201, texts=["a", "b"], actor_id=None)
    assert caught.value.field == "title"
    assert (chapter.title, list(chapter.paragraphs)) == before
    assert len(book.revisions_of(db_session, chapter)) == 1


def test_decisions_need_a_comment_except_approval(db_session, world, make_user):
    reviewer = make_user("reviewer")
    book.compile_book(db_session, world.storyteller, actor_id=None)
    chapter = _chapters(db_session, world)[0]
    for decision in ("changes_requested", "rejected"):
        with pytest.raises(book.BookInputError) as caught:
            book.decide_chapter(
                db_session, chapter, decision=decision, comment=" ", actor_id=reviewer.id
            )
        assert caught.value.field == "comment"
    with pytest.raises(book.BookInputError) as caught:
        book.decide_chapter(
            db_session, chapter, decision="maybe", comment="x", actor_id=reviewer.id
        )
    assert caught.value.field == "decision"
    assert chapter.review_status == "provisional" and chapter.reviewed_by_id is None
    book.decide_chapter(
        db_session,
        chapter,
        decision="changes_requested",
        comment="Say which train.",
        actor_id=reviewer.id,
    )
    assert chapter.review_status == "changes_requested"
    assert chapter.review_comment == "Say which train."
    assert chapter.reviewed_by_id == reviewer.id and chapter.reviewed_at is not None
    book.decide_chapter(
        db_session, chapter, decision="rejected", comment="No.", actor_id=reviewer.id
    )
    assert chapter.review_status == "rejected"


def test_diff_between_two_revisions(db_session, world, make_user):
    reviewer = make_user("reviewer")
    book.compile_book(db_session, world.storyteller, actor_id=None)
    chapter = _chapters(db_session, world)[0]
    texts = [p["text"] for p in chapter.paragraphs]
    book.edit_chapter(
        db_session,
        chapter,
        title=chapter.title,
        texts=[texts[0].replace("train", "ship"), texts[1]],
        actor_id=reviewer.id,
    )
    book.edit_chapter(db_session, chapter, title="Boston", texts=texts, actor_id=reviewer.id)
    diff = book.revision_diff(db_session, chapter, "1", "2")
    assert ("removed", "train") in [(s.kind, s.text) for s in diff.content]
    assert ("added", "ship") in [(s.kind, s.text) for s in diff.content]
    assert not any(s.is_change for s in diff.title)
    default = book.revision_diff(db_session, chapter)
    assert (default.old.revision_number, default.new.revision_number) == (1, 3)
    assert not any(s.is_change for s in default.content)
    assert any(s.is_change for s in default.title)
    with pytest.raises(book.BookInputError) as caught:
        book.revision_diff(db_session, chapter, "9", "x")
    assert set(caught.value.errors) == {"from", "to"}


def _sentences_of(world) -> set[str]:
    return {s for a in world.artifacts.values() for s in book_writer.sentences(a.content)}


def test_llm_writes_chapters_and_each_call_is_recorded(db_session, world, fake_llm):
    for _ in range(6):
        fake_llm.queue_json(
            {"paragraphs": [{"text": "I remember it well, as I told it.", "passage_ids": ["p1"]}]},
            prompt_tokens=100,
            completion_tokens=20,
        )
    book.compile_book(db_session, world.storyteller, actor_id=None, settings=llm_settings(fake_llm))
    chapters = _chapters(db_session, world)
    assert [c.title for c in chapters] == EXPECTED_TITLES
    assert all(c.source == "llm" and c.llm_interaction_id for c in chapters)
    boston = chapters[0]
    assert boston.paragraphs == [
        {
            "text": "I remember it well, as I told it.",
            "artifact_ids": [str(world.artifacts["boston_early"].id)],
            "interaction_ids": [str(world.interactions["boston_early"].id)],
        }
    ]
    rows = db_session.scalars(
        select(LlmInteraction).where(LlmInteraction.storyteller_id == world.storyteller.id)
    ).all()
    assert len(rows) == 6
    assert {r.purpose for r in rows} == {"book_chapter"}
    assert all(r.success and r.prompt_tokens == 100 and r.response_tokens == 20 for r in rows)
    # The rejected text is never even sent to the model.
    sent = "\n".join(str(r["json"]) for r in fake_llm.chat_requests)
    assert REJECTED_TEXT not in sent and NOT_INCLUDED_TEXT not in sent


def test_failing_llm_falls_back_to_the_storytellers_words(db_session, world, fake_llm):
    fake_llm.queue_error(status=500, message="down", times=6)
    book.compile_book(db_session, world.storyteller, actor_id=None, settings=llm_settings(fake_llm))
    chapters = _chapters(db_session, world)
    assert [c.title for c in chapters] == EXPECTED_TITLES
    assert all(c.source == "offline" for c in chapters)
    known = _sentences_of(world)
    for chapter in chapters:
        for sentence in book_writer.sentences(chapter.content):
            assert sentence in known
    rows = db_session.scalars(
        select(LlmInteraction).where(
            LlmInteraction.purpose == "book_chapter",
            LlmInteraction.storyteller_id == world.storyteller.id,
        )
    ).all()
    assert len(rows) == 6 and not any(r.success for r in rows)
    assert all(r.error_type == "server_error" for r in rows)


def test_unusable_llm_reply_falls_back(db_session, world, fake_llm):
    # The fake server's default structured reply is {"paragraphs": []}: unusable.
    book.compile_book(db_session, world.storyteller, actor_id=None, settings=llm_settings(fake_llm))
    chapters = _chapters(db_session, world)
    assert all(c.source == "offline" and c.llm_interaction_id for c in chapters)
    row = db_session.get(LlmInteraction, chapters[0].llm_interaction_id)
    assert not row.success and row.error_type == "unusable"


def test_photo_artifact_joins_a_paragraph(db_session, world):
    from tests.test_book_fixtures import add_artifact

    photo = add_artifact(
        db_session,
        world,
        "photo",
        world.sessions["loose"],
        "",
        data={"document_id": "00000000-0000-0000-0000-000000000001"},
        name="Me at the sea",
    )
    book.compile_book(db_session, world.storyteller, actor_id=None)
    other = _chapters(db_session, world)[-1]
    assert str(photo.id) in other.paragraphs[-1]["artifact_ids"]
    assert not re.search(r"Me at the sea", other.content)
    assert isinstance(other, BookChapter)
