"""Friendly error pages for 400/403/404/405/429/500 that leak nothing.

Routes that fail on purpose (403, 429, 500) exist only in a second app instance built
here, on the same database and inside the test's transaction, so the real app gains no
test-only routes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser

import pytest
from flask import Flask, abort

from storyteller import authz, create_app
from storyteller.extensions import db
from tests.conftest import PASSWORD, IsolatedClient, sign_in
from tests.conftest import test_config as make_config

SECRET = "secret-detail-xyz"
LEAKS = (
    SECRET,
    "Traceback",
    "RuntimeError",
    "werkzeug",
    "sqlalchemy",
    'File "',
    ".py",
    "abort(",
    "test_only",
)


class PageOutline(HTMLParser):
    """The h1 text, the links inside <main>, and the page text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.h1: list[str] = []
        self.main_links: list[str] = []
        self.text: list[str] = []
        self._in_h1 = False
        self._in_main = False

    def handle_starttag(self, tag, attrs):
        if tag == "h1":
            self._in_h1 = True
            self.h1.append("")
        elif tag == "main":
            self._in_main = True
        elif tag == "a" and self._in_main:
            self.main_links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag):
        if tag == "h1":
            self._in_h1 = False
        elif tag == "main":
            self._in_main = False

    def handle_data(self, data):
        if self._in_h1:
            self.h1[-1] += data
        self.text.append(data)


def outline(response) -> PageOutline:
    page = PageOutline()
    page.feed(response.get_data(as_text=True))
    page.close()
    return page


def assert_friendly_error(response, code: int) -> str:
    """The error page: status, one heading, a link home, "Error <code>", nothing leaked."""
    assert response.status_code == code, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    page = outline(response)
    assert len(page.h1) == 1 and page.h1[0].strip(), page.h1
    assert "/" in page.main_links, f"no link home in the page: {page.main_links}"
    text = " ".join(" ".join(page.text).split())
    assert f"Error {code}" in text
    body = response.get_data(as_text=True)
    for leak in LEAKS:
        assert leak not in body, leak
    return text


@pytest.fixture
def second_app(app: Flask, db_session, database_url, tmp_path) -> Iterator[Callable[..., Flask]]:
    """Build more app instances on the test's database connection (rolled back afterwards)."""
    built: list[tuple[Flask, object]] = []

    def build(**extra) -> Flask:
        other = create_app(make_config(database_url, str(tmp_path / f"i{len(built)}"), **extra))
        other.test_client_class = IsolatedClient
        engines = db._app_engines[other]  # noqa: SLF001 - join the test's transaction
        built.append((other, engines[None]))
        engines[None] = db._app_engines[app][None]  # noqa: SLF001 - the db_session connection
        return other

    yield build
    for other, engine in built:
        db._app_engines[other][None] = engine  # noqa: SLF001
        engine.dispose()


@pytest.fixture
def failing_app(second_app) -> Flask:
    other = second_app()

    def forbidden():
        abort(403)

    @authz.roles_required("admin")
    def admin_only():
        return "admin only"

    def too_many():
        abort(429)

    def broken():
        raise RuntimeError(SECRET)

    other.add_url_rule("/test-only/forbidden", "test_only_forbidden", forbidden)
    other.add_url_rule("/test-only/admin-only", "test_only_admin_only", admin_only)
    other.add_url_rule("/test-only/too-many", "test_only_too_many", too_many)
    other.add_url_rule("/test-only/broken", "test_only_broken", broken)
    return other


def test_unknown_path_is_a_friendly_404(client, make_user):
    assert_friendly_error(client.get("/no/such/page"), 404)
    sign_in(client, make_user("storyteller"))
    text = assert_friendly_error(client.get("/no/such/page"), 404)
    assert "could not find" in text


@pytest.mark.parametrize(
    "url", ["/storytellers/not-a-uuid", "/sessions/12345", "/sessions/' OR 1=1 --"]
)
def test_invalid_uuid_is_a_friendly_404(client, make_user, url):
    sign_in(client, make_user("admin"))
    assert_friendly_error(client.get(url), 404)


def test_unknown_object_is_a_friendly_404(client, make_user):
    sign_in(client, make_user("admin"))
    assert_friendly_error(client.get("/sessions/00000000-0000-0000-0000-000000000000"), 404)


def test_wrong_method_is_a_friendly_405(client):
    assert_friendly_error(client.get("/sign-out"), 405)


def test_forbidden_is_a_friendly_403(failing_app):
    text = assert_friendly_error(failing_app.test_client().get("/test-only/forbidden"), 403)
    assert "not for your account" in text


def test_a_role_forbidden_page_is_a_friendly_403(failing_app, make_user):
    client = failing_app.test_client()
    assert sign_in(client, make_user("coordinator")).status_code == 303
    assert_friendly_error(client.get("/test-only/admin-only"), 403)
    admin_client = failing_app.test_client()
    sign_in(admin_client, make_user("admin"))
    assert admin_client.get("/test-only/admin-only").status_code == 200


def test_a_crash_is_a_friendly_500_that_shows_no_detail(failing_app, make_user, caplog):
    client = failing_app.test_client()
    sign_in(client, make_user("reviewer"))
    with caplog.at_level(logging.ERROR):
        response = client.get("/test-only/broken")
    text = assert_friendly_error(response, 500)
    assert "went wrong on our side" in text
    # The detail is for the server's log, not for the person.
    assert SECRET in caplog.text
    # The app still works after the crash (the failed transaction was rolled back).
    assert client.get("/").status_code == 200


def test_too_many_requests_is_a_friendly_429(failing_app):
    assert_friendly_error(failing_app.test_client().get("/test-only/too-many"), 429)


def _rate_limit_sign_in(app, client, email: str):
    for _ in range(app.config["LOGIN_RATE_LIMIT_ATTEMPTS"]):
        client.post("/sign-in", data={"email": email, "password": "not the password"})
    return client.post("/sign-in", data={"email": email, "password": PASSWORD})


def test_sign_in_rate_limit_is_a_friendly_429_that_reveals_no_account(app, client, make_user):
    user = make_user("coordinator")
    known = _rate_limit_sign_in(app, client, user.email)
    unknown = _rate_limit_sign_in(app, client, "nobody-here@example.org")
    for response in (known, unknown):
        text = assert_friendly_error(response, 429)
        assert "Too many sign-in attempts" in text
        assert "wait" in text

    # The same page whether or not the account exists (apart from the email typed and
    # the CSRF token, whose signature carries the time).
    def normalised(response, email: str) -> str:
        body = response.get_data(as_text=True).replace(email, "EMAIL")
        return re.sub(r"[A-Za-z0-9_.-]{40,}", "TOKEN", body)

    assert normalised(known, user.email) == normalised(unknown, "nobody-here@example.org")


def test_csrf_failure_is_a_friendly_400(second_app, make_user):
    csrf_app = second_app(WTF_CSRF_ENABLED=True)
    client = csrf_app.test_client()
    user = make_user("storyteller")
    response = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    text = assert_friendly_error(response, 400)
    assert "Please reload the page and try again" in text
    assert "CSRF" not in text
