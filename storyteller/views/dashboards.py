"""Admin dashboards: LLM usage, cost, latency and sessions (charts, tables, CSV)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dashboards", __name__, url_prefix="/admin/dashboards")
