"""``flask rollup [--from YYYY-MM-DD] [--to YYYY-MM-DD]``: recompute the daily rollups."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import click

from storyteller.extensions import db


def _utc_today() -> date:
    from storyteller.models import utcnow

    return utcnow().date()


def _parse(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        message = f"{value!r} is not a date like 2026-01-31."
        raise click.BadParameter(message, param_hint=name) from exc


@click.command("rollup")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="First UTC date (default: yesterday).")
@click.option("--to", "end", metavar="YYYY-MM-DD", help="Last UTC date (default: today).")
def command(start: str | None, end: str | None) -> None:
    """Recompute llm_usage_daily, usage_daily, performance_daily and the daily agent metrics
    for every UTC date in the range (idempotent; safe to rerun for any range)."""
    from storyteller import rollups

    today = _utc_today()
    first = _parse(start, "--from") or (today - timedelta(days=1))
    last = _parse(end, "--to") or today
    if last < first:
        raise click.BadParameter("--to is before --from.", param_hint="--to")
    try:
        report = rollups.rollup(db.session, first, last)
    except ValueError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Rolled up {report.days} day(s), {first.isoformat()} to {last.isoformat()}.")
    for name, counts in report.tables.items():
        click.echo(f"  {name}: {counts}")
