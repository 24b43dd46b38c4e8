"""Fixtures for the agent tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The fake server is imported as `tests.fake_llm_server` everywhere (tests and bench):
# make sure the repository root is importable even when pytest does not add it.
_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from tests.fake_llm_server import FakeLlmServer  # noqa: E402


@pytest.fixture
def fake_llm() -> Iterator[FakeLlmServer]:
    """A running FakeLlmServer on 127.0.0.1 (fresh per test, stopped afterwards)."""
    with FakeLlmServer() as server:
        yield server
