"""``flask privacy-scan STORYTELLER_ID [--name NAME]``: look for anything left about someone."""

from __future__ import annotations

import uuid

import click

from storyteller.extensions import db


@click.command("privacy-scan")
@click.argument("storyteller_id")
@click.option("--name", help="Their display name, also searched for (case-insensitive).")
def command(storyteller_id: str, name: str | None) -> None:
    """Search every column of every table for the storyteller's id (and name): after an
    erasure it should find nothing. Exits with status 1 when something is found."""
    from storyteller import personal_data

    try:
        key = uuid.UUID(storyteller_id)
    except ValueError as exc:
        raise click.BadParameter(
            "not a storyteller id (a UUID).", param_hint="STORYTELLER_ID"
        ) from exc
    result = personal_data.scan_for_storyteller(db.session, key, name)
    db.session.rollback()
    if not result.hits:
        click.echo("Nothing found.")
        return
    for hit in result.hits:
        click.echo(f"  {hit.table}.{hit.column} row {hit.row_id} ({hit.matched})")
    click.echo(f"Found {len(result.hits)} place(s) in {len(result.tables())} table(s).")
    raise SystemExit(1)
