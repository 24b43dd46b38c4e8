"""Signing in and out through the real pages, in Chromium, with axe-core on every page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from storyteller.models import SessionArtifact
from tests.browser.axe import check_accessibility, screenshot

pytestmark = pytest.mark.browser


def _prepare(live_server, role: str):
    """A user of this role, with real data on their home page; returns (user, texts to see)."""
    if role == "storyteller":
        user = live_server.create_user("storyteller", name="Margaret Ellis")
        live_server.create_session(user.storyteller_id, session_name="Growing up in Leeds")
        return user, ["Growing up in Leeds"]
    user = live_server.create_user(role, name=f"{role.title()} Tester")
    if role == "admin":
        return user, []
    storyteller_id = live_server.create_storyteller("Arthur Pemberton", granted_to=(user,))
    session_id = live_server.create_session(storyteller_id, session_name="The war years")
    if role == "coordinator":
        return user, ["Arthur Pemberton", "The war years"]
    with live_server.db() as db:
        db.add(
            SessionArtifact(
                session_id=session_id,
                artifact_type="scene_capture",
                artifact_name="The kitchen on Albert Street",
                content="A coal range, a kettle always on, and Mother singing while she baked.",
            )
        )
    return user, ["The kitchen on Albert Street", "Arthur Pemberton"]


HOME_HEADINGS = {
    "coordinator": "Your storytellers",
    "reviewer": "Stories to review",
    "admin": "System overview",
}


@pytest.mark.parametrize("role", ["storyteller", "coordinator", "reviewer", "admin"])
def test_each_role_signs_in_and_lands_on_its_home(page, live_server, sign_in, role):
    user, texts = _prepare(live_server, role)

    sign_in(user)

    assert page.url == live_server.url + "/"
    if role == "storyteller":
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {user.name}")
        expect(page.get_by_role("heading", level=2, name="Your sessions")).to_be_visible()
    else:
        expect(page.get_by_role("heading", level=1)).to_have_text(HOME_HEADINGS[role])
    expect(page.get_by_text(f"Signed in as {user.name} ({role})")).to_be_visible()
    main = page.locator("main")
    for text in texts:
        expect(main).to_contain_text(text)
    screenshot(page, f"home-{role}")


def test_sign_out_returns_to_sign_in_and_home_then_redirects(page, live_server, sign_in):
    user = live_server.create_user("coordinator")
    sign_in(user)

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    assert page.url == live_server.url + "/sign-in"
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_role("status")).to_have_text("You have signed out. See you next time.")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    check_accessibility(page, "signed out")
    screenshot(page, "signed-out")

    page.goto("/")
    assert page.url == live_server.url + "/sign-in"
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    check_accessibility(page, "home after sign-out")


def test_wrong_password_shows_an_alert(page, live_server, sign_in):
    user = live_server.create_user("reviewer")

    sign_in(user, "not the password", expect_home=False)

    assert page.url == live_server.url + "/sign-in"
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("That email and password do not match")
    expect(page.get_by_label("Email address")).to_have_value(user.email)
    expect(page.get_by_label("Email address")).to_have_attribute("aria-describedby", "login-error")
    expect(page.get_by_label("Password")).to_have_value("")
    screenshot(page, "sign-in-wrong-password")


def _focused(page) -> str:
    """The focused element, described as id, else its text."""
    return page.evaluate(
        "(() => { const e = document.activeElement;"
        " return e.id || e.textContent.trim() || e.tagName; })()"
    )


def test_keyboard_only_skip_link_first_and_enter_signs_in(page, live_server):
    user = live_server.create_user("storyteller", name="Keyboard User")
    live_server.create_session(user.storyteller_id)
    page.goto("/sign-in")
    check_accessibility(page, "sign-in (keyboard)")

    # The first Tab reaches the skip link, shown on top of the header.
    page.keyboard.press("Tab")
    assert _focused(page) == "Skip to main content"
    expect(page.get_by_role("link", name="Skip to main content")).to_be_in_viewport()
    screenshot(page, "sign-in-skip-link-focused")

    # Enter on it moves the focus to <main>; the next Tab is the email field.
    page.keyboard.press("Enter")
    assert _focused(page) == "main"
    page.keyboard.press("Tab")
    assert _focused(page) == "email"
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    assert _focused(page) == "password"
    page.keyboard.type(user.password)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # The redirect keeps the #main fragment the skip link added: still the home page.
    assert page.url.split("#")[0] == live_server.url + "/"
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Keyboard User")
    check_accessibility(page, "storyteller home (keyboard)")

    # Landing on /#main, the next Tab starts inside the main content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Start Childhood memories")).to_be_focused()

    # Coming to the home page afresh: the skip link is first, then it leads to the button.
    page.goto("/")
    check_accessibility(page, "storyteller home, fresh")
    page.keyboard.press("Tab")
    assert _focused(page) == "Skip to main content"
    page.keyboard.press("Enter")
    assert _focused(page) == "main"
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Start Childhood memories")).to_be_focused()


@pytest.mark.parametrize("width", [640, 320], ids=["200pct", "400pct"])
def test_sign_in_page_reflows_without_horizontal_scrolling(make_page, width):
    # A 1280 px wide window at 200% zoom lays out 640 CSS px; at 400% (WCAG 1.4.10) 320.
    page = make_page(viewport={"width": width, "height": 800}, device_scale_factor=2)
    page.goto("/sign-in")
    check_accessibility(page, f"sign-in at {width}px")
    sizes = page.evaluate(
        "({scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth})"
    )
    assert sizes["scroll"] <= sizes["client"], f"horizontal scrolling at {width}px: {sizes}"
    screenshot(page, f"sign-in-{width}px")
