"""(being written)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("memory_review", __name__)
