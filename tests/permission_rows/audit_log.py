"""Permission rows: the admin audit log."""

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
    "audit_log.index": [
        Route("GET", lambda s, own: "/admin/audit/", other=ADMIN_ONLY),
        Route(
            "GET",
            lambda s, own: (
                f"/admin/audit/?storyteller={s.storyteller_b.id}&action=read"
                "&from=2026-01-01&to=2026-12-31&page=1"
            ),
            other=ADMIN_ONLY,
        ),
        Route(
            "GET",
            lambda s, own: "/admin/audit/?from=2026-02-30",
            other={**ADMIN_ONLY, "admin": 400},
        ),
    ],
}
