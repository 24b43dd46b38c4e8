"""The Markdown export: title, contents, approved chapters only, photos as relative links."""

from __future__ import annotations

from storyteller import exports
from storyteller.exports.markdown import escape
from tests.test_exports_book_data import (
    APPROVED_TEXT,
    PHOTO_CAPTION,
    PROVISIONAL_TEXT,
    REJECTED_TEXT,
    SECOND_TEXT,
    build_book,
)


def test_markdown_holds_the_approved_book_only(app, db_session):
    built = build_book(db_session, app.instance_path)
    calls = []
    rendered = exports.render(
        db_session, built.storyteller, "markdown", instance_path=app.instance_path,
        progress=lambda pct, msg: calls.append((pct, msg)),
    )
    assert rendered.file_name == "mary-obrien.md"
    assert rendered.content_type.startswith("text/markdown")
    text = rendered.data.decode("utf-8")
    assert text.startswith("# The story of Mary O'Brien\n")
    assert "## Contents\n\n1. Bees and school\n" in text
    assert "## Chapter 1: Bees and school" in text
    assert APPROVED_TEXT in text and SECOND_TEXT in text
    assert text.index(APPROVED_TEXT) < text.index(SECOND_TEXT)
    assert f"![{PHOTO_CAPTION}](images/photo-01.jpg)" in text
    assert "Told to Storyteller, " in text
    assert "moon" not in text and REJECTED_TEXT not in text
    assert PROVISIONAL_TEXT not in text
    percents = [pct for pct, _ in calls]
    assert percents == sorted(percents) and percents[-1] == 100 and len(percents) >= 3


def test_markdown_of_an_empty_book_says_so(app, db_session, make_storyteller):
    storyteller = make_storyteller(display_name="Nobody Yet")
    rendered = exports.render(db_session, storyteller, "markdown",
                              instance_path=app.instance_path)
    text = rendered.data.decode()
    assert "# The story of Nobody Yet" in text
    assert "No chapters have been approved" in text


def test_escape_keeps_text_as_written():
    assert escape("*not bold* and [not a link]") == r"\*not bold\* and \[not a link\]"
    assert escape("# not a heading\n1. not a list") == "\\# not a heading\n1\\. not a list"
