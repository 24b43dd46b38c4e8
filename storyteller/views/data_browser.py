"""Admin-only read-only browser over every table; views of personal data are audited."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("data_browser", __name__, url_prefix="/admin/data")
