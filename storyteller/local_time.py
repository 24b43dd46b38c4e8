"""Times as people see them: stored in UTC, shown and entered in the storyteller's time zone."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from functools import lru_cache

__all__ = [
    "TimeInputError",
    "format_local",
    "is_valid_zone",
    "parse_local_input",
    "to_input_value",
    "to_local",
    "zone",
]

INPUT_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


class TimeInputError(ValueError):
    """A date/time typed into a form is not one; the message is for the person."""


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_valid_zone(name: str | None) -> bool:
    return bool(name) and name in _zone_names()


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The ZoneInfo for ``name``; UTC when it is missing or unknown."""
    if name and is_valid_zone(name):
        return zoneinfo.ZoneInfo(name)
    return zoneinfo.ZoneInfo("UTC")


def to_local(moment: datetime | None, zone_name: str | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone(zone_name))


def format_local(moment: datetime | None, zone_name: str | None, *, with_zone: bool = True) -> str:
    """'Tuesday 1 December 2026, 10:30 (Europe/Dublin)': plain words, 24-hour clock."""
    local = to_local(moment, zone_name)
    if local is None:
        return ""
    text = f"{local:%A} {local.day} {local:%B %Y, %H:%M}"
    return f"{text} ({zone(zone_name).key})" if with_zone else text


def to_input_value(moment: datetime | None, zone_name: str | None) -> str:
    """The value for a datetime-local input showing ``moment`` in the zone."""
    local = to_local(moment, zone_name)
    return local.strftime(INPUT_FORMAT) if local else ""


def parse_local_input(raw: str | None, zone_name: str | None) -> datetime | None:
    """A datetime-local value ('2026-12-01T10:30', seconds optional) in the zone -> aware UTC.

    Empty gives None; anything that is not a real date and time raises TimeInputError.
    A wall-clock time that does not exist (skipped by a DST change) is moved forward.
    """
    raw = (raw or "").strip()
    if not raw:
        return None
    for fmt in (INPUT_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            naive = datetime.strptime(raw, fmt)  # noqa: DTZ007 - the zone is applied below
            break
        except ValueError:
            continue
    else:
        raise TimeInputError("Please give a date and time, for example 2026-12-01 10:30.")
    if not 1900 <= naive.year <= 2200:
        raise TimeInputError("Please give a date between the years 1900 and 2200.")
    tz = zone(zone_name)
    local = naive.replace(tzinfo=tz)
    # Round-trip through UTC: a non-existent local time comes back different; use that.
    return local.astimezone(UTC)
