"""text_diff: readable word differences and the words a text shares with its source."""

from __future__ import annotations

from storyteller.text_diff import Segment, has_changes, shared_words, tokens, word_diff


def _rebuild(segments, leave_out: str) -> str:
    return "".join(s.text for s in segments if s.kind != leave_out)


def test_tokens_rebuild_the_text_exactly():
    text = "In 1950, Tom's boat\n  sank — at Carson Beach!"
    assert "".join(tokens(text)) == text
    assert "Tom's" in tokens(text)


def test_word_diff_marks_removed_and_added_words_and_rebuilds_both_versions():
    old = "We swam at Carson Beach in 1950 with my brother Tom."
    new = "We swam at Revere Beach in 1951 with my brother Tom and Ann."
    segments = word_diff(old, new)
    assert _rebuild(segments, "added") == old
    assert _rebuild(segments, "removed") == new
    removed = [s.text for s in segments if s.kind == "removed"]
    added = [s.text for s in segments if s.kind == "added"]
    assert "Carson" in removed and "1950" in removed
    assert "Revere" in added and "1951" in added
    assert any("Ann" in a for a in added)
    assert has_changes(segments)


def test_word_diff_keeps_line_breaks_and_merges_neighbours():
    old = "First line.\nSecond line."
    new = "First line.\nSecond line.\nThird line."
    segments = word_diff(old, new)
    assert [s.kind for s in segments] == ["same", "added"]
    assert segments[1].text == "\nThird line."


def test_identical_and_empty_texts():
    assert word_diff("Same words", "Same words") == [Segment("same", "Same words")]
    assert not has_changes(word_diff("Same words", "Same words"))
    assert word_diff(None, None) == []
    only_added = word_diff(None, "New text")
    assert [s.kind for s in only_added] == ["added"]
    assert [s.kind for s in word_diff("Old text", "")] == ["removed"]


def test_shared_words_marks_only_words_found_in_the_other_text():
    answer = "My brother Tom and I swam at Carson Beach in the summer of 1950."
    artifact = "Tom swam at Carson Beach with his dog Rex."
    marked = {s.text for s in shared_words(artifact, answer) if s.kind == "shared"}
    assert {"Tom", "swam", "Carson", "Beach"} <= marked
    assert "Rex" not in marked and "dog" not in marked
    # Short words say nothing about where a sentence came from.
    assert "at" not in marked
    assert "".join(s.text for s in shared_words(artifact, answer)) == artifact


def test_shared_words_ignore_case_and_curly_apostrophes():
    marked = {
        s.text for s in shared_words("MOTHER’s kitchen", "mother's Kitchen") if s.kind == "shared"
    }
    assert marked == {"MOTHER’s", "kitchen"}
