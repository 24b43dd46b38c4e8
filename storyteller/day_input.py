"""A calendar day typed into a form or a query string (filters and ranges of the admin pages)."""

from __future__ import annotations

from datetime import date, datetime


def parse_day(value: str, label: str) -> date:
    """``YYYY-MM-DD`` as a date; ValueError with a plain message naming ``label`` otherwise.

    ``label`` reads inside the sentence: "first", "last", "from"...
    """
    text = value.strip()
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as exc:
        raise ValueError(f"The {label} date must look like 2026-01-31; “{text}” does not.") from exc
