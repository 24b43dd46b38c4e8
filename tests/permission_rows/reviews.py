"""Permission rows for the review of artifacts and the storyteller's "My stories".

Reviewers, coordinators and admins review the artifacts of the storytellers they may see;
a storyteller is refused the review pages (403) but confirms and corrects their own
artifacts, which staff may not do for them (403). Someone else's artifact is "not found"
(404) for everyone but the admin.
"""

from __future__ import annotations

from storyteller.models import SessionArtifact, SessionInteraction
from tests.permissions_common import (
    ANON_TO_SIGN_IN,
    HIDDEN_FROM_ALL_BUT_ADMIN,
    Route,
    Scenario,
)

REVIEW_OWN_GET = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 200,
    "reviewer": 200,
    "admin": 200,
}
REVIEW_OWN_POST = {
    **ANON_TO_SIGN_IN,
    "storyteller": 403,
    "coordinator": 303,
    "reviewer": 303,
    "admin": 303,
}
REVIEW_OTHER_POST = {
    **ANON_TO_SIGN_IN,
    "storyteller": 404,
    "coordinator": 404,
    "reviewer": 404,
    "admin": 303,
}
STORYTELLER_OWN = {
    **ANON_TO_SIGN_IN,
    "storyteller": 200,
    "coordinator": 403,
    "reviewer": 403,
    "admin": 403,
}
STORYTELLER_OTHER = {
    **ANON_TO_SIGN_IN,
    "storyteller": 404,
    "coordinator": 404,
    "reviewer": 404,
    "admin": 403,
}


def _artifact(s: Scenario, ownership: str, status: str = "provisional") -> None:
    session = s.session(ownership)
    interaction = SessionInteraction(
        session_id=session.id,
        interaction_sequence=1,
        agent_prompt="What do you remember of your first school?",
        storyteller_response="A red brick school in Leeds, and Miss Pratt who taught us to sing.",
        response_method="text",
    )
    s.db.add(interaction)
    s.db.flush()
    artifact = SessionArtifact(
        session_id=session.id,
        source_interaction_id=interaction.id,
        artifact_type="scene_capture",
        artifact_name="Scene: Leeds",
        content="A red brick school in Leeds, and Miss Pratt who taught us to sing.",
        structured_data={"where": ["Leeds"], "who": ["Miss Pratt"]},
        review_status=status,
        is_approved=status == "approved",
    )
    s.db.add(artifact)
    s.db.flush()
    s.extra["artifact"] = artifact


def _approved(s: Scenario, ownership: str) -> None:
    _artifact(s, ownership, status="approved")


def _url(suffix: str = ""):
    return lambda s, own: f"/artifacts/{s.extra['artifact'].id}{suffix}"


def _with_status(table: dict, role_status: dict) -> dict:
    return {**table, **role_status}


ROWS = {
    "reviews.queue": Route(
        "GET",
        lambda s, own: "/review",
        setup=_artifact,
        other=REVIEW_OWN_GET,
    ),
    "reviews.artifact": Route(
        "GET", _url(), setup=_artifact, other=HIDDEN_FROM_ALL_BUT_ADMIN, own=REVIEW_OWN_GET
    ),
    "reviews.decide": Route(
        "POST",
        _url("/decision"),
        setup=_artifact,
        data={"decision": "approve", "comment": ""},
        other=REVIEW_OTHER_POST,
        own=REVIEW_OWN_POST,
    ),
    "reviews.edit": [
        Route("GET", _url("/edit"), setup=_artifact, other=HIDDEN_FROM_ALL_BUT_ADMIN,
              own=REVIEW_OWN_GET),
        Route(
            "POST",
            _url("/edit"),
            setup=_artifact,
            data={"artifact_name": "Scene: school in Leeds",
                  "content": "A red brick school in Leeds; Miss Pratt taught us to sing.",
                  "reason": "Tidied"},
            other=REVIEW_OTHER_POST,
            own=REVIEW_OWN_POST,
        ),
    ],
    "reviews.diff": Route(
        "GET", _url("/diff"), setup=_artifact, other=HIDDEN_FROM_ALL_BUT_ADMIN, own=REVIEW_OWN_GET
    ),
    "reviews.include": Route(
        "POST",
        _url("/include"),
        setup=_approved,
        data={"included": "1"},
        other=REVIEW_OTHER_POST,
        own=REVIEW_OWN_POST,
    ),
    "reviews.storyteller_artifacts": Route(
        "GET",
        lambda s, own: f"/storytellers/{s.storyteller(own).id}/artifacts",
        setup=_approved,
        other=HIDDEN_FROM_ALL_BUT_ADMIN,
        own=REVIEW_OWN_GET,
    ),
    "reviews.my_stories": Route(
        "GET", lambda s, own: "/my-stories", setup=_artifact, other=STORYTELLER_OWN
    ),
    "reviews.confirm": Route(
        "POST",
        _url("/confirm"),
        setup=_artifact,
        other=STORYTELLER_OTHER,
        own=_with_status(STORYTELLER_OWN, {"storyteller": 303}),
    ),
    "reviews.correct": [
        Route("GET", _url("/correct"), setup=_artifact, other=STORYTELLER_OTHER,
              own=STORYTELLER_OWN),
        Route(
            "POST",
            _url("/correct"),
            setup=_artifact,
            data={"content": "A red brick school in Leeds, and Miss Platt who taught us to sing."},
            other=STORYTELLER_OTHER,
            own=_with_status(STORYTELLER_OWN, {"storyteller": 303}),
        ),
    ],
}
