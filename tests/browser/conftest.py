"""Browser tests: the app on a real HTTP server, driven by Chromium through Playwright.

Fixtures
  live_server   (session) LiveServer: .url, .app, .db() (a `with` block on db.session, committed
                at its end), .create_user(), .create_storyteller(), .grant(), .create_session().
                One SQLite file for the whole run, CSRF on, served by werkzeug on 127.0.0.1.
  browser       (session) the Chromium Browser; skipped when Chromium is missing, unless
                STORYTELLER_REQUIRE_BROWSER or CI is set (then the test fails).
  make_page     (test)    make_page(**new_context_options) -> a watched Page in a fresh
                BrowserContext whose base_url is live_server.url (page.goto("/sign-in") works).
                Watched: every document it loads must be checked with check_accessibility();
                console errors, uncaught exceptions and HTTP 5xx responses fail the test.
  page          (test)    make_page() at 1280x900.
  create_user   (test)    live_server.create_user(role="storyteller", *, name=, email=, password=)
                -> LiveUser (plain values; a storyteller also gets a Storyteller profile).
  sign_in       (test)    sign_in(user, password=None, *, page=None, expect_home=True): the real
                sign-in form on `page` (default: the `page` fixture); the sign-in page and the
                page it lands on are both checked with check_accessibility().

Helpers: tests/browser/axe.py (check_accessibility, screenshot, watch_page).
The live server does not roll back: make data with unique emails (create_user does).
Every test under tests/browser/ is marked `browser` (deselect with -m "not browser").
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy.orm import Session as DbSession
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from storyteller import accounts, create_app
from storyteller.consent import record_consent
from storyteller.extensions import db
from storyteller.models import Session, Storyteller, StorytellerAccess, utcnow
from tests.browser.axe import PageWatch, check_accessibility, watch_page
from tests.conftest import PASSWORD, test_config

CONSENT_SCOPE = ["interview", "llm_processing"]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]


_CALL_FAILED = pytest.StashKey[bool]()


def _truthy(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@dataclass(frozen=True)
class LiveUser:
    """A user made for a browser test (plain values: usable outside any app context)."""

    id: uuid.UUID
    email: str
    name: str
    role: str
    password: str
    storyteller_id: uuid.UUID | None = None


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request; errors are still logged."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class LiveServer:
    url: str
    app: Flask

    @contextmanager
    def db(self) -> Iterator[DbSession]:
        """db.session in an app context; committed at the end of the block."""
        with self.app.app_context():
            try:
                yield db.session
                db.session.commit()
            finally:
                db.session.remove()

    def create_user(
        self,
        role: str = "storyteller",
        *,
        name: str | None = None,
        email: str | None = None,
        password: str = PASSWORD,
    ) -> LiveUser:
        """A new user with a unique email; a storyteller also gets a Storyteller profile."""
        email = email or f"{role}-{uuid.uuid4().hex[:10]}@example.org"
        name = name or f"{role.title()} Person"
        with self.db() as session:
            user = accounts.create_user(
                session, email=email, name=name, role=role, password=password
            )
            storyteller_id = None
            if role == "storyteller":
                profile = Storyteller(display_name=user.name, user_id=user.id)
                session.add(profile)
                session.flush()
                record_consent(session, profile, scope=CONSENT_SCOPE, recorded_by_id=None)
                storyteller_id = profile.id
            return LiveUser(user.id, user.email, user.name, role, password, storyteller_id)

    def create_storyteller(
        self, display_name: str, *, granted_to: tuple[LiveUser, ...] = ()
    ) -> uuid.UUID:
        """A storyteller without a sign-in of their own, shared with the given users."""
        with self.db() as session:
            storyteller = Storyteller(display_name=display_name)
            session.add(storyteller)
            session.flush()
            record_consent(session, storyteller, scope=CONSENT_SCOPE, recorded_by_id=None)
            storyteller_id = storyteller.id
        for grantee in granted_to:
            self.grant(storyteller_id, grantee)
        return storyteller_id

    def grant(self, storyteller_id: uuid.UUID, user: LiveUser) -> None:
        level = "reviewer" if user.role == "reviewer" else "coordinator"
        with self.db() as session:
            session.add(
                StorytellerAccess(
                    storyteller_id=storyteller_id, user_id=user.id, access_level=level
                )
            )

    def create_session(self, storyteller_id: uuid.UUID, **fields: Any) -> uuid.UUID:
        """A Session (scheduled, in two days unless told otherwise); returns its id."""
        fields.setdefault("intention", "Capture three childhood scenes with who, where and when")
        fields.setdefault("session_name", "Childhood memories")
        fields.setdefault("scheduled_at", utcnow().replace(microsecond=0) + timedelta(days=2))
        with self.db() as session:
            row = Session(storyteller_id=storyteller_id, **fields)
            session.add(row)
            session.flush()
            return row.id


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("live")
    app = create_app(
        test_config(
            f"sqlite:///{base / 'live.db'}",
            str(base / "instance"),
            WTF_CSRF_ENABLED=True,
            # Every browser request comes from 127.0.0.1 into one database for the whole run:
            # the per-address limit would otherwise add up across tests. Per account it stays.
            LOGIN_RATE_LIMIT_PER_ADDRESS=10_000,
        )
    )
    with app.app_context():
        db.create_all()
    server: BaseWSGIServer = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def launch_chromium(live_server: LiveServer) -> Iterator[Callable[..., Browser]]:
    """Launch Chromium with the standard flags plus any extra ones; one Playwright per run.

    Playwright's sync API allows one running instance per thread, so every browser of the
    run (the shared one below, and modules' own, such as the fake microphone's in
    test_voice.py) is launched through this. It depends on live_server so it closes first.
    """
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

    def unavailable(reason: str) -> None:
        if _truthy("STORYTELLER_REQUIRE_BROWSER") or _truthy("CI"):
            pytest.fail(reason)
        pytest.skip(reason)

    if not (os.path.isfile(executable) or shutil.which(executable)):
        unavailable(f"Chromium not found at {executable!r} (set CHROMIUM_PATH)")
    playwright = sync_playwright().start()
    launched: list[Browser] = []

    def launch(*extra_args: str) -> Browser:
        try:
            chromium = playwright.chromium.launch(
                executable_path=executable, args=[*CHROMIUM_ARGS, *extra_args]
            )
        except PlaywrightError as exc:
            unavailable(f"Chromium at {executable!r} failed to launch: {exc}")
        launched.append(chromium)
        return chromium

    try:
        yield launch
    finally:
        for chromium in launched:
            if chromium.is_connected():
                chromium.close()
        playwright.stop()


@pytest.fixture(scope="session")
def browser(launch_chromium: Callable[..., Browser]) -> Browser:
    """One Chromium for the whole run."""
    return launch_chromium()


DEFAULT_VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture
def make_page(
    request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer
) -> Iterator[Callable[..., Page]]:
    """make_page(**context_options) -> a watched Page in its own new BrowserContext.

    Options go to browser.new_context (e.g. viewport={"width": 640, "height": 800},
    device_scale_factor=2, reduced_motion="reduce"); base_url is the live server. At the end
    of the test, unchecked documents, console errors and 5xx responses fail it.
    """
    made: list[tuple[BrowserContext, PageWatch]] = []

    def make(**options: Any) -> Page:
        options.setdefault("viewport", DEFAULT_VIEWPORT)
        ctx = browser.new_context(base_url=live_server.url, **options)
        ctx.set_default_timeout(10_000)
        new_page = ctx.new_page()
        made.append((ctx, watch_page(new_page)))
        return new_page

    yield make
    problems: list[str] = []
    for ctx, watch in made:
        problems += watch.errors()
        unchecked = watch.unchecked_summary()
        if unchecked:
            problems.append(unchecked)
        ctx.close()
    if not request.node.stash.get(_CALL_FAILED, False):  # a failed test has said enough
        assert not problems, "browser page problems:\n" + "\n".join(problems)


@pytest.fixture
def page(make_page: Callable[..., Page]) -> Page:
    """A watched 1280x900 page; page.context is its own fresh BrowserContext (no cookies)."""
    return make_page()


@pytest.fixture
def create_user(live_server: LiveServer) -> Callable[..., LiveUser]:
    return live_server.create_user


@pytest.fixture
def sign_in(request: pytest.FixtureRequest) -> Callable[..., None]:
    """sign_in(user, password=None, *, page=None, expect_home=True): sign in through the form.

    Uses the `page` fixture unless another page is given. Both the sign-in page and the page
    the form leads to are checked with check_accessibility(). With expect_home (the default)
    it fails when the browser is still on the sign-in page afterwards.
    """

    def do(
        user: LiveUser,
        password: str | None = None,
        *,
        page: Page | None = None,
        expect_home: bool = True,
    ) -> None:
        page = page or request.getfixturevalue("page")
        page.goto("/sign-in")
        check_accessibility(page, "sign-in")
        page.get_by_label("Email address").fill(user.email)
        page.get_by_label("Password").fill(password if password is not None else user.password)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        check_accessibility(page, f"after signing in as {user.role} {user.email}")
        if expect_home:
            assert "/sign-in" not in page.url, f"still on the sign-in page: {page.url}"

    return do
