"""Permission rows: the admin privacy tools (export and erase one storyteller)."""

from __future__ import annotations

from tests.permissions_common import ANON_TO_SIGN_IN, Route, to

ADMIN_ONLY = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 403,
    "reviewer": 403,
    "admin": 200,
}


def _page(suffix: str = ""):
    return lambda s, own: f"/admin/privacy/{s.storyteller(own).id}{suffix}"


ROWS = {
    "privacy.index": Route("GET", lambda s, own: "/admin/privacy/", other=ADMIN_ONLY),
    "privacy.storyteller": Route("GET", _page(), other=ADMIN_ONLY, own=ADMIN_ONLY),
    # The first two bytes only ("PK"): the whole ZIP is binary, the table reads bodies as text.
    "privacy.export": Route(
        "GET",
        _page("/export.zip"),
        headers={"Range": "bytes=0-1"},
        other={**ADMIN_ONLY, "admin": 206},
        own={**ADMIN_ONLY, "admin": 206},
    ),
    "privacy.erase": [
        Route(
            "POST",
            _page("/erase"),
            data=lambda s: {"confirm_name": s.storyteller_b.display_name},
            other={**ADMIN_ONLY, "admin": to("/admin/privacy/", 303)},
        ),
        Route(
            "POST",
            _page("/erase"),
            data={"confirm_name": "Not their name"},
            other={**ADMIN_ONLY, "admin": 400},
            own={**ADMIN_ONLY, "admin": 400},
        ),
    ],
}
