"""Permission rows for photos: the photos page, uploads, "Ask about this photo", the files.

Seeing (the page, every variant of a photo): everyone who may see the storyteller; others
404. Adding from the photos page: as for life events (admins, granted coordinators, the
storyteller themself; reviewers 403). Adding during a session and asking about a photo:
whoever may conduct the session (the storyteller, a granted coordinator); reviewers and
admins 403; someone else's session 404 (the admin 403, as for the interview routes).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import current_app

from storyteller.models import Document
from tests.permissions_common import (
    ANON_TO_SIGN_IN,
    HIDDEN_FROM_ALL_BUT_ADMIN,
    VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    Route,
    Scenario,
)
from tests.photo_files import jpeg_with_gps

# The permission table reads every body as text, so the stored "photo" files here are
# text; tests/test_photos.py serves real images.
FILE_TEXT = b"photo bytes for the permission table"


def _with_photo(s: Scenario, ownership: str) -> None:
    variants = {}
    for variant in ("thumb", "web", "original"):
        key = f"permissions/photos/{ownership}-{variant}.jpg"
        path = Path(current_app.instance_path) / "uploads" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(FILE_TEXT)
        variants[variant] = key
    document = Document(
        storyteller_id=s.storyteller(ownership).id,
        kind="photo",
        title="At the sea",
        content_type="image/jpeg",
        storage_key=variants["web"],
        metadata_={"variants": variants, "original_content_type": "image/jpeg"},
    )
    s.db.add(document)
    s.db.commit()
    s.extra["document"] = document
    s.extra["session_id"] = str(s.session(ownership).id)


def _photo_file(s: Scenario) -> dict[str, Any]:
    return {"photo": (io.BytesIO(jpeg_with_gps(size=(64, 48))), "IMG_0001.jpg"), "title": "Pier"}


ADD_OWN = {**ANON_TO_SIGN_IN, "storyteller": 303, "coordinator": 303, "reviewer": 403, "admin": 303}
ADD_OTHER = {**HIDDEN_FROM_ALL_BUT_ADMIN, "admin": 303}
CONDUCT_OWN = {
    **ANON_TO_SIGN_IN,
    "storyteller": 303,
    "coordinator": 303,
    "reviewer": 403,
    "admin": 403,
}
CONDUCT_OTHER = {**HIDDEN_FROM_ALL_BUT_ADMIN, "admin": 403}


def _serve(variant: str) -> Route:
    return Route(
        "GET",
        lambda s, own: f"/photos/{s.extra['document'].id}/{variant}",
        setup=_with_photo,
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    )


ROWS: dict[str, Any] = {
    "photos.index": Route(
        "GET",
        lambda s, own: f"/storytellers/{s.storyteller(own).id}/photos",
        setup=_with_photo,
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "photos.upload": Route(
        "POST",
        lambda s, own: f"/storytellers/{s.storyteller(own).id}/photos",
        data=_photo_file,
        other=ADD_OTHER,
        own=ADD_OWN,
    ),
    "photos.upload_in_session": Route(
        "POST",
        lambda s, own: f"/sessions/{s.session(own).id}/photos",
        data=_photo_file,
        other=CONDUCT_OTHER,
        own=CONDUCT_OWN,
    ),
    "photos.ask": Route(
        "POST",
        lambda s, own: f"/photos/{s.extra['document'].id}/ask",
        setup=_with_photo,
        data=lambda s: {"session_id": s.extra["session_id"]},
        other=CONDUCT_OTHER,
        own=CONDUCT_OWN,
    ),
    "photos.serve": [_serve("thumb"), _serve("web"), _serve("original")],
}
