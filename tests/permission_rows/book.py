"""Permission rows for the book: chapters, compiling, review, diff, preview and photos.

Reading (the book page, a chapter, the diff, the preview, a photo): everyone who may see the
storyteller, the storyteller too. Compiling, editing and deciding: reviewers, coordinators
and admins granted; the storyteller 403. Someone else's storyteller: 404 but for the admin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app

from storyteller.models import BookChapter, ChapterRevision, Document
from tests.permissions_common import (
    ANON_TO_SIGN_IN,
    HIDDEN_FROM_ALL_BUT_ADMIN,
    VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    Route,
    Scenario,
)

# The permission table reads every body as text, so the "photo" here is text bytes; the
# route streams whatever file is there (tests/test_book_views.py serves a real PNG).
PNG = b"photo bytes for the permission table"


def _with_chapter(s: Scenario, ownership: str) -> None:
    chapter = BookChapter(
        storyteller_id=s.storyteller(ownership).id,
        sequence=1,
        title="Moving to Boston",
        content="We came by train.",
        paragraphs=[{"text": "We came by train.", "artifact_ids": [], "interaction_ids": []}],
        review_status="approved",
    )
    s.db.add(chapter)
    s.db.flush()
    s.db.add(
        ChapterRevision(
            chapter_id=chapter.id,
            revision_number=1,
            title=chapter.title,
            content=chapter.content,
            paragraphs=chapter.paragraphs,
        )
    )
    s.db.commit()
    s.extra["chapter"] = chapter


def _with_photo(s: Scenario, ownership: str) -> None:
    key = f"permissions/{ownership}.png"
    path = Path(current_app.instance_path) / "uploads" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PNG)
    document = Document(
        storyteller_id=s.storyteller(ownership).id,
        kind="photo",
        title="At the sea",
        content_type="image/png",
        storage_key=key,
    )
    s.db.add(document)
    s.db.commit()
    s.extra["document"] = document


def _chapter_url(suffix: str = ""):
    return lambda s, own: f"/chapters/{s.extra['chapter'].id}{suffix}"


def _book_url(suffix: str = ""):
    return lambda s, own: f"/storytellers/{s.storyteller(own).id}/book{suffix}"


MANAGE_OWN_GET = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 200,
    "reviewer": 200,
    "admin": 200,
}
MANAGE_OWN_POST = {**MANAGE_OWN_GET, "coordinator": 303, "reviewer": 303, "admin": 303}
OTHER_POST = {**HIDDEN_FROM_ALL_BUT_ADMIN, "admin": 303}

ROWS: dict[str, Any] = {
    "book.index": Route(
        "GET",
        _book_url(),
        setup=_with_chapter,
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "book.compile": Route(
        "POST",
        _book_url("/compile"),
        data={"scope": "unapproved"},
        other=OTHER_POST,
        own=MANAGE_OWN_POST,
    ),
    "book.preview": Route(
        "GET",
        _book_url("/preview"),
        setup=_with_chapter,
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "book.chapter": Route(
        "GET",
        _chapter_url(),
        setup=_with_chapter,
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "book.edit_chapter": [
        Route(
            "GET",
            _chapter_url("/edit"),
            setup=_with_chapter,
            other=HIDDEN_FROM_ALL_BUT_ADMIN,
            own=MANAGE_OWN_GET,
        ),
        Route(
            "POST",
            _chapter_url("/edit"),
            setup=_with_chapter,
            data={"title": "Coming to Boston", "paragraph_0": "We came by train in 1948."},
            other=OTHER_POST,
            own=MANAGE_OWN_POST,
        ),
    ],
    "book.decide_chapter": Route(
        "POST",
        _chapter_url("/decision"),
        setup=_with_chapter,
        data={"decision": "approved", "comment": ""},
        other=OTHER_POST,
        own=MANAGE_OWN_POST,
    ),
    "book.chapter_diff": Route(
        "GET",
        _chapter_url("/diff"),
        setup=_with_chapter,
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "book.photo": Route(
        "GET",
        lambda s, own: f"/book-photos/{s.extra['document'].id}",
        setup=_with_photo,
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
}
