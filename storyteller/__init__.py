"""Storyteller: a self-hostable web app that helps people tell their life story."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask


def create_app(config_overrides: dict[str, Any] | None = None) -> Flask:
    """Build one app instance: configuration, extensions, security, blueprints and commands."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        static_folder=str(Path(__file__).resolve().parent.parent / "static"),
    )
    from storyteller import config

    overrides = dict(config_overrides or {})
    if "INSTANCE_PATH" in overrides:
        app.instance_path = str(overrides.pop("INSTANCE_PATH"))
    instance_path = Path(app.instance_path)
    instance_path.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(config.from_environment(instance_path))
    app.config.from_mapping(overrides)

    from storyteller import logging_setup

    logging_setup.init_app(app)

    _configure_extensions(app)
    _configure_blueprints(app)

    from storyteller import cli, http_security

    http_security.init_app(app)
    cli.init_app(app)
    _configure_templates(app)
    return app


def _configure_templates(app: Flask) -> None:
    from storyteller.local_time import format_local

    app.jinja_env.filters["local_time"] = format_local


def _configure_extensions(app: Flask) -> None:
    from storyteller import accounts, database
    from storyteller.extensions import csrf, db, htmx, login_manager, migrate

    db.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    accounts.init_login_manager(login_manager)


def _configure_blueprints(app: Flask) -> None:
    from storyteller.views import (
        agent_errors,
        agents,
        audit_log,
        auth,
        book,
        calendar,
        dashboards,
        data_browser,
        errors,
        exports,
        home,
        interview,
        life_events,
        memory_review,
        operations,
        people,
        photos,
        privacy,
        processes,
        recordings,
        reviews,
        scheduling,
        storytellers,
        traces,
    )

    for module in (
        auth,
        errors,
        home,
        interview,
        storytellers,
        people,
        life_events,
        processes,
        scheduling,
        calendar,
        reviews,
        memory_review,
        book,
        exports,
        recordings,
        photos,
        operations,
        dashboards,
        traces,
        agent_errors,
        agents,
        data_browser,
        privacy,
        audit_log,
    ):
        app.register_blueprint(module.bp)
