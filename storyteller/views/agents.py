"""Admin agents and versions: list, create a version, activate, roll back, compare side by side."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("agents", __name__, url_prefix="/admin/agents")
