"""Is this app server ready for traffic: the database answers and its schema is at the head.

A load balancer asks ``/readyz`` (storyteller/views/operations.py) before sending requests
here; ``/healthz`` only says the process is up and never touches the database.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as DbSession

__all__ = ["Readiness", "check_readiness", "migration_heads"]


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str | None = None
    database_revisions: tuple[str, ...] = ()
    head_revisions: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"status": "ready" if self.ready else "not ready"}
        if self.reason:
            body["reason"] = self.reason
        body["database_revision"] = list(self.database_revisions)
        body["head_revision"] = list(self.head_revisions)
        return body


@functools.lru_cache(maxsize=8)
def migration_heads(directory: str) -> tuple[str, ...]:
    """The head revision(s) of the Alembic scripts in ``directory`` (read once per process)."""
    config = Config(str(Path(directory) / "alembic.ini"))
    config.set_main_option("script_location", directory)
    return tuple(sorted(ScriptDirectory.from_config(config).get_heads()))


def check_readiness(db: DbSession, migrations_directory: str) -> Readiness:
    """``SELECT 1`` on the database, then its Alembic revision against the scripts' head.

    Reads only, and ends the session's transaction afterwards. The reason never carries
    connection details: only the kind of failure.
    """
    heads = migration_heads(migrations_directory)
    try:
        db.execute(text("SELECT 1"))
        current = tuple(sorted(MigrationContext.configure(db.connection()).get_current_heads()))
    except SQLAlchemyError as exc:
        db.rollback()
        return Readiness(
            False, f"database unreachable ({type(exc).__name__})", head_revisions=heads
        )
    db.rollback()
    if not current:
        return Readiness(
            False,
            "no migrations applied to the database: run `flask db upgrade`",
            head_revisions=heads,
        )
    if current != heads:
        return Readiness(
            False,
            "database is not at the latest migration: run `flask db upgrade`",
            database_revisions=current,
            head_revisions=heads,
        )
    return Readiness(True, database_revisions=current, head_revisions=heads)
