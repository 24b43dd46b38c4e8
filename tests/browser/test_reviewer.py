"""A reviewer's afternoon in Chromium: from the review queue to the printed book.

The interview already happened (made through the database, as the interview would have left
it): a completed session with three answered questions and a provisional story taken from each
answer. The reviewer signs in, opens the review queue, opens the oldest story and reads it next
to the storyteller's own words, approves it with a comment; rejects a story that says something
the storyteller never said (the comment is required); corrects a wrong year in the third one,
looks at its versions and the difference, and approves it. Both approved stories go into the
book; the reviewer compiles the book, approves its chapters, asks for the PDF, waits on the job
page until it is ready, and downloads it. The PDF (pdftotext) holds the approved and corrected
text, and none of the rejected one; its first page is rendered to a PNG to be looked at.

Everything is done with labels and button names, as a person would; axe-core checks every page.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from storyteller.models import (
    BookChapter,
    ExportJob,
    LifeEvent,
    SessionArtifact,
    SessionInteraction,
    utcnow,
)
from tests.browser.axe import SCREENSHOT_DIR, check_accessibility, screenshot
from tests.browser.conftest import LiveServer, LiveUser

pytestmark = pytest.mark.browser

STORYTELLER = "Margaret Olsen"
HOME_EVENT = "Growing up on Adams Street"
PARK_EVENT = "Summers in Franklin Park"

# The storyteller's own answers, and what the interview made of each.
PEAS_ANSWER = (
    "We lived on Adams Street in Dorchester. In the summer of 1948 my brother Tom and I sat on "
    "the back porch shelling peas while my mother sang along to the radio."
)
PEAS_TITLE = "Shelling peas on the back porch"
PEAS_TEXT = (
    "In the summer of 1948 Margaret and her brother Tom sat on the back porch on Adams Street "
    "shelling peas while their mother sang along to the radio."
)
FATHER_ANSWER = (
    "My father worked at the shipyard in Quincy. He came home smelling of oil and salt, and he "
    "always brought us a bag of peppermints on Fridays."
)
FATHER_TITLE = "Father at the shipyard"
FATHER_TEXT = (
    "Her father was a sea captain who sailed to Lisbon every spring and came home with oranges "
    "for the children."
)
BICYCLE_ANSWER = (
    "My brother Tom was tall and funny. He taught me to ride a bicycle in Franklin Park in 1950, "
    "running behind me holding the saddle until I looked back and fell over."
)
BICYCLE_TITLE = "Learning to ride a bicycle"
BICYCLE_TEXT = (
    "Tom taught Margaret to ride a bicycle in Franklin Park in 1951, running behind her holding "
    "the saddle until she looked back and fell over."
)


@dataclass(frozen=True)
class Interview:
    storyteller_id: uuid.UUID
    session_id: uuid.UUID
    artifact_ids: dict[str, uuid.UUID]  # title -> id


def _completed_interview(live_server: LiveServer, reviewer: LiveUser) -> Interview:
    """A storyteller granted to the reviewer, and a finished session with three stories."""
    storyteller_id = live_server.create_storyteller(STORYTELLER, granted_to=(reviewer,))
    start = utcnow().replace(microsecond=0) - timedelta(days=3)
    session_id = live_server.create_session(
        storyteller_id,
        session_name="Childhood in Dorchester",
        scheduled_at=start,
        status="completed",
        started_at=start,
        ended_at=start + timedelta(minutes=40),
    )
    stories = [
        (
            HOME_EVENT,
            "What do you remember about summers at home?",
            PEAS_ANSWER,
            "scene_capture",
            PEAS_TITLE,
            PEAS_TEXT,
        ),
        (
            HOME_EVENT,
            "What did your father do for a living?",
            FATHER_ANSWER,
            "scene_capture",
            FATHER_TITLE,
            FATHER_TEXT,
        ),
        (
            PARK_EVENT,
            "Tell me about your brother Tom.",
            BICYCLE_ANSWER,
            "scene_capture",
            BICYCLE_TITLE,
            BICYCLE_TEXT,
        ),
    ]
    artifact_ids: dict[str, uuid.UUID] = {}
    with live_server.db() as db:
        events = {
            HOME_EVENT: LifeEvent(
                storyteller_id=storyteller_id,
                event_name=HOME_EVENT,
                life_period="childhood",
                start_year=1941,
                end_year=1955,
                location="Dorchester, Boston",
            ),
            PARK_EVENT: LifeEvent(
                storyteller_id=storyteller_id,
                event_name=PARK_EVENT,
                life_period="childhood",
                start_year=1950,
                end_year=1952,
                location="Franklin Park, Boston",
            ),
        }
        db.add_all(events.values())
        db.flush()
        for number, (event, question, answer, kind, title, text) in enumerate(stories, 1):
            asked = start + timedelta(minutes=10 * number)
            interaction = SessionInteraction(
                session_id=session_id,
                life_event_id=events[event].id,
                interaction_sequence=number,
                interaction_type="prompt",
                agent_prompt=question,
                storyteller_response=answer,
                response_method="text",
                answered_at=asked + timedelta(minutes=2),
                created_at=asked,
            )
            db.add(interaction)
            db.flush()
            artifact = SessionArtifact(
                session_id=session_id,
                life_event_id=events[event].id,
                source_interaction_id=interaction.id,
                artifact_type=kind,
                artifact_name=title,
                content=text,
                created_at=asked + timedelta(minutes=3),  # the queue shows the oldest first
            )
            db.add(artifact)
            db.flush()
            artifact_ids[title] = artifact.id
    return Interview(storyteller_id, session_id, artifact_ids)


def _main(page: Page):
    return page.get_by_role("main")


def _go(page: Page, action, name: str, *, timeout: float = 10_000) -> None:
    """Do what leads to a new page, wait for it, and check it with axe."""
    with page.expect_navigation(timeout=timeout):
        action()
    check_accessibility(page, name)


def _open_from_queue(page: Page, title: str) -> None:
    _go(
        page,
        lambda: _main(page).get_by_role("link", name="Back to the review queue").click(),
        "the review queue again",
    )
    _go(page, lambda: _main(page).get_by_role("link", name=title).click(), f"the story {title}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)


def _decide(page: Page, button: str, comment: str, flash: str) -> None:
    page.get_by_label("Comment (optional when approving").fill(comment)
    _go(
        page,
        lambda: page.get_by_role("button", name=button, exact=True).click(),
        f"after pressing {button}",
    )
    expect(page.get_by_text(flash)).to_be_visible()


def _include_in_book(page: Page) -> None:
    book = page.get_by_role("region", name="The book")
    _go(
        page,
        lambda: book.get_by_role("button", name="Include in the book").click(),
        "after including in the book",
    )
    expect(page.get_by_text("It will be in the book.")).to_be_visible()
    expect(book.get_by_text("This story is chosen for the book.")).to_be_visible()


def _read_the_first_story(page: Page) -> None:
    """The queue, oldest first; the first story next to the storyteller's own words."""
    _go(
        page,
        lambda: _main(page).get_by_role("link", name="Open the review queue").click(),
        "the review queue",
    )
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("3 waiting")
    titles = page.locator(".review-queue > li h2 a")
    expect(titles).to_have_text([PEAS_TITLE, FATHER_TITLE, BICYCLE_TITLE])
    screenshot(page, "reviewer-01-queue")

    _go(page, lambda: titles.first.click(), "the first story with its source")
    expect(page.get_by_role("heading", level=1)).to_contain_text(PEAS_TITLE)
    captured = page.get_by_role("region", name="What was captured")
    source = page.get_by_role("region", name="The storyteller's own words")
    expect(captured).to_contain_text(PEAS_TEXT)
    expect(source).to_contain_text("What do you remember about summers at home?")
    expect(source).to_contain_text(PEAS_ANSWER)
    # Words the story shares with her answer are marked in both.
    for word in ("shelling", "porch", "radio"):
        expect(source.locator("mark", has_text=word)).not_to_have_count(0)
    expect(page.get_by_text("Waiting for a reviewer.")).to_be_visible()
    screenshot(page, "reviewer-02-story-with-source")


def _approve_and_reject(page: Page) -> None:
    _decide(page, "Approve", "Matches her answer word for word.", "The story is approved.")
    expect(page.get_by_text("Approved by Ruth Reviewer")).to_be_visible()
    expect(page.get_by_text("“Matches her answer word for word.”")).to_be_visible()
    _include_in_book(page)

    _open_from_queue(page, FATHER_TITLE)
    source = page.get_by_role("region", name="The storyteller's own words")
    expect(source).to_contain_text("worked at the shipyard in Quincy")
    # Rejecting needs a comment: without one the page says so and nothing is saved.
    page.get_by_role("button", name="Reject", exact=True).click()
    page.wait_for_load_state("load")
    check_accessibility(page, "reject without a comment")
    expect(page.get_by_text("Waiting for a reviewer.")).to_be_visible()
    expect(page.locator(".field-error").first).to_be_visible()
    screenshot(page, "reviewer-03-reject-needs-comment")
    _decide(
        page,
        "Reject",
        "She never said this: her father worked at the Quincy shipyard, he was no sea captain.",
        "The story is rejected.",
    )
    expect(page.get_by_text("Only an approved story can go into the book.")).to_be_visible()


def _edit_diff_and_approve(page: Page) -> None:
    _open_from_queue(page, BICYCLE_TITLE)
    expect(page.get_by_role("region", name="The storyteller's own words")).to_contain_text(
        "Franklin Park in 1950"
    )
    _go(
        page,
        lambda: _main(page).get_by_role("link", name="Edit the text").click(),
        "edit the story",
    )
    text = page.get_by_label("Text", exact=True)
    expect(text).to_have_value(BICYCLE_TEXT)
    text.fill(BICYCLE_TEXT.replace("in 1951", "in 1950"))
    page.get_by_label("Why you changed it (optional)").fill("She said 1950, not 1951.")
    _go(
        page,
        lambda: page.get_by_role("button", name="Save the changes").click(),
        "the story after the edit",
    )
    expect(
        page.get_by_text("The changes are saved; the earlier version is kept in the history.")
    ).to_be_visible()
    history = page.get_by_role("region", name="Versions")
    versions = history.locator(".revision-list > li")
    expect(versions).to_have_count(2)
    current = versions.filter(has_text="Current version (version 2)")
    expect(current).to_contain_text("written by Ruth Reviewer")
    earlier = versions.filter(has_text="Version 1:")
    expect(earlier).to_contain_text("from the interview")
    expect(earlier).to_contain_text("Changed by Ruth Reviewer")
    expect(earlier).to_contain_text("“She said 1950, not 1951.”")

    _go(
        page,
        lambda: earlier.get_by_role("link", name="Compare with the current version").click(),
        "the difference between the versions",
    )
    expect(page.get_by_role("heading", name="Compare versions")).to_be_visible()
    diff = page.locator(".diff-result")
    expect(diff.locator("del")).to_have_text(["[removed: 1951]"])
    expect(diff.locator("ins")).to_have_text(["[added: 1950]"])
    expect(diff).to_contain_text("Franklin Park in")
    screenshot(page, "reviewer-04-diff")

    _go(
        page,
        lambda: _main(page).get_by_role("link", name="Back to the story").click(),
        "the edited story",
    )
    _decide(page, "Approve", "", "The story is approved.")
    expect(page.get_by_role("region", name="What was captured")).to_contain_text(
        "Franklin Park in 1950"
    )
    _include_in_book(page)


def _compile_and_approve_chapters(page: Page) -> None:
    _go(
        page,
        lambda: (
            _main(page).get_by_role("link", name=f"All approved stories of {STORYTELLER}").click()
        ),
        "approved stories",
    )
    expect(page.get_by_text("2 approved, 2 chosen for the book.")).to_be_visible()
    _go(
        page,
        lambda: _main(page).get_by_role("link", name=re.compile("^The book of")).click(),
        "the book page",
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(f"The book of {STORYTELLER}")
    expect(page.get_by_text("There are no chapters yet.")).to_be_visible()
    _go(
        page,
        lambda: page.get_by_role("button", name="Compile the book", exact=True).click(),
        "the book after compiling",
    )
    expect(page.get_by_text("2 chapters drafted.")).to_be_visible()
    chapters = page.locator(".book-chapters > li h3 a")
    expect(chapters).to_have_text([HOME_EVENT, PARK_EVENT])

    for number, title in enumerate([HOME_EVENT, PARK_EVENT], 1):
        _go(
            page,
            lambda t=title: _main(page).get_by_role("link", name=t, exact=True).click(),
            f"chapter {title}",
        )
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Chapter {number}: {title}")
        text = page.get_by_role("region", name="The text, with where each paragraph came from")
        if title == HOME_EVENT:
            expect(text).to_contain_text("shelling peas")
            expect(text).not_to_contain_text("Lisbon")
            text.get_by_text("Where this paragraph came from").first.click()
            expect(text.locator("blockquote").first).to_contain_text(PEAS_ANSWER)
            screenshot(page, "reviewer-05-chapter-with-sources")
        else:
            expect(text).to_contain_text("Franklin Park in 1950")
        _go(
            page,
            lambda: page.get_by_role("button", name="Approve this chapter").click(),
            f"chapter {title} approved",
        )
        expect(page.get_by_text(f"Chapter “{title}”: Approved: in the book.")).to_be_visible()
        _go(
            page,
            lambda: (
                _main(page).get_by_role("link", name=f"Back to the book of {STORYTELLER}").click()
            ),
            "the book page again",
        )

    expect(page.get_by_text("2 chapters, 2 of them approved.")).to_be_visible()
    screenshot(page, "reviewer-06-book")


def _export_and_download(page: Page, tmp_path: Path) -> Path:
    # In the tests the job runs inside the request (huey immediate mode): allow for WeasyPrint.
    _go(
        page,
        lambda: page.get_by_role("button", name="PDF", exact=True).click(),
        "the export job page",
        timeout=90_000,
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(f"PDF of {STORYTELLER}’s book")
    expect(page.get_by_text("Your file has been asked for.")).to_be_visible()
    status = page.locator("#export-status")
    expect(status.locator(".badge")).to_have_text("Ready to download", timeout=60_000)
    expect(page.get_by_role("progressbar")).to_have_attribute("value", "100")
    download_link = page.get_by_role("link", name=re.compile(r"^Download .+\.pdf$"))
    expect(download_link).to_be_visible()
    screenshot(page, "reviewer-07-export-job")
    with page.expect_download() as info:
        download_link.click()
    download = info.value
    assert download.failure() is None, download.failure()
    assert download.suggested_filename.endswith(".pdf"), download.suggested_filename
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    return path


def _check_pdf(path: Path) -> None:
    assert path.read_bytes().startswith(b"%PDF-"), path
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    flat = " ".join(text.split())
    assert STORYTELLER in flat
    assert HOME_EVENT in flat and PARK_EVENT in flat
    assert "shelling peas" in flat
    assert "Franklin Park in 1950" in flat
    # Nothing of the rejected story, and not the year the reviewer corrected.
    for rejected in ("Lisbon", "sea captain", "oranges", "1951"):
        assert rejected not in flat, f"{rejected!r} is in the PDF:\n{text}"

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    first = SCREENSHOT_DIR / "reviewer-pdf-page-1"
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "70",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(path),
            str(first),
        ],
        check=True,
    )
    assert first.with_suffix(".png").stat().st_size > 1000
    # And the page where the first chapter's text is, to look at too.
    pages = text.split("\f")
    chapter_page = next(i for i, p in enumerate(pages, 1) if "shelling peas" in " ".join(p.split()))
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "70",
            "-f",
            str(chapter_page),
            "-l",
            str(chapter_page),
            "-singlefile",
            str(path),
            str(SCREENSHOT_DIR / "reviewer-pdf-chapter-page"),
        ],
        check=True,
    )


def _check_saved(live_server: LiveServer, interview: Interview, reviewer: LiveUser) -> None:
    """What the pages said is what was stored."""
    ids = interview.artifact_ids
    with live_server.db() as db:
        peas = db.get(SessionArtifact, ids[PEAS_TITLE])
        father = db.get(SessionArtifact, ids[FATHER_TITLE])
        bicycle = db.get(SessionArtifact, ids[BICYCLE_TITLE])
        assert peas is not None and father is not None and bicycle is not None
        assert (peas.review_status, peas.is_approved, peas.included_in_synthesis) == (
            "approved",
            True,
            True,
        )
        assert peas.reviewed_by_id == reviewer.id and peas.approved_at is not None
        assert peas.review_comment == "Matches her answer word for word."
        assert (father.review_status, father.is_approved, father.included_in_synthesis) == (
            "rejected",
            False,
            False,
        )
        assert father.review_comment and "no sea captain" in father.review_comment
        assert bicycle.review_status == "approved" and bicycle.included_in_synthesis
        assert bicycle.content == BICYCLE_TEXT.replace("in 1951", "in 1950")
        assert [r.content for r in bicycle.revisions] == [BICYCLE_TEXT]
        chapters = db.scalars(
            select(BookChapter).where(BookChapter.storyteller_id == interview.storyteller_id)
        ).all()
        assert sorted(c.review_status for c in chapters) == ["approved", "approved"]
        job = db.scalars(
            select(ExportJob).where(ExportJob.storyteller_id == interview.storyteller_id)
        ).one()
        assert (job.kind, job.status, job.requested_by_id) == ("pdf", "succeeded", reviewer.id)


def test_reviewer_approves_rejects_edits_and_downloads_the_pdf(
    page: Page,
    live_server: LiveServer,
    create_user,
    sign_in,
    tmp_path: Path,
) -> None:
    reviewer = create_user("reviewer", name="Ruth Reviewer")
    interview = _completed_interview(live_server, reviewer)

    sign_in(reviewer)
    expect(page.get_by_role("heading", name="Stories to review")).to_be_visible()
    expect(_main(page)).to_contain_text("3 stories are waiting for review.")

    _read_the_first_story(page)
    _approve_and_reject(page)
    _edit_diff_and_approve(page)
    _compile_and_approve_chapters(page)
    pdf = _export_and_download(page, tmp_path)
    _check_pdf(pdf)
    _check_saved(live_server, interview, reviewer)
