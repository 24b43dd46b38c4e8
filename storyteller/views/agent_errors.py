"""Admin list of agent errors: filter, context and stack trace, resolve; counts per day."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("agent_errors", __name__, url_prefix="/admin/errors")
