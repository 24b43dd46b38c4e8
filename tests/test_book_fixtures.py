"""Helpers for the book tests: a storyteller whose story has life events, sessions and artifacts.

(No tests here; tests/test_book.py and tests/test_book_views.py use these builders.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from storyteller.models import (
    LifeEvent,
    ProcessNode,
    ProcessVersion,
    Session,
    SessionArtifact,
    SessionInteraction,
    SessionLifeEvent,
    Storyteller,
)

REJECTED_TEXT = "The rejected story about the blue bicycle must never be printed."
NOT_INCLUDED_TEXT = "An approved memory of the garden shed that was not chosen for the book."
PROVISIONAL_TEXT = "A provisional memory of the train to Chicago, not yet reviewed."


@dataclass
class World:
    storyteller: Storyteller
    events: dict[str, LifeEvent] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    artifacts: dict[str, SessionArtifact] = field(default_factory=dict)
    interactions: dict[str, SessionInteraction] = field(default_factory=dict)


def add_artifact(
    db,
    world: World,
    key: str,
    session: Session,
    text: str,
    *,
    status: str = "approved",
    included: bool = True,
    life_event: LifeEvent | None = None,
    data: dict[str, Any] | None = None,
    sequence: int | None = None,
    name: str | None = None,
) -> SessionArtifact:
    """An artifact with its source interaction (the storyteller's answer)."""
    sequence = sequence or (
        len([i for i in world.interactions.values() if i.session_id == session.id]) + 1
    )
    interaction = SessionInteraction(
        session_id=session.id,
        interaction_sequence=sequence,
        agent_prompt="Tell me about it.",
        storyteller_response=text,
        response_method="text",
    )
    db.add(interaction)
    db.flush()
    artifact = SessionArtifact(
        session_id=session.id,
        life_event_id=life_event.id if life_event else None,
        source_interaction_id=interaction.id,
        artifact_type="scene_capture",
        artifact_name=name or key,
        content=text,
        structured_data=data or {},
        review_status=status,
        is_approved=status == "approved",
        included_in_synthesis=included,
    )
    db.add(artifact)
    db.flush()
    world.interactions[key] = interaction
    world.artifacts[key] = artifact
    return artifact


def build_world(db, make_storyteller, **storyteller_fields: Any) -> World:
    """Margaret's story: three life events, a period-only session and a loose session.

    Chapters in life order: Moving to Boston (1948), Grandmother's kitchen (childhood, no
    year), First day at school (1952), Working years (work period of a process node, no
    event), Wedding (1960), Other memories.
    """
    storyteller = make_storyteller(display_name="Margaret Ellis", **storyteller_fields)
    world = World(storyteller)
    for key, name, year, period in (
        ("school", "First day at school", 1952, "school"),
        ("boston", "Moving to Boston", 1948, "childhood"),
        ("wedding", "Wedding", 1960, "love_and_family"),
        ("kitchen", "Grandmother's kitchen", None, "childhood"),
    ):
        event = LifeEvent(
            storyteller_id=storyteller.id, event_name=name, start_year=year, life_period=period
        )
        db.add(event)
        world.events[key] = event
    version = ProcessVersion(name="Plan", version_number="1")
    db.add(version)
    db.flush()
    node = ProcessNode(
        process_version_id=version.id,
        node_name="Work",
        sequence=1,
        agent_objective="Work life",
        life_period="work",
    )
    db.add(node)
    db.flush()

    def session(key: str, day: int, **fields: Any) -> Session:
        made = Session(
            storyteller_id=storyteller.id,
            intention="Memories",
            session_name=key,
            started_at=datetime(2026, 10, day, 10, tzinfo=UTC),
            **fields,
        )
        db.add(made)
        db.flush()
        world.sessions[key] = made
        return made

    first = session("first", 1)
    second = session("second", 5)
    work = session("work", 7, current_process_node_id=node.id)
    loose = session("loose", 9)
    db.add(
        SessionLifeEvent(
            session_id=second.id, life_event_id=world.events["wedding"].id, is_primary_focus=True
        )
    )
    db.flush()
    ev = world.events
    # Moving to Boston: told in the second session but spoken of years: 1949 then 1948.
    add_artifact(
        db,
        world,
        "boston_late",
        second,
        "In 1949 we found a flat on Dover Street.",
        life_event=ev["boston"],
        data={"years": [1949]},
    )
    add_artifact(
        db,
        world,
        "boston_early",
        first,
        "We came to Boston by train in 1948.",
        life_event=ev["boston"],
        data={"when": [1948]},
    )
    # School: no years; by session date (the first session before the second).
    add_artifact(
        db, world, "school_b", second, "My teacher was Miss Grant.", life_event=ev["school"]
    )
    add_artifact(
        db,
        world,
        "school_a",
        first,
        "I wore my brother's old coat on the first day.",
        life_event=ev["school"],
    )
    add_artifact(
        db,
        world,
        "kitchen",
        first,
        "Grandmother baked bread every Friday.",
        life_event=ev["kitchen"],
    )
    # Wedding: from the session's primary life event.
    add_artifact(db, world, "wedding", second, "We married in June at St. Mary's.")
    add_artifact(db, world, "work", work, "I worked at the bakery on Main Street.")
    add_artifact(db, world, "other", loose, "I always loved the sea.")
    # Never in the book.
    add_artifact(
        db, world, "rejected", first, REJECTED_TEXT, status="rejected", life_event=ev["school"]
    )
    add_artifact(
        db, world, "not_included", first, NOT_INCLUDED_TEXT, included=False, life_event=ev["school"]
    )
    add_artifact(
        db,
        world,
        "provisional",
        first,
        PROVISIONAL_TEXT,
        status="provisional",
        life_event=ev["school"],
    )
    db.flush()
    return world


EXPECTED_TITLES = [
    "Moving to Boston",
    "Grandmother's kitchen",
    "First day at school",
    "Work life",
    "Wedding",
    "Other memories",
]


def new_id() -> str:
    return str(uuid.uuid4())
