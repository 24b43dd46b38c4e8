"""THE permission table: every route, every role, someone else's object and one's own.

How to add a route: add one entry to ``TABLE`` keyed by its endpoint. The value is a
``Route`` (or a list of them, one per HTTP method when a route accepts several):

    "storytellers.edit": [
        Route("GET", lambda s, own: f"/storytellers/{s.storyteller(own).id}/edit",
              other=HIDDEN_FROM_ALL_BUT_ADMIN,
              own={**ANON_TO_SIGN_IN, "storyteller": 200, "coordinator": 200,
                   "reviewer": 403, "admin": 200}),
        Route("POST", lambda s, own: f"/storytellers/{s.storyteller(own).id}/edit",
              data={"display_name": "New name"},
              other=HIDDEN_FROM_ALL_BUT_ADMIN,
              own={**ANON_TO_SIGN_IN, "storyteller": _to("/", 303), ...}),
    ],

* ``url(scenario, ownership)`` builds the address; ``ownership`` is "own" or "other".
  ``Scenario.storyteller(ownership)`` / ``Scenario.session(ownership)`` give the object:
  "own" is storyteller A's (A is the signed-in storyteller; the coordinator and reviewer
  are granted to A; for the admin "own" is A's too), "other" is storyteller B's (nobody
  but the admin may see it).
* ``other``: expected result per role when the object belongs to someone else.
  For a route without an object in its address this is the only row; its cases are
  named "no-object".
* ``own``: expected result per role for the user's own / granted object (leave None
  for routes without an object).
* An expectation is a status code, or ``(status, path)`` when the response must redirect
  to that path (query string ignored).
* ``data``: form data (or a callable taking the scenario) for POSTs; ``headers``: extra
  request headers (e.g. ``{"HX-Request": "true"}``).
* ``setup(scenario, ownership)`` runs after signing in and before the URL is built; it may
  create objects with ``scenario.db`` and leave them in ``scenario.extra`` for ``url``.

Every role of ``ROLES`` must appear in each expectation dict.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

from storyteller import interview
from storyteller.agent.llm import LlmSettings
from tests.conftest import PASSWORD, sign_in
from tests.permission_rows import collect_rows
from tests.permissions_common import (
    ANON_TO_SIGN_IN,
    EVERYONE_SIGNED_IN_200,
    HIDDEN_FROM_ALL_BUT_ADMIN,
    ROLES,
    SIGNED_IN_ROLES,
    VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    Route,
    Scenario,
)
from tests.permissions_common import to as _to

NEW_PASSWORD = "a brand new secret"

TABLE: dict[str, Route | list[Route]] = {
    "auth.login": [
        Route(
            "GET",
            lambda s, own: "/sign-in",
            other={"anonymous": 200, **{r: _to("/") for r in SIGNED_IN_ROLES}},
        ),
        Route(
            "POST",
            lambda s, own: "/sign-in",
            # Anonymous with an empty form: "please enter your email and password".
            other={"anonymous": 400, **{r: _to("/") for r in SIGNED_IN_ROLES}},
            data={"email": "", "password": ""},
        ),
    ],
    "auth.logout": Route(
        "POST",
        lambda s, own: "/sign-out",
        other={role: _to("/sign-in", 303) for role in ROLES},
    ),
    "auth.change_password": [
        Route(
            "GET",
            lambda s, own: "/account/password",
            other={**ANON_TO_SIGN_IN, **EVERYONE_SIGNED_IN_200},
        ),
        Route(
            "POST",
            lambda s, own: "/account/password",
            other={**ANON_TO_SIGN_IN, **{r: _to("/", 303) for r in SIGNED_IN_ROLES}},
            data={
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            },
        ),
    ],
    "home.index": Route(
        "GET",
        lambda s, own: "/",
        other={**ANON_TO_SIGN_IN, **EVERYONE_SIGNED_IN_200},
    ),
    "storytellers.show": Route(
        "GET",
        lambda s, own: f"/storytellers/{s.storyteller(own).id}",
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "storytellers.session_detail": Route(
        "GET",
        lambda s, own: f"/sessions/{s.session(own).id}",
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
}


def _start_interview(s: Scenario, ownership: str) -> None:
    """Start the session in the URL so it has a question waiting for an answer."""
    session = s.session(ownership)
    settings = interview.InterviewSettings(
        llm=LlmSettings(base_url=None, api_key=None, model="none"), daily_token_budget=0, prices={}
    )
    s.extra["interaction"] = interview.start(s.db, session, user_id=None, settings=settings)
    s.db.commit()


def _answer_form(s: Scenario) -> dict[str, str]:
    return {
        "interaction_id": str(s.extra["interaction"].id),
        "answer": "In the summer of 1950 my brother Tom and I swam at Carson Beach.",
        "version": "1",
        "idempotency_key": uuid.uuid4().hex,
    }


# Answering a session: its storyteller, or a coordinator sitting beside them. A reviewer
# or an admin may see the session (403) but not answer it; everyone else is "not found".
CONDUCT_OWN_GET = {
    **ANON_TO_SIGN_IN,
    "storyteller": 200,
    "coordinator": 200,
    "reviewer": 403,
    "admin": 403,
}
CONDUCT_OTHER = {
    **ANON_TO_SIGN_IN,
    "storyteller": 404,
    "coordinator": 404,
    "reviewer": 404,
    "admin": 403,
}


def _conduct_post(path: str, ok: int = 303, **extra: Any) -> Route:
    return Route(
        "POST",
        lambda s, own: f"/interview/{s.session(own).id}{path}",
        other=CONDUCT_OTHER,
        own={
            **ANON_TO_SIGN_IN,
            "storyteller": ok,
            "coordinator": ok,
            "reviewer": 403,
            "admin": 403,
        },
        **extra,
    )


TABLE.update(
    {
        "interview.page": Route(
            "GET",
            lambda s, own: f"/interview/{s.session(own).id}",
            other=CONDUCT_OTHER,
            own=CONDUCT_OWN_GET,
        ),
        "interview.start": _conduct_post("/start"),
        "interview.save_draft": _conduct_post(
            "/draft", ok=200, setup=_start_interview, data=_answer_form
        ),
        "interview.answer": _conduct_post("/answer", setup=_start_interview, data=_answer_form),
        "interview.pause": _conduct_post("/pause", setup=_start_interview),
        "interview.finish": _conduct_post("/finish", setup=_start_interview),
        "interview.rate": _conduct_post("/rate", data={"satisfaction": "4"}),
    }
)

for _area, _rows in collect_rows().items():
    for _endpoint, _entry in _rows.items():
        assert _endpoint not in TABLE, f"{_endpoint} is in the table twice ({_area})"
        TABLE[_endpoint] = _entry

IGNORED_ENDPOINTS = {"static"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}

# Names only B's pages show: they must never appear in a page that refuses B's object.
SECRET_STORYTELLER_NAME = "Bartholomew Hidden-Person"
SECRET_SESSION_NAME = "Bartholomew private evacuation story"


def _routes(entry: Route | list[Route]) -> list[Route]:
    return entry if isinstance(entry, list) else [entry]


def _cases() -> list[Any]:
    cases = []
    for endpoint, entry in TABLE.items():
        routes = _routes(entry)
        for route in routes:
            label = endpoint if len(routes) == 1 else f"{endpoint}[{route.method}]"
            ownerships = ("other", "own") if route.own is not None else ("no-object",)
            for ownership in ownerships:
                for role in ROLES:
                    cases.append(
                        pytest.param(
                            endpoint, route, role, ownership, id=f"{label}-{role}-{ownership}"
                        )
                    )
    return cases


@pytest.fixture
def scenario(make_user, make_storyteller, make_session, db_session) -> Scenario:
    coordinator = make_user("coordinator", name="Cora Coordinator")
    reviewer = make_user("reviewer", name="Rita Reviewer")
    admin = make_user("admin", name="Ada Admin")
    user_a = make_user("storyteller", name="Alice Owner")
    storyteller_a = make_storyteller(user=user_a, granted_to=(coordinator, reviewer))
    session_a = make_session(storyteller_a, session_name="Alice's school days")
    user_b = make_user("storyteller", name=SECRET_STORYTELLER_NAME)
    storyteller_b = user_b.storyteller_profile
    assert storyteller_b is not None
    session_b = make_session(storyteller_b, session_name=SECRET_SESSION_NAME)
    return Scenario(
        users={
            "storyteller": user_a,
            "coordinator": coordinator,
            "reviewer": reviewer,
            "admin": admin,
        },
        storyteller_a=storyteller_a,
        session_a=session_a,
        storyteller_b=storyteller_b,
        session_b=session_b,
        user_b=user_b,
        db=db_session,
    )


def test_every_route_is_in_the_table(app):
    in_app: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in IGNORED_ENDPOINTS:
            continue
        in_app.setdefault(rule.endpoint, set()).update((rule.methods or set()) - IGNORED_METHODS)
    in_table = {
        endpoint: {route.method for route in _routes(entry)} for endpoint, entry in TABLE.items()
    }
    missing = sorted(set(in_app) - set(in_table))
    stale = sorted(set(in_table) - set(in_app))
    assert not missing, f"routes without a row in the permission table: {missing}"
    assert not stale, f"rows for routes the app no longer has: {stale}"
    wrong_methods = {
        endpoint: {
            "accepted but without a row": sorted(in_app[endpoint] - in_table[endpoint]),
            "in the table but not accepted": sorted(in_table[endpoint] - in_app[endpoint]),
        }
        for endpoint in in_app
        if in_app[endpoint] != in_table[endpoint]
    }
    assert not wrong_methods, f"methods that differ between the app and the table: {wrong_methods}"


def test_every_row_names_every_role():
    for endpoint, entry in TABLE.items():
        for route in _routes(entry):
            for name, expected in (("other", route.other), ("own", route.own)):
                if expected is not None:
                    assert set(expected) == set(ROLES), (endpoint, route.method, name)


@pytest.mark.parametrize(("endpoint", "route", "role", "ownership"), _cases())
def test_permission(client, scenario, endpoint, route, role, ownership):
    if role != "anonymous":
        response = sign_in(client, scenario.users[role])
        assert response.status_code == 303, "could not sign in"
    if route.setup is not None:
        route.setup(scenario, ownership)
    data = route.data(scenario) if callable(route.data) else route.data
    expected_table = route.own if ownership == "own" else route.other
    assert expected_table is not None
    expected = expected_table[role]
    response = client.open(
        route.url(scenario, ownership),
        method=route.method,
        data=data,
        headers=route.headers,
    )
    status, location = expected if isinstance(expected, tuple) else (expected, None)
    body = response.get_data(as_text=True)
    assert response.status_code == status, (
        f"{route.method} {endpoint} as {role} ({ownership}): "
        f"got {response.status_code}, expected {status}\n{body[:300]}"
    )
    if location is not None:
        assert urlsplit(response.headers["Location"]).path == location
    if status >= 400:
        # A refusal says nothing about what was refused.
        assert SECRET_STORYTELLER_NAME not in body
        assert SECRET_SESSION_NAME not in body
        assert str(scenario.storyteller_b.id) not in body
        assert str(scenario.session_b.id) not in body
    if status == 200 and ownership == "own" and role != "admin":
        assert SECRET_STORYTELLER_NAME not in body


def test_an_unknown_object_is_not_found_even_for_the_admin(client, scenario):
    sign_in(client, scenario.users["admin"])
    for url in (f"/storytellers/{uuid.uuid4()}", f"/sessions/{uuid.uuid4()}"):
        assert client.get(url).status_code == 404, url


def test_home_pages_list_only_visible_storytellers(client, scenario):
    for role in ("storyteller", "coordinator", "reviewer"):
        sign_in(client, scenario.users[role])
        body = client.get("/").get_data(as_text=True)
        assert SECRET_STORYTELLER_NAME not in body, role
        assert SECRET_SESSION_NAME not in body, role
        assert str(scenario.session_b.id) not in body, role
        client.post("/sign-out")


def _without_tokens(body: str) -> str:
    return re.sub(r"[A-Za-z0-9_.-]{40,}", "TOKEN", body)


def test_a_hidden_object_looks_exactly_like_a_missing_one(client, scenario):
    """Nobody can tell from a response whether an object they may not see exists."""
    pairs = [
        (f"/storytellers/{scenario.storyteller_b.id}", f"/storytellers/{uuid.uuid4()}"),
        (f"/sessions/{scenario.session_b.id}", f"/sessions/{uuid.uuid4()}"),
    ]
    for hidden, missing in pairs:
        seen_hidden, seen_missing = client.get(hidden), client.get(missing)
        assert seen_hidden.status_code == seen_missing.status_code == 302
        assert seen_hidden.headers["Location"].replace(hidden.split("/")[-1], "ID") == (
            seen_missing.headers["Location"].replace(missing.split("/")[-1], "ID")
        )
    for role in ("storyteller", "coordinator", "reviewer"):
        sign_in(client, scenario.users[role])
        for hidden, missing in pairs:
            seen_hidden, seen_missing = client.get(hidden), client.get(missing)
            assert seen_hidden.status_code == seen_missing.status_code == 404, (role, hidden)
            assert _without_tokens(seen_hidden.get_data(as_text=True)) == _without_tokens(
                seen_missing.get_data(as_text=True)
            ), (role, hidden)
        client.post("/sign-out")
