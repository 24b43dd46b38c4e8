"""Command-line tools: `flask user create`, `flask seed-demo`, `flask recompute`,
`flask send-reminders`."""

from __future__ import annotations

import getpass
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from storyteller.extensions import db

user_cli = AppGroup("user", help="Manage user accounts.")


@user_cli.command("create")
@click.argument("email")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["storyteller", "coordinator", "reviewer", "admin"]),
)
@click.option("--name", required=True)
def create_user_command(email: str, role: str, name: str) -> None:
    """Create a user; the password is read from standard input."""
    from storyteller import accounts

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise click.ClickException("The two passwords differ.")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = accounts.create_user(
            db.session, email=email, name=name, role=role, password=password
        )
    except accounts.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    if role == "storyteller":
        from storyteller.models import Storyteller

        db.session.add(Storyteller(display_name=name, user_id=user.id))
    db.session.commit()
    click.echo(f"Created {role} {user.email}.")


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Add demo data (idempotent). Refuses on a database with real users."""
    from storyteller import demo

    try:
        result = demo.seed_demo(db.session)
    except demo.DemoRefused as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo("Demo data is ready. Sign in with one of these accounts:")
    for account in result.accounts:
        click.echo(f"  {account.role:<12} {account.email:<32} password: {account.password}")


@click.command("recompute")
def recompute_command() -> None:
    """Recompute every derived figure from the source rows (idempotent)."""
    from storyteller import recompute

    report = recompute.recompute_all(db.session)
    db.session.commit()
    for name, count in report.items():
        click.echo(f"{name}: {count} rows recomputed")


@click.command("send-reminders")
def send_reminders_command() -> None:
    """Email the session reminders due now; never the same one twice (safe to run often).

    Run it from cron every few minutes. Prints how many were sent, skipped (already sent,
    or taken by another run) and failed (retried on the next run while still due); exits
    with status 1 when any failed.
    """
    from flask import current_app

    from storyteller import reminders

    try:
        report = reminders.send_due_reminders(db.session, current_app.config)
    except ValueError as exc:  # bad configuration (leads, mail backend)
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Reminders sent: {report.sent}, skipped: {report.skipped}, failed: {report.failed}"
    )
    if report.failed:
        sys.exit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(user_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(recompute_command)
    app.cli.add_command(send_reminders_command)
    from storyteller import commands

    for command in commands.discover():
        app.cli.add_command(command)
