"""Shared fixtures: one app per database, tables made once, a rollback per test, factories.

The database-touching tests run on SQLite and again on PostgreSQL. PostgreSQL comes from
TEST_DATABASE_URL (default: the local server at 127.0.0.1:5432 as user postgres); each
run creates its own database and drops it at the end. When no server is reachable those
tests are skipped with the reason shown, unless STORYTELLER_REQUIRE_POSTGRES is set (CI),
in which case they fail.
"""

from __future__ import annotations

import contextvars
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session as DbSession

from storyteller import accounts, create_app
from storyteller.extensions import db
from storyteller.models import Session, Storyteller, StorytellerAccess, User

# Fixtures for races between several signed-in tabs, each test on a database of its own.
pytest_plugins = ("tests.concurrent_tabs",)

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "correct horse battery"
accounts.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast hashes in tests; scrypt in the app


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    Without this, requests would reuse the test's app context and share `g` (and so the
    signed-in user cached by Flask-Login) and the test's database session.
    """

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        return contextvars.Context().run(super().open, *args, **kwargs)


def _truthy(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def postgres_server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _admin_engine():
    return create_engine(postgres_server_url(), isolation_level="AUTOCOMMIT")


def create_postgres_database(prefix: str = "storyteller_test") -> str:
    """Create a fresh PostgreSQL database and return its URL; skip or fail when unreachable."""
    engine = _admin_engine()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        engine.dispose()
        reason = f"PostgreSQL not reachable at {make_url(postgres_server_url())!r}: {exc}"
        if _truthy("STORYTELLER_REQUIRE_POSTGRES") or _truthy("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    engine.dispose()
    return make_url(postgres_server_url()).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def test_config(database_url: str, instance_path: str, **extra: Any) -> dict[str, Any]:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": instance_path,
        "WTF_CSRF_ENABLED": False,
        "OPENAI_API_KEY": None,
        "OPENAI_BASE_URL": None,
        "SERVER_NAME": None,
        "STORYTELLER_TASKS_IMMEDIATE": True,
    }
    config.update(extra)
    return config


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        return
    url = create_postgres_database()
    yield url
    drop_postgres_database(url)


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory) -> Iterator[Flask]:
    app = create_app(test_config(database_url, str(tmp_path_factory.mktemp("instance"))))
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
    db.session.session_factory.configure(join_transaction_mode="create_savepoint")
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def db_session(app: Flask) -> Iterator[DbSession]:
    """The app's db.session on one connection whose transaction is rolled back after the test."""
    with app.app_context():
        engines = db._app_engines[app]  # noqa: SLF001 - the documented way to join a transaction
        engine = engines[None]
        connection = engine.connect()
        transaction = connection.begin()
        engines[None] = connection  # type: ignore[assignment]
        try:
            yield db.session
        finally:
            db.session.remove()
            engines[None] = engine
            if transaction.is_active:
                transaction.rollback()
            connection.close()


@pytest.fixture
def client(app: Flask, db_session: DbSession) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask, db_session: DbSession):
    return app.test_cli_runner()


@pytest.fixture
def make_user(db_session: DbSession) -> Callable[..., User]:
    def make(
        role: str = "storyteller",
        email: str | None = None,
        password: str = PASSWORD,
        name: str | None = None,
        consent: bool = True,
    ) -> User:
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.org"
        user = accounts.create_user(
            db_session,
            email=email,
            name=name or f"{role.title()} Person",
            role=role,
            password=password,
        )
        if role == "storyteller":
            profile = Storyteller(display_name=user.name, user_id=user.id)
            db_session.add(profile)
            db_session.flush()
            if consent:
                from storyteller.consent import record_consent

                record_consent(
                    db_session, profile, scope=["interview", "llm_processing"], recorded_by_id=None
                )
        return user

    return make


@pytest.fixture
def make_storyteller(db_session: DbSession) -> Callable[..., Storyteller]:
    def make(
        user: User | None = None,
        display_name: str | None = None,
        granted_to: tuple[User, ...] | list[User] = (),
        consent: bool = True,
        **fields: Any,
    ) -> Storyteller:
        """A storyteller; ``consent=True`` (the default) records their consent to be interviewed."""
        if user is not None and user.storyteller_profile is not None:
            storyteller = user.storyteller_profile
        else:
            storyteller = Storyteller(
                display_name=display_name or f"Storyteller {uuid.uuid4().hex[:6]}",
                user_id=user.id if user else None,
                **fields,
            )
            db_session.add(storyteller)
            db_session.flush()
            if consent:
                from storyteller.consent import record_consent

                record_consent(
                    db_session,
                    storyteller,
                    scope=["interview", "llm_processing"],
                    recorded_by_id=None,
                )
        for grantee in granted_to:
            db_session.add(
                StorytellerAccess(
                    storyteller_id=storyteller.id,
                    user_id=grantee.id,
                    access_level="reviewer" if grantee.role == "reviewer" else "coordinator",
                )
            )
        db_session.flush()
        return storyteller

    return make


@pytest.fixture
def make_session(db_session: DbSession) -> Callable[..., Session]:
    def make(storyteller: Storyteller, **fields: Any) -> Session:
        fields.setdefault("intention", "Capture three childhood scenes with who, where and when")
        fields.setdefault("session_name", "Childhood memories")
        session = Session(storyteller_id=storyteller.id, **fields)
        db_session.add(session)
        db_session.flush()
        return session

    return make


def sign_in(client: FlaskClient, user: User, password: str = PASSWORD):
    return client.post("/sign-in", data={"email": user.email, "password": password})


@pytest.fixture
def login(client: FlaskClient) -> Callable[..., Any]:
    def do(user: User, password: str = PASSWORD):
        response = sign_in(client, user, password)
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        return response

    return do


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """In CI no test may be skipped silently: a skip there is a failure, with its reason."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and _truthy("CI"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"Skipped in CI, which is not allowed: {reason}"
