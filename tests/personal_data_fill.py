"""A storyteller with rows in every table that can hold theirs, and files on disk.

``fill_storyteller`` returns, per table, the ids it made for that storyteller, so tests
can check an export or an erasure row by row. ``shared_rows`` makes the rows that belong
to no storyteller (agent, versions, process, template, a reviewer) once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session as DbSession

from storyteller import accounts, file_storage
from storyteller.models import (
    Agent,
    AgentError,
    AgentExecution,
    AgentMetric,
    AgentVersion,
    AnswerDraft,
    ArtifactRevision,
    AudioChunk,
    AudioRecording,
    AuditLog,
    BookChapter,
    ChapterRevision,
    ConsentRecord,
    Document,
    Event,
    ExportJob,
    InteractionMemory,
    Invitation,
    LifeEvent,
    LlmInteraction,
    LlmUsageDaily,
    LoginAttempt,
    LoginSession,
    MailMessage,
    MemoryAccess,
    MemoryAnnotation,
    ModuleState,
    PerformanceDaily,
    ProcessNode,
    ProcessVersion,
    ReminderDelivery,
    Session,
    SessionArtifact,
    SessionInteraction,
    SessionLifeEvent,
    SessionMetric,
    SessionNote,
    SessionTemplate,
    StateTransition,
    Storyteller,
    StorytellerAccess,
    UsageDaily,
    User,
)

WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass
class Shared:
    agent: Agent
    version: AgentVersion
    process: ProcessVersion
    node: ProcessNode
    template: SessionTemplate
    reviewer: User
    ids: dict[str, set[Any]] = field(default_factory=lambda: defaultdict(set))


def shared_rows(db: DbSession) -> Shared:
    tag = uuid.uuid4().hex[:6]
    agent = Agent(name=f"Interviewer {tag}", type="interviewer")
    db.add(agent)
    db.flush()
    version = AgentVersion(agent_id=agent.id, version_number="1", configuration={"m": 1})
    process = ProcessVersion(name=f"Process {tag}", version_number="1")
    db.add_all([version, process])
    db.flush()
    node = ProcessNode(
        process_version_id=process.id,
        node_name="Childhood",
        sequence=1,
        agent_objective="Ask about childhood",
    )
    template = SessionTemplate(process_version_id=process.id, template_name=f"Tpl {tag}")
    reviewer = accounts.create_user(
        db,
        email=f"rev-{tag}@example.org",
        name="Rita Reviewer",
        role="reviewer",
        password="correct horse battery",
    )
    db.add_all([node, template])
    db.flush()
    db.add_all(
        [
            AgentMetric(
                agent_id=agent.id, metric_type="sessions", metric_value=2.0, timestamp=WHEN
            ),
            PerformanceDaily(agent_id=agent.id, date=date(2026, 3, 2), total_sessions=2),
        ]
    )
    db.flush()
    return Shared(agent, version, process, node, template, reviewer)


def _save(storage: file_storage.LocalStorage, kind: str, data: bytes) -> str:
    key = file_storage.new_key(kind, ".bin")
    storage.save(key, data)
    return key


def fill_storyteller(
    db: DbSession, shared: Shared, name: str, instance_path: str | Path
) -> tuple[Storyteller, dict[str, set[Any]], list[str]]:
    """A storyteller called ``name`` with rows in every personal table; (them, ids, keys)."""
    ids: dict[str, set[Any]] = defaultdict(set)
    storage = file_storage.storage_for(instance_path)
    tag = uuid.uuid4().hex[:6]

    def add(*rows: Any) -> None:
        db.add_all(rows)
        db.flush()
        for row in rows:
            ids[row.__tablename__].add(row.id)

    email = f"{name.split()[0].lower()}-{tag}@example.org"
    user = accounts.create_user(
        db, email=email, name=name, role="storyteller", password="correct horse battery"
    )
    ids["user"].add(user.id)
    storyteller = Storyteller(display_name=name, user_id=user.id, contact_email=email)
    add(storyteller)
    sid = storyteller.id
    add(StorytellerAccess(storyteller_id=sid, user_id=shared.reviewer.id, access_level="reviewer"))
    add(
        LoginSession(token_hash=uuid.uuid4().hex, user_id=user.id),
        LoginAttempt(email=email, ip_address="10.0.0.1", succeeded=True),
        Invitation(
            token_hash=uuid.uuid4().hex,
            user_id=user.id,
            storyteller_id=sid,
            email=email,
            expires_at=WHEN,
        ),
        ConsentRecord(storyteller_id=sid, scope=["interview"], agreed_at=WHEN),
        AuditLog(
            actor_id=shared.reviewer.id, storyteller_id=sid, action="read", object_type="session"
        ),
        AuditLog(actor_id=user.id, action="read", object_type="book"),
    )
    life = LifeEvent(storyteller_id=sid, event_name=f"{name} goes to school")
    add(life)
    session = Session(
        storyteller_id=sid,
        intention=f"Talk with {name} about school",
        agent_id=shared.agent.id,
        agent_version_id=shared.version.id,
        process_version_id=shared.process.id,
        current_process_node_id=shared.node.id,
        session_template_id=shared.template.id,
        created_by_id=shared.reviewer.id,
    )
    add(session)
    child = Session(storyteller_id=sid, intention="Follow-up", parent_session_id=session.id)
    add(child)
    execution = AgentExecution(
        agent_id=shared.agent.id,
        agent_version_id=shared.version.id,
        session_id=session.id,
        input_data={"storyteller": str(sid)},
    )
    book_execution = AgentExecution(agent_id=shared.agent.id, session_id=None)
    add(execution, book_execution)
    call = LlmInteraction(
        session_id=session.id,
        storyteller_id=sid,
        agent_id=shared.agent.id,
        agent_execution_id=execution.id,
        model="m",
        prompt=[{"role": "user", "content": f"Hello {name}"}],
        response="Hi",
    )
    book_call = LlmInteraction(
        storyteller_id=sid, agent_execution_id=book_execution.id, model="m", purpose="book_chapter"
    )
    add(call, book_call)
    interaction = SessionInteraction(
        session_id=session.id,
        interaction_sequence=1,
        agent_prompt="Where was school?",
        storyteller_response=f"I, {name}, walked to school",
        llm_interaction_id=call.id,
        life_event_id=life.id,
    )
    add(interaction)
    artifact = SessionArtifact(
        session_id=session.id,
        artifact_type="scene_capture",
        content="The walk to school",
        source_interaction_id=interaction.id,
        reviewed_by_id=shared.reviewer.id,
    )
    add(artifact)
    chapter = BookChapter(
        storyteller_id=sid,
        sequence=1,
        title="School",
        paragraphs=[{"text": "x", "artifact_ids": [str(artifact.id)]}],
        llm_interaction_id=book_call.id,
    )
    add(chapter)
    mail = MailMessage(
        to_address=email,
        subject="Reminder",
        body_text=f"Dear {name}",
        backend="outbox",
        session_id=session.id,
    )
    add(mail)
    export_key = f"exports/{uuid.uuid4()}/book.pdf"
    export_path = Path(instance_path) / export_key
    export_path.parent.mkdir(parents=True, exist_ok=True)
    export_path.write_bytes(b"%PDF " + name.encode())
    add(
        SessionLifeEvent(session_id=session.id, life_event_id=life.id),
        ArtifactRevision(
            artifact_id=artifact.id, revision_number=1, content="Old walk", edited_by_id=user.id
        ),
        SessionNote(session_id=session.id, note_content=f"{name} was tired"),
        AnswerDraft(
            session_id=session.id,
            interaction_id=interaction.id,
            content="draft",
            saved_by_id=user.id,
        ),
        ReminderDelivery(
            session_id=session.id,
            recipient=email,
            lead="24h",
            scheduled_for=WHEN,
            mail_message_id=mail.id,
        ),
        ChapterRevision(
            chapter_id=chapter.id, revision_number=1, title="School", content="old", paragraphs=[]
        ),
        ExportJob(storyteller_id=sid, kind="pdf", status="succeeded", storage_path=export_key),
        Event(
            event_type="turn",
            session_id=session.id,
            user_id=user.id,
            timestamp_ms=1,
            sequence=1,
            payload={"text": name},
            agent_execution_id=execution.id,
            llm_interaction_id=call.id,
        ),
        Event(
            event_type="book",
            session_id=None,
            timestamp_ms=2,
            payload={},
            llm_interaction_id=book_call.id,
        ),
        Event(event_type="consent.recorded", timestamp_ms=3, payload={"storyteller_id": str(sid)}),
        AgentError(error_type="Roster", error_message="x", context={"user_id": str(user.id)}),
        SessionMetric(session_id=session.id, metric_type="turns", metric_value=1, timestamp=WHEN),
        AgentError(
            storyteller_id=sid,
            session_id=session.id,
            agent_id=shared.agent.id,
            error_type="Timeout",
            error_message="slow",
            user_id=user.id,
        ),
        UsageDaily(
            storyteller_id=sid,
            agent_id=shared.agent.id,
            date=date(2026, 3, 2),
            total_cost=Decimal("0.01"),
        ),
        LlmUsageDaily(
            date=date(2026, 3, 2),
            dimension_key=f"{sid}|m",
            storyteller_id=sid,
            agent_id=shared.agent.id,
            model="m",
        ),
    )
    keys = []
    photo_keys = {
        v: _save(storage, "photos", f"{v} of {name}".encode()) for v in ("original", "web", "thumb")
    }
    keys.extend(photo_keys.values())
    photo = Document(
        storyteller_id=sid,
        kind="photo",
        title="School photo",
        storage_key=photo_keys["web"],
        metadata_={"variants": photo_keys},
        content_type="image/jpeg",
    )
    audio_key = _save(storage, "audio", f"voice of {name}".encode())
    keys.append(audio_key)
    audio_doc = Document(
        session_id=session.id,
        kind="audio",
        title="Answer",
        storage_key=audio_key,
        interaction_id=interaction.id,
    )
    add(photo, audio_doc)
    recording = AudioRecording(
        session_id=session.id,
        storyteller_id=sid,
        mime_type="audio/webm",
        interaction_id=interaction.id,
        document_id=audio_doc.id,
        llm_interaction_id=call.id,
        created_by_id=user.id,
    )
    add(recording)
    chunk_key = _save(storage, "audio-chunks", f"chunk of {name}".encode())
    keys.append(chunk_key)
    add(
        AudioChunk(
            recording_id=recording.id,
            sequence=0,
            size_bytes=10,
            sha256="0" * 64,
            storage_key=chunk_key,
        )
    )
    memory = InteractionMemory(
        storyteller_id=sid,
        agent_id=shared.agent.id,
        session_id=session.id,
        interaction_id=interaction.id,
        memory_type="place",
        content={"place": f"{name}'s school"},
    )
    add(memory)
    state = ModuleState(
        module_id=f"interview:{session.id}",
        state={"turn": 1},
        session_id=session.id,
        state_type="interview_progress",
        state_hash="a",
    )
    add(state)
    state2 = ModuleState(
        module_id=f"interview:{session.id}",
        state={"turn": 2},
        session_id=session.id,
        state_type="interview_progress",
        state_hash="b",
        previous_state_id=state.id,
    )
    add(state2)
    add(
        MemoryAccess(
            memory_id=memory.id,
            access_type="read",
            accessed_by=str(shared.agent.id),
            accessor_type="agent",
            session_id=session.id,
            agent_execution_id=execution.id,
        ),
        MemoryAnnotation(
            memory_id=memory.id,
            annotation_type="correction",
            content={"place": "Elm Street school"},
            created_by_id=shared.reviewer.id,
        ),
        StateTransition(state_id=state.id, to_state_id=state2.id, trigger_type="user_action"),
    )
    return storyteller, ids, keys
