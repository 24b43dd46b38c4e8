"""`flask seed-demo`: idempotent, refuses on real data, every demo account signs in."""

from __future__ import annotations

from sqlalchemy import func, select

from storyteller import demo
from storyteller.models import (
    LifeEvent,
    ProcessVersion,
    Session,
    SessionTemplate,
    Storyteller,
    StorytellerAccess,
    User,
)
from tests.conftest import sign_in

COUNTED = (
    User,
    Storyteller,
    StorytellerAccess,
    LifeEvent,
    ProcessVersion,
    SessionTemplate,
    Session,
)


def _counts(db_session) -> dict[str, int]:
    return {m.__name__: db_session.scalar(select(func.count()).select_from(m)) for m in COUNTED}


def test_seed_demo_creates_everything_once(runner, db_session):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    for account in demo.DEMO_ACCOUNTS:
        assert account.email in result.output
        assert account.password in result.output
    first = _counts(db_session)
    assert first["User"] == 4
    assert first["LifeEvent"] >= 3
    assert first["SessionTemplate"] >= 9
    assert db_session.scalar(select(func.count()).where(ProcessVersion.is_active)) == 1
    assert db_session.scalar(select(func.count()).where(Session.status == "scheduled")) >= 1

    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0, again.output
    db_session.expire_all()
    assert _counts(db_session) == first


def test_seed_demo_refuses_when_real_users_exist(runner, make_user, db_session):
    make_user("admin", email="real.person@example.org")
    db_session.commit()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "real (non-demo) users" in result.output
    assert db_session.scalar(select(func.count()).select_from(User)) == 1


def test_every_demo_account_signs_in_to_its_home(app, runner, db_session):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    headings = {
        "storyteller": "Your sessions",
        "coordinator": "Your storytellers",
        "reviewer": "Review queue",
        "admin": "System overview",
    }
    for account in demo.DEMO_ACCOUNTS:
        client = app.test_client()
        user = db_session.scalar(select(User).where(User.email == account.email))
        assert sign_in(client, user, account.password).status_code == 303
        page = client.get("/").get_data(as_text=True)
        assert headings[account.role] in page
    coordinator_page = _home(app, db_session, "coordinator")
    assert "Margaret Ellis" in coordinator_page
    reviewer_page = _home(app, db_session, "reviewer")
    assert "Shelling peas on the back porch" in reviewer_page
    storyteller_page = _home(app, db_session, "storyteller")
    assert "Childhood in Boston exploration" in storyteller_page


def _home(app, db_session, role: str) -> str:
    account = next(a for a in demo.DEMO_ACCOUNTS if a.role == role)
    user = db_session.scalar(select(User).where(User.email == account.email))
    client = app.test_client()
    sign_in(client, user, account.password)
    return client.get("/").get_data(as_text=True)
