"""Permission rows: the admin's read-only data browser."""

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
    "data_browser.index": Route("GET", lambda s, own: "/admin/data/", other=ADMIN_ONLY),
    "data_browser.table": [
        Route("GET", lambda s, own: "/admin/data/session", other=ADMIN_ONLY),
        Route(
            "GET",
            lambda s, own: (
                f"/admin/data/session?column=storyteller_id&value={s.storyteller(own).id}"
            ),
            other=ADMIN_ONLY,
            own=ADMIN_ONLY,
        ),
        Route("GET", lambda s, own: "/admin/data/agent?page=1", other=ADMIN_ONLY),
        Route(
            "GET",
            lambda s, own: "/admin/data/session?column=no_such_column&value=1",
            other={**ADMIN_ONLY, "admin": 400},
        ),
        Route(
            "GET", lambda s, own: "/admin/data/no_such_table", other={**ADMIN_ONLY, "admin": 404}
        ),
    ],
    "data_browser.row": [
        Route(
            "GET",
            lambda s, own: f"/admin/data/session/{s.session(own).id}",
            other=ADMIN_ONLY,
            own=ADMIN_ONLY,
        ),
        Route(
            "GET",
            lambda s, own: f"/admin/data/storyteller/{s.storyteller(own).id}",
            other=ADMIN_ONLY,
            own=ADMIN_ONLY,
        ),
    ],
}
