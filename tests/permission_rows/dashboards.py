"""Permission rows: the admin dashboards (LLM usage and sessions), pages and CSV."""

from __future__ import annotations

from tests.permissions_common import ANON_TO_SIGN_IN, Route

ADMIN_ONLY = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 403,
    "reviewer": 403,
    "admin": 200,
}

ROWS = {
    "dashboards.index": [
        Route("GET", lambda s, own: "/admin/dashboards/", other=ADMIN_ONLY),
        Route(
            "GET",
            lambda s, own: "/admin/dashboards/?range=90&group=storyteller&format=csv",
            other=ADMIN_ONLY,
        ),
    ],
    "dashboards.sessions": [
        Route("GET", lambda s, own: "/admin/dashboards/sessions", other=ADMIN_ONLY),
        Route(
            "GET",
            lambda s, own: (
                "/admin/dashboards/sessions?range=custom&from=2026-01-01"
                "&to=2026-01-31&group=agent_version&format=csv"
            ),
            other=ADMIN_ONLY,
        ),
    ],
}
