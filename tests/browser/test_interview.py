"""A storyteller's whole interview in Chromium: start, answer, autosave, skip, pause, finish, rate.

The next question is streamed (fetch with Accept: text/event-stream) and then the page reloads;
axe-core checks every page the browser lands on.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import check_accessibility, screenshot

pytestmark = pytest.mark.browser

SESSION_NAME = "Summers in Dorchester"

ANSWERS = [
    "In the summer of 1948 my brother Tom and I sat on the back porch on Adams Street in "
    "Dorchester, shelling peas.",
    "Tom was two years older than me. He taught me to ride a bicycle on Savin Hill Avenue in "
    "1950, and our mother Rose watched from the stoop.",
    "Every Sunday we took the streetcar to Carson Beach with Aunt Helen. In 1952 Tom won a "
    "swimming race there and Helen bought us all ice cream.",
]
DRAFT = (
    "My father Walter worked at the Gillette factory in South Boston from 1946 until 1961, "
    "and he walked home along Dorchester Avenue every evening."
)

# Keeps every text the page shows in [data-streaming] (sessionStorage "streamed", a JSON list),
# so that after the page reloads the test can see what was streamed before it.
RECORD_STREAM = """
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-streaming]");
  if (!box) return;
  new MutationObserver(() => {
    const seen = JSON.parse(sessionStorage.getItem("streamed") || "[]");
    seen.push(box.textContent);
    sessionStorage.setItem("streamed", JSON.stringify(seen));
  }).observe(box, {childList: true, characterData: true, subtree: true});
});
"""


def _question(page: Page):
    return page.locator("#current-question")


def _send(page: Page, answer: str, name: str) -> str:
    """Type an answer, send it, wait for the new page; returns the next question's text."""
    previous = _question(page).inner_text()
    page.evaluate("sessionStorage.removeItem('streamed')")
    page.get_by_label("Your answer").fill(answer)
    with (
        page.expect_navigation(),
        page.expect_response(lambda r: r.url.endswith("/answer")) as posted,
    ):
        page.get_by_role("button", name="Send my answer").click()
    expect(_question(page)).not_to_have_text(previous)
    check_accessibility(page, name)
    question = _question(page).inner_text().strip()

    # Sent by fetch and answered as a stream (not a redirect), shown while it came in.
    response = posted.value
    assert response.request.headers.get("accept") == "text/event-stream"
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    streamed = page.evaluate("JSON.parse(sessionStorage.getItem('streamed') || '[]')")
    assert streamed[:2] == ["Saving your answer…", "Saved. The next question is coming…"], streamed
    # Offline there are no words to stream; with an LLM the last streamed text is the question.
    if len(streamed) > 2:
        assert streamed[-1].strip() == question, (streamed, question)
    # The answer is now part of the conversation shown above the question.
    expect(page.locator(".conversation .turn-answer").last).to_have_text(answer)
    return question


def test_a_storyteller_goes_through_a_whole_interview(make_page, live_server, sign_in):
    page = make_page()
    page.add_init_script(RECORD_STREAM)
    user = live_server.create_user("storyteller", name="Dorothy Keane")
    live_server.create_session(
        user.storyteller_id,
        session_name=SESSION_NAME,
        intention="Summers as a child in Dorchester: who was there, where and when",
    )

    # Home: the session is listed with its Start link.
    sign_in(user, page=page)
    main = page.locator("main")
    expect(main).to_contain_text(SESSION_NAME)
    screenshot(page, "interview-home")
    with page.expect_navigation():
        page.get_by_role("link", name=f"Start {SESSION_NAME}").click()
    check_accessibility(page, "interview before starting")
    expect(page.get_by_role("heading", level=1)).to_contain_text(SESSION_NAME)
    with page.expect_navigation():
        page.get_by_role("button", name="Start", exact=True).click()
    check_accessibility(page, "first question")

    # The first question, in large type, with Read aloud (Chromium has speechSynthesis).
    question = _question(page)
    expect(question).to_be_visible()
    first = question.inner_text().strip()
    assert first.endswith("?") or "." in first, first
    size = float(question.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px"))
    body = float(page.evaluate("getComputedStyle(document.body).fontSize").removesuffix("px"))
    assert size >= 24 and size > body, f"question at {size}px, body text at {body}px"
    assert page.evaluate("'speechSynthesis' in window")
    expect(page.get_by_role("button", name="Read aloud")).to_be_visible()
    expect(page.get_by_label("Your answer")).to_have_value("")
    screenshot(page, "interview-first-question")

    # Three answers; each time the next question is streamed, then the page reloads.
    questions = [first]
    for n, answer in enumerate(ANSWERS, start=1):
        questions.append(_send(page, answer, f"question after answer {n}"))
    assert len(set(questions)) == len(questions), questions
    assert any(re.search(r"\bTom\b", q) for q in questions[1:]), (
        f"no follow-up mentions Tom: {questions}"
    )
    expect(page.locator(".conversation .turn")).to_have_count(3)
    screenshot(page, "interview-after-three-answers")

    # The fourth answer is autosaved while typing; "Saved" is announced politely.
    box = page.get_by_label("Your answer")
    box.press_sequentially(DRAFT[:40])
    box.fill(DRAFT)
    save_state = page.locator("#save-state")
    expect(save_state).to_have_text("Not saved yet")
    expect(save_state).to_have_text("Saved", timeout=5_000)
    expect(save_state).to_have_attribute("aria-live", "polite")
    expect(save_state).to_have_attribute("role", "status")
    assert page.evaluate(
        "document.querySelector('#save-state .save-state').closest('[aria-live]') !== null"
    )
    expect(box).to_have_attribute("aria-describedby", re.compile(r"\bsave-state\b"))

    page.reload()
    check_accessibility(page, "fourth question reloaded")
    expect(page.get_by_label("Your answer")).to_have_value(DRAFT)
    expect(_question(page)).to_have_text(questions[-1])
    expect(page.locator("#save-state")).to_have_text("Saved")
    screenshot(page, "interview-draft-reloaded")
    questions.append(_send(page, DRAFT, "question after answer 4"))

    # Skip a question: a different one comes, and the skip is in the conversation.
    skipped = _question(page).inner_text().strip()
    with page.expect_navigation():
        page.get_by_role("button", name="Skip this question").click()
    expect(_question(page)).not_to_have_text(skipped)
    check_accessibility(page, "after a skip")
    expect(page.locator(".conversation .turn").last).to_contain_text(skipped)
    expect(page.locator(".conversation .turn-answer").last).to_have_text(
        "You skipped this question."
    )
    waiting = _question(page).inner_text().strip()

    # Pause: back home with a message; Continue, then Continue again, brings the same question.
    with page.expect_navigation():
        page.get_by_role("button", name="Pause").click()
    check_accessibility(page, "home after pausing")
    assert page.url == live_server.url + "/"
    expect(main).to_contain_text("Paused. Everything is saved")
    with page.expect_navigation():
        page.get_by_role("link", name=f"Continue {SESSION_NAME}").click()
    check_accessibility(page, "paused interview")
    expect(main).to_contain_text("Welcome back")
    with page.expect_navigation():
        page.get_by_role("button", name="Continue", exact=True).click()
    check_accessibility(page, "interview continued")
    expect(_question(page)).to_have_text(waiting)
    expect(page.locator(".conversation .turn")).to_have_count(5)

    # Finish: the summary, then a rating.
    with page.expect_navigation():
        page.get_by_role("button", name="I'm done for today").click()
    check_accessibility(page, "summary")
    expect(page.get_by_role("heading", level=2, name="What we captured today")).to_be_visible()
    summary = page.locator("section[aria-labelledby=summary-heading]")
    expect(summary).to_contain_text("Tom")
    expect(_question(page)).to_have_count(0)
    screenshot(page, "interview-summary")

    page.get_by_label("5 – Very good").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save my rating").click()
    check_accessibility(page, "summary after rating")
    expect(main).to_contain_text("Thank you")
    expect(page.get_by_label("5 – Very good")).to_be_checked()
