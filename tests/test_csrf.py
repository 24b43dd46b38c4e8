"""CSRF protection as a browser meets it: tokens in forms and in htmx's header, no expiry.

The suite's main app runs with CSRF off; these tests build a second app instance with it
on, on the same database and inside the test's transaction (rolled back afterwards).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser

import pytest
from flask import Flask
from itsdangerous import SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from storyteller import create_app
from storyteller.extensions import db
from tests.conftest import PASSWORD, IsolatedClient
from tests.conftest import test_config as make_config

CSRF_MESSAGE = "Please reload the page and try again"
TWO_HOURS = 2 * 60 * 60


class Tokens(HTMLParser):
    """The csrf_token fields of a page's forms and the token in <body hx-headers>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.form_tokens: list[str] = []
        self.hx_headers: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name") == "csrf_token":
            self.form_tokens.append(attributes.get("value") or "")
        if tag == "body" and attributes.get("hx-headers"):
            self.hx_headers = json.loads(attributes["hx-headers"])


def tokens(response) -> Tokens:
    assert response.status_code == 200, response.status_code
    parser = Tokens()
    parser.feed(response.get_data(as_text=True))
    parser.close()
    return parser


def form_token(response) -> str:
    found = set(tokens(response).form_tokens)
    assert len(found) == 1 and all(found), found
    return found.pop()


@pytest.fixture
def csrf_app_factory(app: Flask, db_session, database_url, tmp_path) -> Iterator[Callable]:
    built: list[tuple[Flask, object]] = []

    def build(**extra) -> Flask:
        config = make_config(
            database_url, str(tmp_path / f"i{len(built)}"), WTF_CSRF_ENABLED=True, **extra
        )
        other = create_app(config)
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
def csrf_app(csrf_app_factory) -> Flask:
    return csrf_app_factory()


def signed_in(csrf_app: Flask, user):
    client = csrf_app.test_client()
    token = form_token(client.get("/sign-in"))
    response = client.post(
        "/sign-in", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return client


def test_post_without_a_token_is_refused_with_a_friendly_message(csrf_app, make_user):
    client = csrf_app.test_client()
    user = make_user("coordinator")
    client.get("/sign-in")
    response = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not signed in


def test_sign_in_and_sign_out_with_the_token_from_the_page(csrf_app, make_user):
    client = signed_in(csrf_app, make_user("coordinator"))
    home = client.get("/")
    assert home.status_code == 200
    # A signed-in POST without the token is refused and changes nothing.
    refused = client.post("/sign-out")
    assert refused.status_code == 400
    assert CSRF_MESSAGE in refused.get_data(as_text=True)
    assert client.get("/").status_code == 200
    # With the token from the page's sign-out form it works.
    response = client.post("/sign-out", data={"csrf_token": form_token(home)})
    assert response.status_code == 303
    assert client.get("/").status_code == 302


def test_a_forged_or_foreign_token_is_refused(csrf_app, make_user):
    victim = signed_in(csrf_app, make_user("admin"))
    attacker = signed_in(csrf_app, make_user("storyteller"))
    attackers_token = form_token(attacker.get("/"))
    for token in (attackers_token, "not-a-token", attackers_token[:-2] + "xx"):
        response = victim.post("/sign-out", data={"csrf_token": token})
        assert response.status_code == 400, token
    assert victim.get("/").status_code == 200


def test_a_token_from_before_sign_in_does_not_work_after_it(csrf_app, make_user):
    client = csrf_app.test_client()
    user = make_user("reviewer")
    before = form_token(client.get("/sign-in"))
    client.post("/sign-in", data={"email": user.email, "password": PASSWORD, "csrf_token": before})
    assert client.get("/").status_code == 200
    response = client.post("/sign-out", data={"csrf_token": before})
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)


def test_tokens_do_not_expire(csrf_app, make_user):
    assert csrf_app.config["WTF_CSRF_TIME_LIMIT"] is None
    client = signed_in(csrf_app, make_user("storyteller"))
    token = form_token(client.get("/account/password"))
    time.sleep(0)
    response = client.post("/sign-out", data={"csrf_token": token})
    assert response.status_code == 303


class TwoHoursAgoSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - TWO_HOURS


def old_token_for(app: Flask, client) -> str:
    """A token for this client's session, signed as if the page had been loaded 2 hours ago."""
    client.get("/")  # make sure the session holds a raw token
    with client.session_transaction() as session:
        raw = session["csrf_token"]
    secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
    token = URLSafeTimedSerializer(secret, salt="wtf-csrf-token", signer=TwoHoursAgoSigner).dumps(
        raw
    )
    # It really is two hours old: flask-wtf's default one-hour limit would reject it.
    with pytest.raises(SignatureExpired):
        URLSafeTimedSerializer(secret, salt="wtf-csrf-token").loads(token, max_age=3600)
    assert URLSafeTimedSerializer(secret, salt="wtf-csrf-token").loads(token) == raw
    return token


def test_a_two_hour_old_token_is_accepted(csrf_app, make_user):
    client = signed_in(csrf_app, make_user("storyteller"))
    response = client.post("/sign-out", data={"csrf_token": old_token_for(csrf_app, client)})
    assert response.status_code == 303
    assert client.get("/").status_code == 302


def test_control_with_a_one_hour_limit_the_old_token_is_refused(csrf_app_factory, make_user):
    """Shows the test above can fail: the same kind of token under a time limit is refused."""
    limited = csrf_app_factory(WTF_CSRF_TIME_LIMIT=3600)
    client = signed_in(limited, make_user("storyteller"))
    response = client.post("/sign-out", data={"csrf_token": old_token_for(limited, client)})
    assert response.status_code == 400


def test_htmx_requests_carry_the_token_in_the_header(csrf_app, make_user):
    client = signed_in(csrf_app, make_user("coordinator"))
    page = tokens(client.get("/"))
    assert set(page.hx_headers) == {"X-CSRFToken"}
    token = page.hx_headers["X-CSRFToken"]
    assert token in page.form_tokens  # the same token as the forms'
    htmx = {"HX-Request": "true", "HX-Current-URL": "http://localhost/"}
    refused = client.post("/sign-out", headers={**htmx, "X-CSRFToken": "wrong"})
    assert refused.status_code == 400
    response = client.post("/sign-out", headers={**htmx, "X-CSRFToken": token})
    assert response.status_code == 303
    assert client.get("/").status_code == 302
