"""Operator commands, one module per command, each defining ``command`` (a click command).

``storyteller.cli.init_app`` registers every module found here, so adding a command is
adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil

import click


def discover() -> list[click.Command]:
    """The ``command`` of every module of this package, in module-name order."""
    found: list[click.Command] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append(module.command)
    return found
