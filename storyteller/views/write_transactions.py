"""A view's write in a transaction of its own that takes turns with other writers on SQLite.

PostgreSQL waits on row locks by itself. SQLite in WAL mode refuses at once ("database is
locked") a transaction that read, then writes after another writer committed; so the write
runs in a fresh transaction that takes the write lock first (``database.begin_write``) and,
should SQLite still refuse, starts again a few times before giving up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

from storyteller import database
from storyteller.extensions import db

T = TypeVar("T")
SQLITE_ATTEMPTS = 5


def committed(work: Callable[[], T], *, domain_errors: tuple[type[Exception], ...] = ()) -> T:
    """Run ``work`` in a transaction of its own and commit; ``domain_errors`` roll back and rise.

    The transaction of the request so far (permission checks: reads) is committed first.
    """
    db.session.commit()
    for attempt in range(SQLITE_ATTEMPTS):
        try:
            database.begin_write(db.session)
            result = work()
            db.session.commit()
            return result
        except domain_errors:
            db.session.rollback()
            raise
        except OperationalError:
            db.session.rollback()
            if db.engine.dialect.name != "sqlite" or attempt == SQLITE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")
