"""Sign-in, sign-out, server-side session ending, rate limits, password changes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from storyteller import accounts
from storyteller.models import LoginAttempt, LoginSession, utcnow
from tests.conftest import PASSWORD, sign_in


def test_sign_in_lands_on_home_and_sign_out_ends_the_server_session(client, make_user, login):
    user = make_user("coordinator")
    response = login(user)
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "Your storytellers" in page.get_data(as_text=True)

    copied_cookie = client.get_cookie("session").value
    out = client.post("/sign-out")
    assert out.status_code == 303
    assert client.get("/").status_code == 302

    # A cookie copied before sign-out no longer works.
    client.set_cookie("session", copied_cookie)
    assert client.get("/").status_code == 302


def test_session_id_changes_at_sign_in(client, make_user, db_session):
    user = make_user("reviewer")
    sign_in(client, user)
    first = client.get_cookie("session").value
    client.post("/sign-out")
    sign_in(client, user)
    second = client.get_cookie("session").value
    assert first != second
    tokens = db_session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)).all()
    assert len(tokens) == 2
    assert sum(1 for t in tokens if t.revoked_at is None) == 1


def test_wrong_password_shows_a_message(client, make_user):
    user = make_user("reviewer")
    response = sign_in(client, user, "wrong password")
    assert response.status_code == 401
    assert "do not match" in response.get_data(as_text=True)


def test_password_change_ends_older_sign_ins(app, client, make_user, db_session):
    user = make_user("storyteller")
    sign_in(client, user)
    other = app.test_client()
    sign_in(other, user)
    assert other.get("/").status_code == 200
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a brand new secret",
            "confirm_password": "a brand new secret",
        },
    )
    assert response.status_code == 303
    assert client.get("/").status_code == 200  # the device that changed it stays signed in
    assert other.get("/").status_code == 302  # the other one is signed out


def test_deactivation_ends_sign_ins(client, make_user, db_session):
    user = make_user("coordinator")
    sign_in(client, user)
    assert client.get("/").status_code == 200
    accounts.deactivate(db_session, user)
    db_session.commit()
    assert client.get("/").status_code == 302
    assert sign_in(client, user).status_code == 401


def test_failed_sign_ins_are_rate_limited_per_account_then_allowed_again(
    app, client, make_user, db_session
):
    user = make_user("admin")
    limit = app.config["LOGIN_RATE_LIMIT_ATTEMPTS"]
    for _ in range(limit):
        assert sign_in(client, user, "nope nope nope").status_code == 401
    blocked = sign_in(client, user)
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in blocked.get_data(as_text=True)
    # After the window has passed, the right password works again.
    window = app.config["LOGIN_RATE_LIMIT_WINDOW_SECONDS"]
    db_session.execute(
        update(LoginAttempt)
        .where(LoginAttempt.email == user.email)
        .values(created_at=utcnow() - timedelta(seconds=window + 1))
    )
    db_session.commit()
    assert sign_in(client, user).status_code == 303


def test_failed_sign_ins_are_rate_limited_per_address(app, client, make_user, db_session):
    per_address = app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"]
    for i in range(per_address):
        sign_in(client, make_user("reviewer", email=f"r{i}@example.org"), "wrong wrong")
    fresh = make_user("reviewer")
    assert sign_in(client, fresh).status_code == 429
    count = db_session.scalar(select(func.count(LoginAttempt.id)))
    assert count >= per_address


def test_next_parameter_only_allows_local_paths(client, make_user):
    user = make_user("reviewer")
    response = client.post(
        "/sign-in?next=https://evil.example/",
        data={"email": user.email, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/"
