"""Photos: upload to life events or during a session, thumbnails, serving without location data."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("photos", __name__)
