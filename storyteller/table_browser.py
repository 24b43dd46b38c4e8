"""Read-only browsing of every table for the admin (seed 001's "Prisma Studio").

Built on the SQLAlchemy metadata: the list of tables with row counts, one table's rows a
page at a time (optionally where one column equals a value), one row. Nothing here
writes. Secrets (password and token hashes) are never shown. Whether a table holds
personal data comes from ``personal_data.REGISTRY``; the views audit every read of one.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    func,
    select,
)
from sqlalchemy.orm import Session as DbSession

from storyteller import personal_data
from storyteller.models import Base
from storyteller.models.base import UtcDateTime

PAGE_SIZE = 50
LIST_TEXT = 80
HIDDEN_COLUMNS = frozenset({"password_hash", "token_hash"})
HIDDEN = "(hidden)"


class BadFilter(ValueError):
    """A column or value the table cannot be filtered by; the message says why."""


@dataclass(frozen=True)
class TableSummary:
    name: str
    rows: int
    personal: bool


def table_or_none(name: str) -> Table | None:
    return Base.metadata.tables.get(name)


def is_personal(name: str) -> bool:
    return isinstance(personal_data.REGISTRY.get(name), personal_data.Personal)


def summaries(db: DbSession) -> list[TableSummary]:
    """Every table, by name, with its row count."""
    result = []
    for name in sorted(Base.metadata.tables):
        t = Base.metadata.tables[name]
        count = db.scalar(select(func.count()).select_from(t)) or 0
        result.append(TableSummary(name, count, is_personal(name)))
    return result


def _whole_number(kind: Any, text: str) -> int:
    value = int(text)
    bits = 63 if isinstance(kind, BigInteger) else 31
    if not -(2**bits) <= value < 2**bits:
        raise ValueError(text)
    return value


def _decimal(kind: Any, text: str) -> Decimal:
    value = Decimal(text)
    digits = (kind.precision or 30) - (kind.scale or 0)
    if not value.is_finite() or abs(value) >= Decimal(10) ** digits:
        raise ValueError(text)
    return value


def _boolean(kind: Any, text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(text)
    return lowered in ("true", "1", "yes")


# Checked in order: Float is a Numeric, BigInteger an Integer.
PARSERS: tuple[tuple[type, Any], ...] = (
    (Uuid, lambda kind, text: uuid.UUID(text)),
    (Boolean, _boolean),
    (Integer, _whole_number),
    (Float, lambda kind, text: float(text)),
    (Numeric, _decimal),
    (UtcDateTime, lambda kind, text: datetime.fromisoformat(text)),
    (Date, lambda kind, text: date.fromisoformat(text)),
)


def _convert(column: Any, raw: str) -> Any:
    kind = column.type
    label = column.name
    if "\x00" in raw:
        raise BadFilter(f"“{raw}” is not a valid value for the column {label}.")
    for type_, parse in PARSERS:
        if isinstance(kind, type_):
            try:
                return parse(kind, raw.strip())
            except (ValueError, InvalidOperation) as exc:
                message = f"“{raw}” is not a valid value for the column {label}."
                raise BadFilter(message) from exc
    if isinstance(kind, JSON):
        raise BadFilter(f"The column {label} holds JSON and cannot be filtered by a value.")
    if isinstance(kind, String | Text):
        return raw
    raise BadFilter(f"The column {label} cannot be filtered.")


def where_column(table: Table, column_name: str, raw: str | None) -> Any:
    """The condition ``column = value`` (an empty value means "is empty"); BadFilter when
    the column is not one of the table's or the value does not fit it."""
    if column_name not in table.columns:
        raise BadFilter(f"The table {table.name} has no column “{column_name}”.")
    if column_name in HIDDEN_COLUMNS:
        raise BadFilter(f"The column {column_name} is hidden and cannot be filtered.")
    column = table.columns[column_name]
    if raw is None or raw == "":
        return column.is_(None)
    return column == _convert(column, raw)


def _order(table: Table) -> list[Any]:
    if "created_at" in table.columns:
        return [table.c.created_at.desc(), table.c.id]
    return [table.c.id]


@dataclass
class RowsPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


def rows_page(
    db: DbSession, table: Table, condition: Any = None, page: int = 1, page_size: int = PAGE_SIZE
) -> RowsPage:
    conditions = [condition] if condition is not None else []
    total = db.scalar(select(func.count()).select_from(table).where(*conditions)) or 0
    pages = max(1, -(-total // page_size))
    query = (
        select(table)
        .where(*conditions)
        .order_by(*_order(table))
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    rows = [dict(row._mapping) for row in db.execute(query)]
    return RowsPage(rows, total, page, pages)


def get_row(db: DbSession, table: Table, row_id: uuid.UUID) -> dict[str, Any] | None:
    row = db.execute(select(table).where(table.c.id == row_id)).first()
    return dict(row._mapping) if row is not None else None


def storyteller_of(db: DbSession, table: Table, rows: list[dict[str, Any]]) -> uuid.UUID | None:
    """The one storyteller these rows belong to, when they all belong to the same one."""
    found: set[Any] = set()
    if table.name == "storyteller":
        found = {row["id"] for row in rows}
    elif "storyteller_id" in table.columns:
        found = {row["storyteller_id"] for row in rows}
    elif "session_id" in table.columns:
        session = Base.metadata.tables["session"]
        ids = {row["session_id"] for row in rows}
        if None in ids:
            return None
        found = set(
            db.scalars(select(session.c.storyteller_id).where(session.c.id.in_(ids)).distinct())
        )
    elif table.name == "user":
        st = Base.metadata.tables["storyteller"]
        ids = {row["id"] for row in rows}
        found = set(db.scalars(select(st.c.id).where(st.c.user_id.in_(ids))))
        if len(found) != len(ids):
            return None
    if len(found) == 1 and None not in found:
        return next(iter(found))
    return None


def shown(column_name: str, value: Any, *, whole: bool) -> str:
    """A value as text for the page: secrets hidden, JSON as JSON, long text cut in lists."""
    if column_name in HIDDEN_COLUMNS and value is not None:
        return HIDDEN
    if value is None:
        return ""
    if isinstance(value, dict | list):
        text = json.dumps(value, indent=2 if whole else None, ensure_ascii=False, default=str)
    elif isinstance(value, datetime):
        text = value.isoformat(sep=" ", timespec="seconds")
    else:
        text = str(value)
    if not whole and len(text) > LIST_TEXT:
        return text[: LIST_TEXT - 1] + "…"
    return text


def references(table: Table) -> dict[str, str]:
    """column name -> the table its foreign key points at, for links on the row page."""
    return {fk.parent.name: fk.column.table.name for fk in table.foreign_keys}
