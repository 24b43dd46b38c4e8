"""Alembic environment for Flask-Migrate: `flask db upgrade`, `flask db migrate -m "..."`.

The target is storyteller.models.base.Base.metadata (every model module is imported by
storyteller.models). Revision files must never import the app: render_item below writes the
app's column types out as plain SQLAlchemy types, so old migrations keep working when the
models change later.
"""

from __future__ import annotations

import logging
from logging.config import fileConfig
from typing import Any

import sqlalchemy as sa
from alembic import context
from flask import current_app
from sqlalchemy.dialects import postgresql

import storyteller.models  # noqa: F401 - registers every table on Base.metadata

config = context.config

# `flask db ...` on the command line: log as alembic.ini says. Inside a process whose logging
# is already set up (the test suite, an app that configured logging) leave logging alone.
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db


def get_engine() -> sa.Engine:
    return target_db.engine


def get_metadata() -> sa.MetaData:
    return target_db.metadata


config.set_main_option(
    "sqlalchemy.url",
    get_engine().url.render_as_string(hide_password=False).replace("%", "%%"),
)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render the app's column types as plain SQLAlchemy, so revisions import nothing of ours.

    - storyteller.models.base.UtcDateTime (and any TypeDecorator over a core type) -> its impl,
      e.g. sa.DateTime(timezone=True);
    - JsonType, JSON with a JSONB variant on PostgreSQL -> sa.JSON().with_variant(...).
    Everything else: Alembic's default rendering (return False).
    """
    if type_ != "type":
        return False
    if isinstance(obj, sa.types.TypeDecorator):
        impl = obj.impl_instance
        if type(impl).__module__.startswith("sqlalchemy.sql."):
            return f"sa.{impl!r}"
        raise TypeError(
            f"Don't know how to render {type(obj).__name__} (impl {impl!r}) in a migration; "
            "add a case to render_item in migrations/env.py"
        )
    if isinstance(obj, sa.JSON) and obj._variant_mapping:  # noqa: SLF001 - Alembic reads it too
        variants = dict(obj._variant_mapping)  # noqa: SLF001
        if set(variants) == {"postgresql"} and isinstance(variants["postgresql"], postgresql.JSONB):
            autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
            return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


def configure_args() -> dict[str, Any]:
    """Options for context.configure; tests/test_migrations.py compares with the same ones."""
    args: dict[str, Any] = dict(current_app.extensions["migrate"].configure_args)
    args.update(
        target_metadata=get_metadata(),
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table there and emits
        # plain ALTERs on PostgreSQL. Rendered on every database, because each revision
        # must run on both, whichever one it was generated against.
        render_as_batch=True,
        render_item=render_item,
    )
    return args


def run_migrations_offline() -> None:
    """`flask db upgrade --sql`: write the SQL out instead of running it."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, literal_binds=True, **configure_args())
    with context.begin_transaction():
        context.run_migrations()


def _skip_empty_autogenerate(_context: Any, _revision: Any, directives: list[Any]) -> None:
    """`flask db migrate` with no schema change writes no empty revision file."""
    if getattr(config.cmd_opts, "autogenerate", False):
        script = directives[0]
        if script.upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")


def _set_sqlite_foreign_keys(connection: sa.Connection, on: bool) -> None:
    # PRAGMA foreign_keys is a no-op inside a transaction, and SQLAlchemy would open one on
    # the first execute: send it straight through the driver connection (autocommit).
    if connection.in_transaction():
        connection.rollback()  # alembic has committed the migrations; nothing else is pending
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
        state = cursor.execute("PRAGMA foreign_keys").fetchone()[0]
    finally:
        cursor.close()
    if state != int(on):
        connection.invalidate()  # never hand this connection back to the app's pool
        raise RuntimeError(f"could not set PRAGMA foreign_keys={on} on SQLite")


def run_migrations_online() -> None:
    args = configure_args()
    args.setdefault("process_revision_directives", _skip_empty_autogenerate)

    with get_engine().connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # The app turns foreign keys on for every SQLite connection. During a migration
            # that would make batch mode's "copy table, drop old, rename" fire ON DELETE
            # CASCADE/SET NULL into other tables when the old table is dropped. Turn them
            # off, check them before commit, and turn them back on for the pool.
            _set_sqlite_foreign_keys(connection, on=False)
            # storyteller.database makes every SQLite connection emit a real BEGIN, so DDL is
            # transactional there too: a failed upgrade leaves the database as it was.
            args["transactional_ddl"] = True
        try:
            context.configure(connection=connection, **args)
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if problems:
                        raise RuntimeError(f"foreign key violations after migration: {problems}")
        finally:
            if sqlite:
                _set_sqlite_foreign_keys(connection, on=True)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
