"""(being written)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("book", __name__)
