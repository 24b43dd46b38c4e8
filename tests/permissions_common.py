"""Building blocks of the permission table (tests/test_permissions.py).

Rows for one area of the app live in ``tests/permission_rows/<area>.py`` as a ``ROWS`` dict
(endpoint -> Route or list of Routes); ``test_permissions`` merges every such module into
``TABLE``. See the docstring of ``tests/test_permissions.py`` for how a row reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session as DbSession

from storyteller.models import Session, Storyteller, User

ROLES = ("anonymous", "storyteller", "coordinator", "reviewer", "admin")
SIGNED_IN_ROLES = ROLES[1:]

Expect = int | tuple[int, str]


@dataclass
class Scenario:
    users: dict[str, User]  # signed-in role -> the user who signs in for it
    storyteller_a: Storyteller  # the signed-in storyteller's own profile; granted to staff
    session_a: Session
    storyteller_b: Storyteller  # someone else's: visible to the admin only
    session_b: Session
    user_b: User
    db: DbSession  # for setup functions that need more objects
    extra: dict[str, Any] = field(default_factory=dict)  # what setup made, for url builders

    def storyteller(self, ownership: str) -> Storyteller:
        return self.storyteller_a if ownership == "own" else self.storyteller_b

    def session(self, ownership: str) -> Session:
        return self.session_a if ownership == "own" else self.session_b


@dataclass
class Route:
    method: str
    url: Callable[[Scenario, str], str]
    other: dict[str, Expect]
    own: dict[str, Expect] | None = None
    data: dict[str, str] | Callable[[Scenario], dict[str, str]] | None = None
    setup: Callable[[Scenario, str], None] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def to(path: str, status: int = 302) -> tuple[int, str]:
    return (status, path)


# Building blocks for the common rows.
ANON_TO_SIGN_IN = {"anonymous": to("/sign-in")}
EVERYONE_SIGNED_IN_200 = {role: 200 for role in SIGNED_IN_ROLES}
HIDDEN_FROM_ALL_BUT_ADMIN = {
    **ANON_TO_SIGN_IN,
    "storyteller": 404,
    "coordinator": 404,
    "reviewer": 404,
    "admin": 200,
}
VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN = {**ANON_TO_SIGN_IN, **EVERYONE_SIGNED_IN_200}
