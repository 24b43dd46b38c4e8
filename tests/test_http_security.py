"""Security headers on every HTML page, no inline script or style, and the session cookie."""

from __future__ import annotations

from html.parser import HTMLParser
from http.cookies import SimpleCookie

import pytest

from storyteller.models import SessionArtifact, SessionInteraction
from tests.conftest import PASSWORD, sign_in

STAFF_AND_ADMIN = ("coordinator", "reviewer", "admin")


class PageScan(HTMLParser):
    """Collects what a strict Content-Security-Policy would block in a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._open: list[str] = []
        self.tags = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        self._open.append(tag)
        for name, value in attrs:
            name = name.lower()
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> event handler attribute")
            if name == "style":
                self.problems.append(f"<{tag} style=...> inline style attribute")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._open.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            while self._open and self._open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] in ("script", "style") and data.strip():
            self.problems.append(f"inline <{self._open[-1]}> with content: {data.strip()[:60]!r}")


def scan(html: str) -> PageScan:
    parser = PageScan()
    parser.feed(html)
    parser.close()
    return parser


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def assert_secure_html(response, *, personal: bool) -> None:
    assert response.mimetype == "text/html"
    headers = response.headers
    csp = headers.get("Content-Security-Policy")
    assert csp, "no Content-Security-Policy"
    directives = csp_directives(csp)
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src is not None, csp
    assert "'unsafe-inline'" not in script_src, csp
    assert "'unsafe-eval'" not in script_src, csp
    assert directives.get("frame-ancestors") == ["'none'"], csp
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("X-Frame-Options") == "DENY"
    if personal:
        assert "no-store" in headers.get("Cache-Control", ""), headers.get("Cache-Control")
    page = scan(response.get_data(as_text=True))
    assert page.tags > 10, "not a rendered page"
    assert page.problems == []


@pytest.fixture
def people(make_user, make_storyteller, make_session, db_session):
    """One user per role; the storyteller's session has content in every template branch."""
    users = {role: make_user(role) for role in ("storyteller", *STAFF_AND_ADMIN)}
    storyteller = make_storyteller(
        user=users["storyteller"], granted_to=(users["coordinator"], users["reviewer"])
    )
    session = make_session(
        storyteller,
        status="in_progress",
        summary="We talked about the farm.\nAnd the river.",
        success_indicators=["Names of the neighbours"],
        scheduled_duration_minutes=30,
    )
    db_session.add_all(
        [
            SessionInteraction(
                session_id=session.id,
                interaction_sequence=1,
                agent_prompt="What did the farmhouse look like?",
                storyteller_response="White, with a red door.",
                response_method="text",
            ),
            SessionInteraction(
                session_id=session.id,
                interaction_sequence=2,
                agent_prompt="Who lived next door?",
                response_method="skip",
            ),
            SessionArtifact(
                session_id=session.id,
                artifact_type="scene_capture",
                artifact_name="The red door",
                content="A white farmhouse with a red door.",
            ),
        ]
    )
    db_session.flush()
    return users, storyteller, session


def test_sign_in_page_and_its_error_are_secure(client, make_user):
    assert_secure_html(client.get("/sign-in"), personal=False)
    user = make_user("reviewer")
    failed = sign_in(client, user, "wrong password")
    assert failed.status_code == 401
    assert_secure_html(failed, personal=True)


@pytest.mark.parametrize("role", ["storyteller", *STAFF_AND_ADMIN])
def test_every_roles_pages_are_secure(client, people, role):
    users, storyteller, session = people
    sign_in(client, users[role])
    for url in (
        "/",
        "/account/password",
        f"/storytellers/{storyteller.id}",
        f"/sessions/{session.id}",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_secure_html(response, personal=True)


def test_the_home_pages_render_their_content(client, people):
    """Guard for the test above: the pages scanned really show the session's content."""
    users, storyteller, session = people
    sign_in(client, users["reviewer"])
    assert "The red door" in client.get("/").get_data(as_text=True)
    body = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "White, with a red door." in body
    assert "Skipped" in body


def test_error_pages_are_secure(client, make_user):
    assert_secure_html(client.get("/no-such-page"), personal=True)
    assert_secure_html(client.get("/sign-out"), personal=True)  # 405
    sign_in(client, make_user("coordinator"))
    response = client.get("/storytellers/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert_secure_html(response, personal=True)


def test_static_files_are_not_sniffed(client):
    response = client.get("/static/js/app.js")
    assert response.status_code == 200
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    response.close()


def _session_cookie(response) -> dict[str, str | bool]:
    """The attributes of the session cookie set by this response (lower-case names)."""
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if "session" in cookie:
            morsel = cookie["session"]
            flags = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
            return {
                "value": morsel.value,
                "httponly": "httponly" in flags,
                "secure": "secure" in flags,
                "samesite": morsel["samesite"],
                "expires": bool(morsel["expires"]),
            }
    raise AssertionError(f"no session cookie set: {response.headers.getlist('Set-Cookie')}")


def test_session_cookie_over_http_is_httponly_lax_and_not_secure(client, make_user):
    user = make_user("admin")
    response = sign_in(client, user)
    assert response.status_code == 303
    cookie = _session_cookie(response)
    assert cookie["httponly"] is True
    assert str(cookie["samesite"]).lower() == "lax"
    assert cookie["secure"] is False  # otherwise sign-in over plain http could never work
    assert client.get("/").status_code == 200


def test_session_cookie_over_https_is_secure(client, make_user):
    user = make_user("admin")
    response = client.post(
        "/sign-in",
        data={"email": user.email, "password": PASSWORD},
        base_url="https://localhost",
    )
    assert response.status_code == 303
    cookie = _session_cookie(response)
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert str(cookie["samesite"]).lower() == "lax"
    assert client.get("/", base_url="https://localhost").status_code == 200


def test_session_cookie_changes_at_sign_in_and_nothing_carries_over(client, make_user):
    user = make_user("coordinator")
    assert client.get("/sign-in").status_code == 200
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        before_token = session.get("csrf_token")
    assert before_token, "the sign-in page should have started a session with a CSRF token"
    before = client.get_cookie("session").value
    assert sign_in(client, user).status_code == 303
    after = client.get_cookie("session").value
    assert after != before
    client.get("/")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != before_token


def test_the_cookie_after_a_password_change_lasts_like_one_from_sign_in(client, make_user):
    user = make_user("storyteller")
    assert _session_cookie(sign_in(client, user))["expires"] is True
    new = "a brand new secret"
    changed = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm_password": new},
    )
    assert changed.status_code == 303
    assert _session_cookie(changed)["expires"] is True
