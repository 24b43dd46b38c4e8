"""Reading the audit trail: filter by who, whose data, what was done, to what, and when."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from storyteller.day_input import parse_day
from storyteller.models import AuditLog, Storyteller, User

PAGE_SIZE = 50
MAX_TEXT = 50


class BadFilter(ValueError):
    """A filter the log cannot apply; the message says why, in plain words."""


@dataclass(frozen=True)
class AuditFilter:
    actor_id: uuid.UUID | None = None
    storyteller_id: uuid.UUID | None = None
    action: str | None = None
    object_type: str | None = None
    start: date | None = None
    end: date | None = None
    page: int = 1


def _uuid(value: str, what: str) -> uuid.UUID | None:
    value = value.strip()
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise BadFilter(f"The {what} chosen is not one the log knows.") from exc


def _day(value: str, what: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return parse_day(value, what)
    except ValueError as exc:
        raise BadFilter(str(exc)) from exc


def _word(value: str, what: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if "\x00" in value:
        raise BadFilter(f"The {what} has a character that cannot be searched for.")
    if len(value) > MAX_TEXT:
        raise BadFilter(f"The {what} can be at most {MAX_TEXT} characters.")
    return value


def parse_filter(args: Any) -> AuditFilter:
    """The filter from a query string; BadFilter with a message when a value is wrong."""
    start = _day(args.get("from", ""), "first")
    end = _day(args.get("to", ""), "last")
    if start and end and end < start:
        raise BadFilter("The last date is before the first date.")
    page_text = args.get("page", "1").strip() or "1"
    if not page_text.isdigit() or int(page_text) < 1 or int(page_text) > 1_000_000:
        raise BadFilter("The page must be a whole number from 1.")
    return AuditFilter(
        actor_id=_uuid(args.get("actor", ""), "person"),
        storyteller_id=_uuid(args.get("storyteller", ""), "storyteller"),
        action=_word(args.get("action", ""), "action"),
        object_type=_word(args.get("object_type", ""), "kind of record"),
        start=start,
        end=end,
        page=int(page_text),
    )


@dataclass
class AuditPage:
    rows: list[tuple[AuditLog, User | None, Storyteller | None]]
    total: int
    page: int
    pages: int


def _conditions(f: AuditFilter) -> list[Any]:
    conditions: list[Any] = []
    if f.actor_id:
        conditions.append(AuditLog.actor_id == f.actor_id)
    if f.storyteller_id:
        conditions.append(AuditLog.storyteller_id == f.storyteller_id)
    if f.action:
        conditions.append(AuditLog.action == f.action)
    if f.object_type:
        conditions.append(AuditLog.object_type == f.object_type)
    if f.start:
        conditions.append(AuditLog.created_at >= datetime.combine(f.start, time(), UTC))
    if f.end:
        after = datetime.combine(f.end + timedelta(days=1), time(), UTC)
        conditions.append(AuditLog.created_at < after)
    return conditions


def search(db: DbSession, f: AuditFilter, page_size: int = PAGE_SIZE) -> AuditPage:
    """One page of matching audit rows, newest first, with the actor and the storyteller."""
    conditions = _conditions(f)
    total = db.scalar(select(func.count()).select_from(AuditLog).where(*conditions)) or 0
    pages = max(1, -(-total // page_size))
    query = (
        select(AuditLog, User, Storyteller)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .outerjoin(Storyteller, Storyteller.id == AuditLog.storyteller_id)
        .where(*conditions)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(page_size)
        .offset((f.page - 1) * page_size)
    )
    rows = [(row[0], row[1], row[2]) for row in db.execute(query)]
    return AuditPage(rows=rows, total=total, page=f.page, pages=pages)


def choices(db: DbSession) -> dict[str, list[Any]]:
    """What the filter form offers: people and storytellers by name, actions and kinds seen."""
    return {
        "actors": list(db.scalars(select(User).order_by(User.name, User.email))),
        "storytellers": list(db.scalars(select(Storyteller).order_by(Storyteller.display_name))),
        "actions": list(db.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action))),
        "object_types": list(
            db.scalars(select(AuditLog.object_type).distinct().order_by(AuditLog.object_type))
        ),
    }
