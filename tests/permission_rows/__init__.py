"""Permission-table rows, one module per area of the app; each module defines ``ROWS``."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def collect_rows() -> dict[str, dict[str, Any]]:
    """{module name: its ROWS} for every module of this package."""
    found: dict[str, dict[str, Any]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found[info.name] = module.ROWS
    return found
