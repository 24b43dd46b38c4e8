"""Permission rows: the admin errors list, one error, resolving it, and the counts as CSV.

Admin only, like every operator page: anyone else signed in is refused (403); the anonymous
visitor is sent to sign in.
"""

from __future__ import annotations

from storyteller.models import AgentError
from tests.permissions_common import ANON_TO_SIGN_IN, Route, Scenario

ADMIN_ONLY = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 403,
    "reviewer": 403,
    "admin": 200,
}


def _with_error(s: Scenario, ownership: str) -> None:
    error = AgentError(
        storyteller_id=s.storyteller(ownership).id,
        session_id=s.session(ownership).id,
        error_type="llm_timeout",
        error_message="The LLM did not answer in time.",
        context={"model": "gpt-4o-mini"},
    )
    s.db.add(error)
    s.db.commit()
    s.extra["error"] = error


ROWS = {
    "agent_errors.index": Route("GET", lambda s, own: "/admin/errors/", other=ADMIN_ONLY),
    "agent_errors.counts_csv": Route(
        "GET", lambda s, own: "/admin/errors/counts.csv", other=ADMIN_ONLY
    ),
    "agent_errors.detail": Route(
        "GET",
        lambda s, own: f"/admin/errors/{s.extra['error'].id}",
        other=ADMIN_ONLY,
        own=ADMIN_ONLY,
        setup=_with_error,
    ),
    "agent_errors.resolve": Route(
        "POST",
        lambda s, own: f"/admin/errors/{s.extra['error'].id}/resolve",
        data={"note": "The provider was down; it is back."},
        other={**ADMIN_ONLY, "admin": 303},
        own={**ADMIN_ONLY, "admin": 303},
        setup=_with_error,
    ),
}
