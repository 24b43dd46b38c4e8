"""The Alembic history in migrations/: it builds the whole schema from empty and takes it away.

Every database test runs on SQLite (a temp file) and on PostgreSQL (a fresh database made
and dropped here). They check that `upgrade` creates exactly the tables of Base.metadata and
the same schema as `Base.metadata.create_all`, that autogenerate sees no drift afterwards (a
model change without its migration fails here), that `downgrade base` leaves nothing, that
the history has one head, and that revision files never import the app.
"""

from __future__ import annotations

import ast
import re
import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ClauseElement

from storyteller import create_app
from storyteller.extensions import db
from storyteller.models import Base, LoginSession, Storyteller, User
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.conftest import test_config as app_config  # not test_*: pytest would collect it

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"
# The options migrations/env.py gives context.configure (its render_item only shapes files).
COMPARE_OPTIONS = {"compare_type": True, "render_as_batch": True}

DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def script_directory(directory: Path = MIGRATIONS) -> ScriptDirectory:
    config = Config(str(directory / "alembic.ini"))
    config.set_main_option("script_location", str(directory))
    return ScriptDirectory.from_config(config)


def head_revision() -> str:
    heads = script_directory().get_heads()
    assert len(heads) == 1, heads
    return heads[0]


@pytest.fixture
def new_database(tmp_path: Path) -> Iterator[Callable[[str, str], str]]:
    """Make an empty database of a dialect; PostgreSQL ones are dropped after the test."""
    made: list[str] = []

    def make(dialect: str, name: str = "migrated") -> str:
        if dialect == "sqlite":
            return f"sqlite:///{tmp_path / f'{name}.db'}"
        url = create_postgres_database("storyteller_migrations")
        made.append(url)
        return url

    yield make
    for url in made:
        drop_postgres_database(url)


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return request.param


def _make_app(url: str, instance_path: Path) -> Flask:
    return create_app(app_config(url, str(instance_path)))


def _dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def migration_app(dialect: str, new_database, tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty database, its engine disposed (before any drop) at the end."""
    app = _make_app(new_database(dialect), tmp_path / "instance")
    yield app
    _dispose(app)


def table_names() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def current_revision() -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_snapshot(engine: Engine) -> dict[str, dict[str, Any]]:
    """Everything the database reports about our tables, in a comparable form."""
    insp = inspect(engine)

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return sorted((key, plain(item)) for key, item in value.items())
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        if isinstance(value, ClauseElement):  # e.g. a partial index's sqlite_where
            return str(value)
        return value

    def ordered(items: list[dict[str, Any]]) -> list[str]:
        return sorted(repr(plain(item)) for item in items)

    snapshot: dict[str, dict[str, Any]] = {}
    for table in sorted(set(insp.get_table_names()) - {VERSION_TABLE}):
        snapshot[table] = {
            # Sorted by name: a column added by a later migration sits at the end of the
            # table, wherever the model declares it, and the order means nothing.
            "columns": sorted(
                (c["name"], c["type"].compile(engine.dialect), c["nullable"], c.get("default"))
                for c in insp.get_columns(table)
            ),
            "primary_key": insp.get_pk_constraint(table),
            "foreign_keys": ordered(insp.get_foreign_keys(table)),
            "indexes": ordered(insp.get_indexes(table)),
            "unique_constraints": ordered(insp.get_unique_constraints(table)),
            "check_constraints": ordered(insp.get_check_constraints(table)),
        }
    return snapshot


# --- the history itself -------------------------------------------------------------------


def test_history_has_one_head_and_one_base() -> None:
    script = script_directory()
    assert len(script.get_heads()) == 1, f"merge the heads: {script.get_heads()}"
    assert len(script.get_bases()) == 1, f"more than one root revision: {script.get_bases()}"


def test_revision_files_are_dated_and_import_nothing_from_the_app() -> None:
    files = sorted((MIGRATIONS / "versions").glob("*.py"))
    assert files
    for path in files:
        assert re.fullmatch(r"\d{4}_\d{2}_\d{2}_\d{4}-\w+\.py", path.name), path.name
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        app_imports = sorted(name for name in imported if name.split(".")[0] == "storyteller")
        assert not app_imports, f"{path.name} imports {app_imports}: write plain SQLAlchemy"


# --- upgrade and downgrade, on SQLite and PostgreSQL ----------------------------------------


def test_upgrade_from_empty_creates_every_table(migration_app: Flask) -> None:
    with migration_app.app_context():
        assert table_names() == set()
        upgrade()
        assert table_names() == set(Base.metadata.tables) | {VERSION_TABLE}
        assert current_revision() == head_revision()


def test_downgrade_to_base_removes_every_table(migration_app: Flask) -> None:
    with migration_app.app_context():
        upgrade()
        downgrade(revision="base")
        assert table_names() <= {VERSION_TABLE}
        assert current_revision() is None
        upgrade()  # and nothing left behind stands in the way of the next upgrade
        assert table_names() == set(Base.metadata.tables) | {VERSION_TABLE}


def test_no_drift_between_migrations_and_models(migration_app: Flask) -> None:
    with migration_app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={**COMPARE_OPTIONS, "target_metadata": Base.metadata}
            )
            diff = compare_metadata(context, Base.metadata)
        assert diff == [], "models changed without a migration: run `flask db migrate -m ...`"
    # The same comparison through migrations/env.py itself.
    result = migration_app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_migrated_schema_equals_create_all(migration_app: Flask, dialect: str, new_database):
    """Columns, types, keys, ON DELETE, indexes (partial ones too) and CHECKs, as reflected."""
    engine = create_engine(new_database(dialect, "create_all"))
    try:
        Base.metadata.create_all(engine)
        expected = schema_snapshot(engine)
    finally:
        engine.dispose()
    with migration_app.app_context():
        upgrade()
        actual = schema_snapshot(db.engine)
    assert sorted(actual) == sorted(expected)
    for table in expected:
        assert actual[table] == expected[table], table


def test_flask_db_upgrade_and_downgrade_on_the_command_line(migration_app: Flask) -> None:
    runner = migration_app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with migration_app.app_context():
        assert table_names() == set(Base.metadata.tables) | {VERSION_TABLE}
    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    with migration_app.app_context():
        assert table_names() <= {VERSION_TABLE}


# --- env.py's handling of transactions and SQLite foreign keys -------------------------------


def _history_with(tmp_path: Path, revision: str, body: str) -> Path:
    """A copy of migrations/ with one more revision on top of the head."""
    directory = tmp_path / "migrations_copy"
    shutil.copytree(MIGRATIONS, directory, ignore=shutil.ignore_patterns("__pycache__"))
    source = f'''
        import sqlalchemy as sa
        from alembic import op

        revision = "{revision}"
        down_revision = "{head_revision()}"
        branch_labels = None
        depends_on = None

    '''
    path = directory / "versions" / f"2999_01_01_0000-{revision}_test.py"
    path.write_text(textwrap.dedent(source) + textwrap.dedent(body))
    return directory


def test_failed_upgrade_leaves_the_database_as_it_was(migration_app: Flask, tmp_path: Path):
    directory = _history_with(
        tmp_path,
        "failing_revision",
        """
        def upgrade():
            op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
            op.add_column("user", sa.Column("half_done", sa.Integer()))
            raise RuntimeError("this migration fails half way")


        def downgrade():
            pass
        """,
    )
    with migration_app.app_context():
        upgrade()
        with pytest.raises(SystemExit):  # Flask-Migrate logs the error and exits 1
            upgrade(directory=str(directory))
        assert "half_done" not in table_names()
        assert "half_done" not in {c["name"] for c in inspect(db.engine).get_columns("user")}
        assert current_revision() == head_revision()


def test_sqlite_table_rebuild_keeps_rows_and_schema(tmp_path: Path) -> None:
    """Batch mode copies a table and drops the old one: no ON DELETE may fire meanwhile, and
    the rebuilt tables keep their CHECKs, foreign keys and partial unique indexes."""
    rebuilt = ("user", "agent_version", "session")
    directory = _history_with(
        tmp_path,
        "rebuild_tables",
        f"""
        def upgrade():
            for table in {rebuilt!r}:
                with op.batch_alter_table(table, recreate="always") as batch_op:
                    batch_op.add_column(sa.Column("nickname", sa.String(50)))


        def downgrade():
            for table in {rebuilt!r}:
                with op.batch_alter_table(table, recreate="always") as batch_op:
                    batch_op.drop_column("nickname")
        """,
    )
    app = _make_app(f"sqlite:///{tmp_path / 'rebuild.db'}", tmp_path / "instance")
    try:
        with app.app_context():
            upgrade()
            schema = schema_snapshot(db.engine)
            user = User(email="a@example.org", name="A", password_hash="x", role="storyteller")
            db.session.add(user)
            db.session.flush()
            db.session.add(Storyteller(display_name="A", user_id=user.id))
            db.session.add(LoginSession(token_hash="t" * 64, user_id=user.id))
            db.session.commit()
            user_id = user.id
            db.session.remove()

            def rows_and_foreign_keys_intact() -> None:
                assert db.session.scalars(select(Storyteller.user_id)).all() == [user_id]
                assert db.session.scalars(select(LoginSession.user_id)).all() == [user_id]
                db.session.remove()
                with db.engine.connect() as conn:  # foreign keys are back on for the app
                    assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1

            upgrade(directory=str(directory))
            rows_and_foreign_keys_intact()
            for table in rebuilt:
                assert "nickname" in {c["name"] for c in inspect(db.engine).get_columns(table)}

            downgrade(directory=str(directory), revision=head_revision())
            rows_and_foreign_keys_intact()
            assert schema_snapshot(db.engine) == schema
    finally:
        _dispose(app)
