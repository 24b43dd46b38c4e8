"""Running it in production: /healthz, /readyz and /metrics (Prometheus)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("operations", __name__)
