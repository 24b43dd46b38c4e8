"""`flask user create EMAIL --role ROLE --name NAME`, the password read from standard input."""

from __future__ import annotations

import contextvars

import pytest
from sqlalchemy import func, select

from storyteller.models import Storyteller, User

GOOD_PASSWORD = "password123"


def invoke(runner, args: list[str], input: str):
    """Run a command in its own app context and database session, as `flask` would.

    Without the fresh context the command would share the test's session, and its
    rollback on error would also undo the test's own setup.
    """
    return contextvars.Context().run(runner.invoke, args=args, input=input)


def create(runner, email: str, role: str, name: str = "Test Person", password=GOOD_PASSWORD):
    return invoke(
        runner, ["user", "create", email, "--role", role, "--name", name], f"{password}\n"
    )


def users_with(db_session, email: str) -> list[User]:
    return list(db_session.scalars(select(User).where(User.email == email)))


@pytest.mark.parametrize("role", ["storyteller", "coordinator", "reviewer", "admin"])
def test_creates_a_user_who_can_sign_in(runner, client, db_session, role):
    email = f"new-{role}@example.org"
    result = create(runner, email, role, name="Nora New")
    assert result.exit_code == 0, result.output
    assert email in result.output
    assert GOOD_PASSWORD not in result.output
    [user] = users_with(db_session, email)
    assert user.role == role
    assert user.name == "Nora New"
    assert user.password_hash != GOOD_PASSWORD
    response = client.post("/sign-in", data={"email": email, "password": GOOD_PASSWORD})
    assert response.status_code == 303
    assert client.get("/").status_code == 200


def test_a_storyteller_gets_a_storyteller_profile(runner, db_session):
    assert create(runner, "teller@example.org", "storyteller", name="Tess Teller").exit_code == 0
    [user] = users_with(db_session, "teller@example.org")
    profile = db_session.scalar(select(Storyteller).where(Storyteller.user_id == user.id))
    assert profile is not None
    assert profile.display_name == "Tess Teller"


def test_staff_get_no_storyteller_profile(runner, db_session):
    assert create(runner, "staff@example.org", "coordinator").exit_code == 0
    [user] = users_with(db_session, "staff@example.org")
    assert db_session.scalar(select(Storyteller).where(Storyteller.user_id == user.id)) is None


def test_the_email_is_normalised(runner, client, db_session):
    assert create(runner, "  Mixed.Case@Example.ORG ", "reviewer").exit_code == 0
    assert len(users_with(db_session, "mixed.case@example.org")) == 1
    response = client.post(
        "/sign-in", data={"email": "mixed.case@example.org", "password": GOOD_PASSWORD}
    )
    assert response.status_code == 303


def test_a_bad_role_is_refused(runner, db_session):
    result = create(runner, "boss@example.org", "superuser")
    assert result.exit_code != 0
    assert "superuser" in result.output
    assert "--role" in result.output
    assert users_with(db_session, "boss@example.org") == []


def test_the_role_is_required(runner, db_session):
    result = invoke(runner, ["user", "create", "norole@example.org", "--name", "N"], "pass1234\n")
    assert result.exit_code != 0
    assert "--role" in result.output
    assert users_with(db_session, "norole@example.org") == []


@pytest.mark.parametrize("password", ["short", ""])
def test_a_short_password_is_refused_and_nothing_is_created(runner, db_session, password):
    before = db_session.scalar(select(func.count(User.id)))
    before_profiles = db_session.scalar(select(func.count(Storyteller.id)))
    result = create(runner, "weak@example.org", "storyteller", password=password)
    assert result.exit_code == 1
    assert "at least 8 characters" in result.output
    assert "Traceback" not in result.output
    assert db_session.scalar(select(func.count(User.id))) == before
    assert db_session.scalar(select(func.count(Storyteller.id))) == before_profiles


def test_a_duplicate_email_is_refused(runner, make_user, db_session):
    existing = make_user("reviewer", email="taken@example.org")
    result = create(runner, "Taken@example.org", "admin")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert "Traceback" not in result.output
    [user] = users_with(db_session, "taken@example.org")
    assert user.id == existing.id
    assert user.role == "reviewer"
