"""(being written)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("life_events", __name__)
