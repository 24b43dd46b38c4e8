"""The LLM interviewer's output cleaning: whatever the model says becomes plain text."""

from storyteller.agent.interviewer import clean_question


def test_clean_question_drops_script_bodies_tags_and_links():
    text = (
        "<script>alert(1)</script><img src=x onerror=alert(1)> "
        "What was <b>school</b> like? http://evil.example/x"
    )
    assert clean_question(text) == "What was school like?"


def test_clean_question_refuses_empty_or_tiny_replies():
    assert clean_question("") is None
    assert clean_question("<p></p>") is None
