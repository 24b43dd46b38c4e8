"""A coordinator's first day in Chromium, and the storyteller's first sign-in.

The coordinator signs in, adds a storyteller with a sign-in of their own (the invitation goes to
the outbox), records the storyteller's consent, adds a life event, plans a session from the
built-in "Childhood exploration" template with that life event as its main focus, and finds it
on the calendar. Then the storyteller, in a browser of their own, opens the link from the email,
chooses a password, lands on their home page signed in and sees the session at the right time in
their own time zone. The link does not work a second time.

Everything is done with labels and button names, as a person would; axe-core checks every page.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from storyteller import builtin_content, local_time
from storyteller.models import (
    ConsentRecord,
    LifeEvent,
    MailMessage,
    Session,
    SessionLifeEvent,
    SessionTemplate,
    Storyteller,
)
from tests.browser.axe import check_accessibility, screenshot
from tests.browser.conftest import LiveServer, LiveUser

pytestmark = pytest.mark.browser

TIME_ZONE = "America/New_York"
TEMPLATE = "Childhood exploration"
EVENT_NAME = "Growing up on Adams Street"
NEW_PASSWORD = "roses by the back door"


@pytest.fixture
def builtin_templates(live_server: LiveServer) -> None:
    """The built-in process and template library, as `flask init-db` / the demo would make."""
    with live_server.db() as db:
        process = builtin_content.ensure_default_process(db)
        builtin_content.ensure_builtin_templates(db, process)


def _next_week_at_half_past_ten() -> datetime:
    """10:30 on the same weekday next week, on the storyteller's wall clock (aware)."""
    today = datetime.now(ZoneInfo(TIME_ZONE)).date() + timedelta(days=7)
    return datetime(today.year, today.month, today.day, 10, 30, tzinfo=ZoneInfo(TIME_ZONE))


def _invitation_path(live_server: LiveServer, email: str) -> str:
    """The link in the invitation email, read from the outbox as a person reads their mail."""
    with live_server.db() as db:
        messages = db.scalars(select(MailMessage).where(MailMessage.to_address == email)).all()
        assert [m.kind for m in messages] == ["invitation"], [m.subject for m in messages]
        body = messages[0].body_text
    links = re.findall(r"https?://\S+/invitations/\S+", body)
    assert len(links) == 1, body
    return urlsplit(links[0]).path


def _main(page: Page):
    """The page's main content (the site navigation has some of the same links)."""
    return page.get_by_role("main")


def _add_storyteller(page: Page, name: str, email: str) -> uuid.UUID:
    expect(page.get_by_role("heading", name="Your storytellers")).to_be_visible()
    with page.expect_navigation():
        _main(page).get_by_role("link", name="Add a storyteller").click()
    check_accessibility(page, "add a storyteller")
    page.get_by_label("Their name").fill(name)
    page.get_by_label("Year of birth (optional)").fill("1938")
    page.get_by_label("Language they prefer").select_option(label="English")
    page.get_by_label("Their time zone").select_option(TIME_ZONE)
    page.get_by_label("Their email address (optional)").fill(email)
    page.get_by_label("Give them their own sign-in").check()
    screenshot(page, "coordinator-01-add-storyteller")
    with page.expect_navigation():
        page.get_by_role("button", name="Add this storyteller").click()
    check_accessibility(page, "storyteller page after adding")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.get_by_text("We emailed them a link to choose their password")).to_be_visible()
    match = re.search(r"/storytellers/([0-9a-f-]{36})$", page.url)
    assert match, page.url
    return uuid.UUID(match.group(1))


def _record_consent(page: Page, name: str) -> None:
    with page.expect_navigation():
        _main(page).get_by_role("link", name="Record consent").click()
    check_accessibility(page, "consent page")
    expect(page.get_by_text("Consent not recorded yet.")).to_be_visible()
    scope = page.get_by_role("group", name="What they agree to")
    expect(scope.get_by_label("Being interviewed and having the answers kept")).to_be_checked()
    scope.get_by_label("Answers sent to the configured AI model").check()
    topics = page.get_by_role("group", name="Sensitive topics they are happy to talk about")
    topics.get_by_label("Faith and religion").check()
    page.get_by_label("How they gave it").select_option(label="In person, face to face")
    page.get_by_label("Note (optional)").fill("Agreed at the kitchen table, her son present.")
    screenshot(page, "coordinator-02-consent-form")
    with page.expect_navigation():
        page.get_by_role("button", name="Record this consent").click()
    check_accessibility(page, "consent page after recording")
    expect(page.get_by_text(f"{name}'s consent is recorded.")).to_be_visible()
    in_force = page.get_by_role("region", name="The consent in force")
    expect(in_force.get_by_text("Faith and religion")).to_be_visible()
    expect(in_force.get_by_text("Being interviewed and having the answers kept")).to_be_visible()
    screenshot(page, "coordinator-03-consent-recorded")
    with page.expect_navigation():
        _main(page).get_by_role("link", name=f"Back to {name}").click()
    check_accessibility(page, "storyteller page after consent")


def _add_life_event(page: Page, name: str) -> None:
    with page.expect_navigation():
        _main(page).get_by_role("link", name="Life events", exact=True).click()
    check_accessibility(page, "empty timeline")
    expect(page.get_by_text("No life events yet.")).to_be_visible()
    with page.expect_navigation():
        _main(page).get_by_role("link", name="Add a life event").click()
    check_accessibility(page, "add a life event")
    page.get_by_label("Name of the event").fill(EVENT_NAME)
    page.get_by_label("Period of life").select_option(label="Childhood")
    page.get_by_label("Kind of event").fill("home")
    page.get_by_label("Year it started").fill("1941")
    page.get_by_label("Year it ended").fill("1955")
    page.get_by_label("Place").fill("Dorchester, Boston")
    page.get_by_label("What happened").fill(
        "The three-decker on Adams Street: her parents, her brother Tom, Aunt Helen upstairs."
    )
    screenshot(page, "coordinator-04-life-event-form")
    with page.expect_navigation():
        page.get_by_role("button", name="Add this life event").click()
    check_accessibility(page, "timeline with one life event")
    expect(page.get_by_text(f"“{EVENT_NAME}” is added to the timeline.")).to_be_visible()
    item = page.locator(".timeline-item", has=page.get_by_role("heading", name=EVENT_NAME))
    expect(item).to_have_count(1)
    expect(item).to_contain_text("1941")
    expect(item).to_contain_text("1955")
    expect(item).to_contain_text("Childhood")
    expect(item).to_contain_text("Dorchester, Boston")
    expect(item).to_contain_text("Not talked about yet")
    screenshot(page, "coordinator-05-timeline")
    with page.expect_navigation():
        _main(page).get_by_role("link", name=f"Back to {name}").click()
    check_accessibility(page, "storyteller page after the life event")


def _schedule_from_template(page: Page, name: str, when: datetime) -> None:
    with page.expect_navigation():
        _main(page).get_by_role("link", name="Schedule a session").click()
    check_accessibility(page, "plan a session (empty)")
    expect(page.get_by_role("heading", name=f"Plan a session with {name}")).to_be_visible()
    page.get_by_label("Template", exact=True).select_option(label=TEMPLATE)
    with page.expect_navigation():
        page.get_by_role("button", name="Use this template").click()
    check_accessibility(page, "plan a session from the template")
    expect(page.get_by_text(f"Filled in from the template “{TEMPLATE}”")).to_be_visible()
    # The template's defaults are copied into the form, ready to change.
    expect(page.get_by_label("Name (optional)")).to_have_value(TEMPLATE)
    expect(page.get_by_label("What we want to capture")).not_to_be_empty()
    expect(page.get_by_label("Signs it went well (one per line)")).not_to_be_empty()
    expect(page.get_by_label("Length in minutes")).not_to_have_value("")
    expect(page.get_by_text(f"In {name}’s time zone ({TIME_ZONE})")).to_be_visible()

    page.get_by_label("Day and time").fill(when.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Length in minutes").fill("45")
    page.get_by_role("checkbox", name=f"{EVENT_NAME} (1941–1955)", exact=True).check()
    page.get_by_role("radio", name=f"Main focus: {EVENT_NAME}", exact=True).check()
    page.get_by_label(f"How deeply: {EVENT_NAME}").select_option(label="Exploration")
    screenshot(page, "coordinator-06-schedule-form")
    with page.expect_navigation():
        page.get_by_role("button", name="Plan this session").click()
    check_accessibility(page, "the planned session")
    expect(page.get_by_text("The session is planned.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text(TEMPLATE)


def _find_on_calendar(page: Page, storyteller_id: uuid.UUID, name: str, when: datetime) -> None:
    page.goto(f"/storytellers/{storyteller_id}")
    check_accessibility(page, "storyteller page with a session")
    with page.expect_navigation():
        _main(page).get_by_role("link", name="Calendar", exact=True).click()
    check_accessibility(page, "the storyteller's calendar")
    expect(page.get_by_role("heading", name=f"Upcoming sessions for {name}")).to_be_visible()
    day_heading = f"{when:%A} {when.day} {when:%B %Y}"
    day = page.get_by_role("region", name=day_heading)
    expect(day).to_be_visible()
    title = page.get_by_role("link", name=TEMPLATE, exact=True)
    item = day.locator(".calendar-item", has=title)
    expect(item).to_have_count(1)
    expect(item).to_contain_text("10:30")
    expect(item).to_contain_text("about 45 minutes")
    screenshot(page, "coordinator-07-calendar")

    # The calendar of everyone the coordinator sees has it too, under the same day.
    with page.expect_navigation():
        _main(page).get_by_role("link", name="See the calendar of everyone you can see.").click()
    check_accessibility(page, "the coordinator's calendar")
    everyone = page.get_by_role("region", name=day_heading).locator(".calendar-item", has_text=name)
    expect(everyone).to_have_count(1)
    expect(everyone).to_contain_text(TEMPLATE)


def _check_saved(live_server: LiveServer, storyteller_id: uuid.UUID, when: datetime) -> None:
    """What the pages said is what was stored: UTC time, template, main life event, consent."""
    with live_server.db() as db:
        storyteller = db.get(Storyteller, storyteller_id)
        assert storyteller is not None and storyteller.time_zone == TIME_ZONE
        consent = db.scalars(
            select(ConsentRecord).where(ConsentRecord.storyteller_id == storyteller_id)
        ).one()
        assert set(consent.scope) == {"interview", "llm_processing"}
        assert consent.sensitive_topics == ["faith"]
        session = db.scalars(select(Session).where(Session.storyteller_id == storyteller_id)).one()
        template = db.scalars(
            select(SessionTemplate).where(SessionTemplate.template_name == TEMPLATE)
        ).one()
        assert session.session_template_id == template.id
        assert session.status == "scheduled"
        assert session.scheduled_at is not None
        assert session.scheduled_at == when.astimezone(ZoneInfo("UTC"))
        assert session.scheduled_duration_minutes == 45
        assert session.intention.strip()
        link = db.scalars(
            select(SessionLifeEvent).where(SessionLifeEvent.session_id == session.id)
        ).one()
        event = db.get(LifeEvent, link.life_event_id)
        assert event is not None and event.event_name == EVENT_NAME
        assert (event.start_year, event.end_year, event.life_period) == (1941, 1955, "childhood")
        assert link.is_primary_focus is True
        assert link.coverage_level == "exploration"


def _storyteller_accepts(
    page: Page, live_server: LiveServer, path: str, name: str, when: datetime
) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200
    check_accessibility(page, "invitation: choose a password")
    expect(page.get_by_role("heading", name=f"Welcome, {name}")).to_be_visible()
    page.get_by_label("Your new password").fill(NEW_PASSWORD)
    page.get_by_label("The same password again").fill(NEW_PASSWORD)
    screenshot(page, "coordinator-08-invitation")
    with page.expect_navigation():
        page.get_by_role("button", name="Save my password and sign in").click()
    check_accessibility(page, "storyteller home after choosing a password")
    assert urlsplit(page.url).path == "/", page.url
    expect(page.get_by_text("Your password is set and you are signed in.")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Hello, {name}")).to_be_visible()
    card = page.locator(".card", has=page.get_by_role("heading", name=TEMPLATE))
    expect(card).to_have_count(1)
    # The time in the storyteller's own zone, in the words the app uses everywhere.
    expected_time = local_time.format_local(when, TIME_ZONE)
    expect(card).to_contain_text(expected_time)
    expect(card).to_contain_text("about 45 minutes")
    expect(card.get_by_role("link", name=re.compile(r"^Start"))).to_be_visible()
    screenshot(page, "coordinator-09-storyteller-home")

    # The link works once: a second visit is refused, kindly.
    again = page.goto(path)
    assert again is not None and again.status == 410
    check_accessibility(page, "invitation link used a second time")
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()
    expect(page.get_by_text("This sign-in link has already been used.")).to_be_visible()
    screenshot(page, "coordinator-10-invitation-used")


@pytest.mark.usefixtures("builtin_templates")
def test_coordinator_adds_storyteller_plans_session_and_storyteller_signs_in(
    live_server: LiveServer,
    create_user: Callable[..., LiveUser],
    sign_in: Callable[..., None],
    page: Page,
    make_page: Callable[..., Page],
) -> None:
    coordinator = create_user("coordinator", name="Joan Fitzgerald")
    suffix = uuid.uuid4().hex[:6]
    name = f"Margaret Ellis {suffix}"
    email = f"margaret-{suffix}@example.org"
    when = _next_week_at_half_past_ten()

    sign_in(coordinator)
    storyteller_id = _add_storyteller(page, name, email)
    path = _invitation_path(live_server, email)
    _record_consent(page, name)
    _add_life_event(page, name)
    _schedule_from_template(page, name, when)
    _find_on_calendar(page, storyteller_id, name, when)
    _check_saved(live_server, storyteller_id, when)

    # The storyteller, on their own computer: no cookies from the coordinator.
    _storyteller_accepts(make_page(), live_server, path, name, when)
