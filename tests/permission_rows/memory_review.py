"""Permission rows for the memory pages (storyteller/views/memory_review.py).

Reading the list and one memory: everyone who may see the storyteller (the storyteller
too, read only). Annotating and applying: granted reviewers and coordinators, and admins;
the storyteller is refused (403). Someone else's storyteller: 404 for all but the admin.
"""

from __future__ import annotations

from typing import Any

from storyteller import memories
from storyteller.models import MemoryAnnotation
from tests.permissions_common import (
    ANON_TO_SIGN_IN,
    HIDDEN_FROM_ALL_BUT_ADMIN,
    VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    Route,
    Scenario,
)


def _with_memory(s: Scenario, ownership: str) -> None:
    memory = memories.create_memory(
        s.db,
        storyteller_id=s.storyteller(ownership).id,
        session_id=s.session(ownership).id,
        memory_type="person",
        memory_key="person:brother:tom",
        content={"subject": "brother Tom", "relation": "brother", "name": "Tom"},
        confidence=0.7,
    )
    s.db.commit()
    s.extra["memory"] = memory


def _with_proposed_change(s: Scenario, ownership: str) -> None:
    _with_memory(s, ownership)
    annotation = MemoryAnnotation(
        memory_id=s.extra["memory"].id,
        annotation_type="correction",
        content={"note": "", "proposed": {"set": {"name": "Thomas"}}},
        created_by_id=None,
    )
    s.db.add(annotation)
    s.db.commit()
    s.extra["annotation"] = annotation


OTHER_POST = {**HIDDEN_FROM_ALL_BUT_ADMIN, "admin": 303}
OWN_POST = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 303,
    "reviewer": 303,
    "admin": 303,
}

ROWS: dict[str, Any] = {
    "memory_review.index": Route(
        "GET",
        lambda s, own: f"/storytellers/{s.storyteller(own).id}/memories",
        setup=_with_memory,
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "memory_review.show": Route(
        "GET",
        lambda s, own: f"/memories/{s.extra['memory'].id}",
        setup=_with_memory,
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=VISIBLE_TO_OWNER_GRANTEES_AND_ADMIN,
    ),
    "memory_review.annotate": Route(
        "POST",
        lambda s, own: f"/memories/{s.extra['memory'].id}/annotations",
        setup=_with_memory,
        data={"annotation_type": "verification", "verdict": "verified", "note": ""},
        other=OTHER_POST,
        own=OWN_POST,
    ),
    "memory_review.apply": Route(
        "POST",
        lambda s, own: f"/memory-annotations/{s.extra['annotation'].id}/apply",
        setup=_with_proposed_change,
        other=OTHER_POST,
        own=OWN_POST,
    ),
}
