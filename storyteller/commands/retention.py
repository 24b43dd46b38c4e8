"""``flask retention [--apply]``: purge operational records older than their period."""

from __future__ import annotations

import click
from flask import current_app

from storyteller.extensions import db


@click.command("retention")
@click.option(
    "--apply", "do_apply", is_flag=True, help="Delete (default: only show what would go)."
)
def command(do_apply: bool) -> None:
    """Apply seed 004's retention periods (RETENTION_*_DAYS) to operational records: LLM
    calls, events, errors, session telemetry, sign-in records and usage rollups. Answers,
    artifacts, books, sessions, consent, memories and documents are never purged by age."""
    from storyteller import retention
    from storyteller.models import utcnow

    try:
        days = retention.periods(current_app.config)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    now = utcnow()
    if do_apply:
        lines = retention.apply(db.session, now, days)
        db.session.commit()
        verb = "Deleted"
    else:
        lines = retention.plan(db.session, now, days)
        db.session.rollback()
        verb = "Would delete"
    click.echo(("Applying" if do_apply else "Dry run (nothing deleted; add --apply)") + ":")
    for line in lines:
        click.echo(
            f"  {line.table}: {verb.lower()} {line.rows} row(s) with {line.by} before "
            f"{line.cutoff:%Y-%m-%d %H:%M} UTC ({line.setting}={line.days})"
        )
    click.echo(f"{verb} {sum(line.rows for line in lines)} row(s) in total.")
