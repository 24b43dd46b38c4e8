"""`flask seed-demo`: demo people, a storyteller's life events, the process, templates, sessions.

Idempotent: running it again changes nothing. It refuses to touch a database that holds
real (non-demo) users, so it cannot be run in production by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session as DbSession

from storyteller import accounts, agent_versions, builtin_content, consent
from storyteller.models import (
    LifeEvent,
    Session,
    SessionArtifact,
    SessionInteraction,
    SessionLifeEvent,
    Storyteller,
    StorytellerAccess,
    User,
    utcnow,
)


class DemoRefused(RuntimeError):
    """The database holds real users: demo data is not added there."""


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    name: str
    password: str


DEMO_ACCOUNTS = (
    DemoAccount(
        "storyteller", "margaret@demo.storyteller.test", "Margaret Ellis", "margaret-demo-1941"
    ),
    DemoAccount(
        "coordinator", "daniel@demo.storyteller.test", "Daniel Ellis", "daniel-demo-coordinator"
    ),
    DemoAccount("reviewer", "ruth@demo.storyteller.test", "Ruth Okafor", "ruth-demo-reviewer"),
    DemoAccount("admin", "admin@demo.storyteller.test", "Sam Admin", "admin-demo-operator"),
)

LIFE_EVENTS = (
    (
        "Childhood in Boston",
        "childhood",
        1941,
        1953,
        "Dorchester, Boston",
        "Grew up in a triple-decker on Adams Street with her parents and brother Tom.",
    ),
    (
        "School years",
        "education",
        1947,
        1959,
        "Boston",
        "Girls' Latin School; Miss Kavanagh's English class.",
    ),
    (
        "Nursing career",
        "work",
        1960,
        2001,
        "Boston and Portland",
        "Trained at the Boston City Hospital school of nursing; forty years on the wards.",
    ),
    ("Marriage to Harold", "marriage", 1962, 1962, "Boston", "Met Harold at a dance in 1960."),
    (
        "Moving to Portland",
        "migration",
        1970,
        1970,
        "Portland, Oregon",
        "Drove across the country with two children and everything they owned.",
    ),
)

FIRST_SESSION_TURNS = (
    (
        "Let's begin with where you were born. What do you see when you picture the house "
        "you grew up in?",
        "scene",
        "We lived on the second floor of a triple-decker on Adams Street in Dorchester. In the "
        "summer of 1948 my brother Tom and I sat on the back porch shelling peas while my "
        "mother sang along to the radio in the kitchen.",
        ("Tom",),
        ("Dorchester", "Adams Street"),
    ),
    (
        "You mentioned your brother Tom. What was he like?",
        "people",
        "Tom was three years older, tall and always laughing. He taught me to ride a bicycle in "
        "Franklin Park and never once told our father when I fell.",
        ("Tom",),
        ("Franklin Park",),
    ),
)


@dataclass(frozen=True)
class DemoResult:
    accounts: tuple[DemoAccount, ...]
    created: bool


def _refuse_if_real_users(db: DbSession) -> None:
    if db.scalar(select(exists().where(User.is_demo.is_(False)))):
        raise DemoRefused(
            "This database already holds real (non-demo) users, so no demo data was added. "
            "Use an empty database for the demo."
        )


def _ensure_user(db: DbSession, account: DemoAccount) -> User:
    user = db.scalar(select(User).where(User.email == account.email))
    if user is None:
        user = accounts.create_user(
            db,
            email=account.email,
            name=account.name,
            role=account.role,
            password=account.password,
            is_demo=True,
        )
    return user


def seed_demo(db: DbSession) -> DemoResult:
    _refuse_if_real_users(db)
    users = {account.role: _ensure_user(db, account) for account in DEMO_ACCOUNTS}
    process = builtin_content.ensure_default_process(db)
    templates = builtin_content.ensure_builtin_templates(db, process)
    agent, version = agent_versions.ensure_interviewer_agent(db)

    storyteller = db.scalar(
        select(Storyteller).where(Storyteller.user_id == users["storyteller"].id)
    )
    if storyteller is not None:
        return DemoResult(DEMO_ACCOUNTS, created=False)

    now = utcnow()
    storyteller = Storyteller(
        display_name="Margaret Ellis",
        user_id=users["storyteller"].id,
        birth_year=1941,
        time_zone="America/New_York",
        created_by_id=users["coordinator"].id,
    )
    db.add(storyteller)
    db.flush()
    consent.record_consent(
        db,
        storyteller,
        scope=["interview", "llm_processing", "family_sharing", "book_publication"],
        sensitive_topics=["health"],
        method="in_person",
        recorded_by_id=users["coordinator"].id,
        note="Agreed at the kitchen table with Daniel present.",
    )
    for role in ("coordinator", "reviewer"):
        db.add(
            StorytellerAccess(
                storyteller_id=storyteller.id,
                user_id=users[role].id,
                access_level=role,
                granted_by_id=users["admin"].id,
            )
        )
    events = []
    for name, kind, start, end, place, description in LIFE_EVENTS:
        event = LifeEvent(
            storyteller_id=storyteller.id,
            event_name=name,
            event_type=kind,
            start_year=start,
            end_year=end,
            location=place,
            description=description,
        )
        db.add(event)
        events.append(event)
    db.flush()

    childhood = next(t for t in templates if t.template_name == "Childhood exploration")
    first_node = process.nodes[0]
    completed = Session(
        storyteller_id=storyteller.id,
        process_version_id=process.id,
        current_process_node_id=first_node.id,
        session_name="Getting to know you",
        intention=first_node.agent_objective,
        success_indicators=["Birthplace and family identified"],
        completion_indicators=["Storyteller says they've covered the main memories"],
        constraints=["Keep it light and welcoming"],
        status="completed",
        scheduled_at=now - timedelta(days=7),
        scheduled_duration_minutes=30,
        started_at=now - timedelta(days=7),
        ended_at=now - timedelta(days=7) + timedelta(minutes=24),
        actual_duration_minutes=24,
        completion_percentage=100,
        session_source="process_node",
        agent_id=agent.id,
        agent_version_id=version.id,
        created_by_id=users["coordinator"].id,
        summary="Margaret described the house on Adams Street and her brother Tom.",
        next_session_suggestion="Childhood in Boston: scenes from the neighbourhood and school.",
        last_activity_at=now - timedelta(days=7) + timedelta(minutes=24),
    )
    db.add(completed)
    db.flush()
    db.add(
        SessionLifeEvent(
            session_id=completed.id,
            life_event_id=events[0].id,
            is_primary_focus=True,
            coverage_level="introduction",
            prompts_completed=len(FIRST_SESSION_TURNS),
        )
    )
    for sequence, (question, category, answer, people, places) in enumerate(
        FIRST_SESSION_TURNS, start=1
    ):
        interaction = SessionInteraction(
            session_id=completed.id,
            life_event_id=events[0].id,
            interaction_sequence=sequence,
            interaction_type="prompt",
            agent_prompt=question,
            prompt_category=category,
            storyteller_response=answer,
            response_method="text",
            sentiment="positive",
            mentions_people=list(people),
            mentions_places=list(places),
            answered_at=completed.started_at + timedelta(minutes=8 * sequence),
        )
        db.add(interaction)
        db.flush()
        db.add(
            SessionArtifact(
                session_id=completed.id,
                life_event_id=events[0].id,
                source_interaction_id=interaction.id,
                artifact_type="scene_capture" if sequence == 1 else "relationship_mapping",
                artifact_name="Shelling peas on the back porch" if sequence == 1 else "Brother Tom",
                content=answer,
                structured_data={"people": list(people), "places": list(places)},
            )
        )
    completed.message_count = 2 * len(FIRST_SESSION_TURNS)

    upcoming = Session(
        storyteller_id=storyteller.id,
        process_version_id=process.id,
        current_process_node_id=process.nodes[1].id,
        session_template_id=childhood.id,
        session_name="Childhood in Boston exploration",
        intention=childhood.default_intention,
        success_indicators=list(childhood.default_success_indicators or []),
        completion_indicators=list(childhood.default_completion_indicators or []),
        constraints=list(childhood.default_constraints or []),
        procedure_notes=childhood.default_procedure_notes,
        scheduled_at=(now + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0),
        scheduled_duration_minutes=childhood.default_duration_minutes,
        session_source="template",
        parent_session_id=completed.id,
        agent_id=agent.id,
        agent_version_id=version.id,
        created_by_id=users["coordinator"].id,
        session_tags=["childhood"],
    )
    db.add(upcoming)
    db.flush()
    db.add(
        SessionLifeEvent(
            session_id=upcoming.id,
            life_event_id=events[0].id,
            is_primary_focus=True,
            coverage_level="exploration",
        )
    )
    db.flush()
    return DemoResult(DEMO_ACCOUNTS, created=True)
