"""Engine settings (SQLite with foreign keys, WAL, synchronous=FULL and a busy timeout), how
a write transaction takes the SQLite write lock up front, and ``one_of`` (column IN values,
sent as one array on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from flask import Flask
from sqlalchemy import any_, bindparam, event, or_, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session as DbSession

from storyteller.extensions import db

SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so that
    # SAVEPOINTs and the pragmas above behave as documented.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def begin_write(db_session: DbSession) -> None:
    """Start a write transaction now (SQLite; PostgreSQL locks rows as it goes: no-op there).

    In WAL mode a SQLite transaction that read first and writes later fails at once with
    "database is locked" when another writer committed in between (its snapshot is stale;
    the busy timeout does not help). A write that changes nothing, as the first statement,
    takes the write lock up front (waiting up to the busy timeout), so what the transaction
    then reads stays current: BEGIN IMMEDIATE. Call it at the start of a transaction (after a
    commit or rollback).
    """
    if db_session.get_bind().dialect.name == "sqlite":
        db_session.execute(text("UPDATE storyteller SET id = id WHERE id IS NULL"))


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite" or event.contains(engine, "connect", _on_sqlite_connect):
        return
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)


def init_app(app: Flask) -> None:
    with app.app_context():
        configure_engine(db.engine)


def one_of(db_session: DbSession, column: Any, values: Collection[Any]) -> Any:
    """``column IN values`` (None among them matches NULL). On PostgreSQL the values go as one
    array parameter (``= ANY(:values)``): a thousand ids as a thousand parameters cost more to
    send and parse than the lookup itself."""
    present = [value for value in values if value is not None]
    if db_session.get_bind().dialect.name == "postgresql":
        array = postgresql.ARRAY(column.type)
        matches = column == any_(bindparam(None, present, type_=array))
    else:
        matches = column.in_(present)
    return or_(matches, column.is_(None)) if None in values else matches
