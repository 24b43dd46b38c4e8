"""Admin privacy tools: export everything about one storyteller, erase one storyteller."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("privacy", __name__, url_prefix="/admin/privacy")
