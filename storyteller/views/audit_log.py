"""Admin audit log: who read or changed whose personal data, filterable."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("audit_log", __name__, url_prefix="/admin/audit")
