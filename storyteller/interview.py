"""Conducting a session (seed 003): start, answer, one turn of the interviewer, pause, finish.

The storyteller's answer is saved and committed by the caller before a turn runs
(`record_answer`, then commit, then `run_turn`): if anything in the turn fails the
answer is already safe. A turn analyses the answer, creates provisional artifacts,
writes memories, evaluates progress and asks the next question (the LLM when it is
configured, within budget and working; the offline interviewer otherwise). Every step
is an event; the turn is one agent_execution; every LLM call is an llm_interaction.
The interview's progress lives in module_state, one chain per session.
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from storyteller import (
    agent_versions,
    consent,
    events,
    memories,
    module_states,
    photos,
    processes,
    session_metrics,
)
from storyteller.agent.analysis import Analysis, analyze_answer, facts_from_analysis
from storyteller.agent.context import (
    ArtifactRef,
    InterviewContext,
    LifeEventRef,
    MemoryItem,
    PhotoRef,
    Turn,
)
from storyteller.agent.interviewer import (
    Interviewer,
    NextQuestion,
    merge_analysis,
    request_analysis,
)
from storyteller.agent.llm import LlmCallResult, LlmSettings, shared_client
from storyteller.agent.progress import completion_percentage, evaluate_indicators
from storyteller.models import (
    Agent,
    AgentError,
    AgentExecution,
    AnswerDraft,
    Document,
    InteractionMemory,
    LifeEvent,
    LlmInteraction,
    ProcessNode,
    Session,
    SessionArtifact,
    SessionInteraction,
    SessionLifeEvent,
    SessionTemplate,
    Storyteller,
    utcnow,
)

PROGRESS_STATE = "interview_progress"
MAX_ANSWER_CHARS = 100_000
ANSWERABLE = ("in_progress",)
STARTABLE = ("scheduled", "paused", "in_progress")


class InterviewError(ValueError):
    """Something the storyteller asked for cannot be done; the message is for them."""


class AlreadyAnswered(InterviewError):
    def __init__(self, interaction: SessionInteraction) -> None:
        super().__init__("This question has already been answered, perhaps in another window.")
        self.interaction = interaction


class StaleDraft(InterviewError):
    def __init__(self, draft: AnswerDraft) -> None:
        super().__init__("A newer version of this answer was saved in another window.")
        self.draft = draft


@dataclass(frozen=True)
class InterviewSettings:
    llm: LlmSettings
    daily_token_budget: int
    prices: dict[str, Any]


# ----------------------------------------------------------------------------- reading


def open_interaction(db: DbSession, session: Session) -> SessionInteraction | None:
    """The question waiting for an answer, if there is one."""
    return db.scalar(
        select(SessionInteraction)
        .where(
            SessionInteraction.session_id == session.id,
            SessionInteraction.response_method.is_(None),
        )
        .order_by(SessionInteraction.interaction_sequence.desc())
        .limit(1)
    )


def interactions_of(db: DbSession, session: Session) -> list[SessionInteraction]:
    return list(
        db.scalars(
            select(SessionInteraction)
            .where(SessionInteraction.session_id == session.id)
            .order_by(SessionInteraction.interaction_sequence)
        )
    )


def draft_for(db: DbSession, interaction: SessionInteraction) -> AnswerDraft | None:
    return db.scalar(select(AnswerDraft).where(AnswerDraft.interaction_id == interaction.id))


# ----------------------------------------------------------------------------- progress


def _progress_state(
    session: Session,
    interactions: list[SessionInteraction],
    asking: tuple[uuid.UUID, str | None] | None = None,
) -> dict[str, Any]:
    """The interview's progress; ``asking`` is (id, question key) of a question being asked."""
    asked_keys = [
        (i.metadata_ or {}).get("question_key")
        for i in interactions
        if (i.metadata_ or {}).get("question_key")
    ]
    open_id = next((str(i.id) for i in interactions if i.response_method is None), None)
    if asking is not None:
        open_id = str(asking[0])
        if asking[1]:
            asked_keys.append(asking[1])
    return {
        "status": session.status,
        "questions_asked": len(interactions) + (1 if asking is not None else 0),
        "answered": sum(1 for i in interactions if i.response_method in ("text", "voice")),
        "skipped": sum(1 for i in interactions if i.response_method == "skip"),
        "open_interaction_id": open_id,
        "asked_keys": asked_keys,
        "completion_percentage": session.completion_percentage or 0,
    }


def _save_progress(
    db: DbSession,
    session: Session,
    *,
    trigger_type: str,
    trigger_id: str | None = None,
    interactions: list[SessionInteraction] | None = None,
    asking: tuple[uuid.UUID, str | None] | None = None,
) -> None:
    if interactions is None:
        interactions = interactions_of(db, session)
    module_states.upsert_module_state(
        db,
        module_id=f"interview:{session.id}",
        state=_progress_state(session, interactions, asking),
        state_type=PROGRESS_STATE,
        session_id=session.id,
        trigger_type=trigger_type,
        trigger_id=trigger_id,
    )


@dataclass(frozen=True)
class Progress:
    success: list[Any]
    completion: list[Any]
    percentage: int
    can_complete: bool


@dataclass
class SessionSnapshot:
    """Everything a turn reads about its session, loaded once (a handful of queries)."""

    storyteller: Storyteller | None
    interactions: list[SessionInteraction]
    links: list[tuple[SessionLifeEvent, LifeEvent]]
    memory_rows: list[InteractionMemory]
    artifacts: list[SessionArtifact]
    template: SessionTemplate | None
    node: ProcessNode | None
    #: The storyteller's photos in the interviewer's order (see photos.photos_for_interview)
    #: and whether this session asked for one ("Ask about this photo", or added during it).
    photos: list[Document | None] = field(default_factory=list)
    photo_asked_for: bool = False
    photo_life_events: dict[uuid.UUID, str] = field(default_factory=dict)

    @property
    def primary_life_event_id(self) -> uuid.UUID | None:
        return next((link.life_event_id for link, _ in self.links if link.is_primary_focus), None)

    @property
    def open_interaction(self) -> SessionInteraction | None:
        """The question waiting for an answer (the latest, as ``open_interaction`` reads it)."""
        return next((i for i in reversed(self.interactions) if i.response_method is None), None)

    @property
    def next_sequence(self) -> int:
        return 1 + max((i.interaction_sequence for i in self.interactions), default=0)


def load_snapshot(
    db: DbSession, session: Session, *, with_memories: bool = True
) -> SessionSnapshot:
    links = [
        (link, event)
        for link, event in db.execute(
            select(SessionLifeEvent, LifeEvent)
            .join(LifeEvent, SessionLifeEvent.life_event_id == LifeEvent.id)
            .where(SessionLifeEvent.session_id == session.id)
        ).all()
    ]
    memory_rows: list[InteractionMemory] = []
    if with_memories:
        memory_rows = [
            m
            for m in memories.usable_memories(db, session.storyteller_id, limit=40)
            if m.session_id != session.id
        ][:12]
    interactions = interactions_of(db, session)
    session_photos, photo_asked_for = photos.photos_for_interview(db, session, interactions)
    return SessionSnapshot(
        storyteller=db.get(Storyteller, session.storyteller_id),
        interactions=interactions,
        links=links,
        memory_rows=memory_rows,
        artifacts=list(
            db.scalars(select(SessionArtifact).where(SessionArtifact.session_id == session.id))
        ),
        template=db.get(SessionTemplate, session.session_template_id)
        if session.session_template_id
        else None,
        node=db.get(ProcessNode, session.current_process_node_id)
        if session.current_process_node_id
        else None,
        photos=session_photos,
        photo_asked_for=photo_asked_for,
        photo_life_events=_life_event_names(db, session_photos),
    )


def _life_event_names(db: DbSession, documents: list[Document | None]) -> dict[uuid.UUID, str]:
    ids = {d.life_event_id for d in documents if d is not None and d.life_event_id}
    if not ids:
        return {}
    rows = db.execute(select(LifeEvent.id, LifeEvent.event_name).where(LifeEvent.id.in_(ids)))
    return {row.id: row.event_name for row in rows}


# How each sensitive topic of consent.SENSITIVE_TOPICS is put to the interviewer when the
# storyteller has not agreed to talk about it (the offline interviewer reads "Do not bring
# up ..." as a topic to avoid; the LLM gets the same line among its constraints).
_UNCONSENTED_TOPIC = {
    "health": "Do not bring up health, illness or hospitals unless the storyteller does first",
    "faith": "Do not bring up faith, religion or church unless the storyteller does first",
    "trauma": "Do not bring up trauma, war, death or loss unless the storyteller does first",
    "relationships": "Do not bring up divorce or family conflict unless the storyteller does "
    "first",
    "politics": "Do not bring up politics unless the storyteller does first",
    "finances": "Do not bring up money or finances unless the storyteller does first",
}


def consent_constraints(storyteller: Storyteller | None) -> list[str]:
    """Constraints for the sensitive topics the storyteller has not explicitly agreed to."""
    agreed = set(consent.consented_topics(storyteller)) if storyteller else set()
    return [line for topic, line in _UNCONSENTED_TOPIC.items() if topic not in agreed]


def context_from(session: Session, snapshot: SessionSnapshot) -> InterviewContext:
    """What the interviewer may see: this session, its life events, earlier memories."""
    interactions = snapshot.interactions
    turns = [
        Turn(
            question=i.agent_prompt or "",
            category=i.prompt_category,
            answer=i.storyteller_response,
            skipped=i.response_method == "skip",
            analysis=Analysis.from_dict((i.metadata_ or {}).get("analysis"))
            if i.storyteller_response
            else None,
        )
        for i in interactions
        if i.response_method is not None
    ]
    life_events = [
        LifeEventRef(
            name=e.event_name,
            event_type=e.event_type,
            start_year=e.start_year,
            end_year=e.end_year,
            location=e.location,
            description=e.description,
            is_primary=link.is_primary_focus,
        )
        for link, e in snapshot.links
    ]
    index_of = {i.id: n for n, i in enumerate(i for i in interactions if i.response_method)}
    artifacts = [
        ArtifactRef(a.artifact_type, index_of.get(a.source_interaction_id), a.artifact_name)
        for a in snapshot.artifacts
    ]
    node = snapshot.node
    return InterviewContext(
        storyteller_name=snapshot.storyteller.display_name if snapshot.storyteller else "",
        session_name=session.session_name,
        intention=session.intention,
        success_indicators=list(session.success_indicators or []),
        completion_indicators=list(session.completion_indicators or []),
        constraints=list(session.constraints or [])
        + consent_constraints(snapshot.storyteller),
        procedure_notes=session.procedure_notes,
        node_objective=node.agent_objective if node else None,
        life_events=life_events,
        turns=turns,
        memories=[
            MemoryItem(str(m.id), m.memory_type, dict(m.content), m.confidence)
            for m in snapshot.memory_rows
        ],
        wants_photos=bool(snapshot.template and snapshot.template.wants_photos)
        or snapshot.photo_asked_for,
        photo_captions=[(d.title or "") if d else "" for d in snapshot.photos],
        photos=[_photo_ref(d, snapshot.photo_life_events) for d in snapshot.photos],
        artifacts=artifacts,
    )


def _photo_ref(document: Document | None, event_names: dict[uuid.UUID, str]) -> PhotoRef:
    if document is None:
        return PhotoRef(document_id="", title=None, life_event=None, taken_at=None)
    life_event = event_names.get(document.life_event_id) if document.life_event_id else None
    return PhotoRef(
        document_id=str(document.id),
        title=document.title or None,
        life_event=life_event or None,
        taken_at=(document.metadata_ or {}).get("taken_at"),
    )


def _photo_of_question(
    snapshot: SessionSnapshot, question_key: str | None, source: str
) -> Document | None:
    """The photo a question is about: "photo:n" names it; a photo follow-up keeps the last one.

    (An LLM-phrased question has source "llm" but keeps the planned key.)
    """
    if question_key and question_key.startswith("photo:"):
        try:
            return snapshot.photos[int(question_key.split(":", 1)[1])]
        except (ValueError, IndexError):
            return None
    if source != "photo":
        return None
    for earlier in reversed(snapshot.interactions):
        photo_id = (earlier.metadata_ or {}).get("photo_document_id")
        if photo_id:
            return next((d for d in snapshot.photos if d and str(d.id) == photo_id), None)
    return None


def build_context(
    db: DbSession, session: Session, *, with_memories: bool = True
) -> tuple[InterviewContext, list[InteractionMemory]]:
    """The interviewer's context, read from the database."""
    snapshot = load_snapshot(db, session, with_memories=with_memories)
    return context_from(session, snapshot), snapshot.memory_rows


#: With no indicators at all, a session is "complete" after this many answered questions.
ANSWERS_FOR_A_SESSION_WITHOUT_INDICATORS = 5


def evaluate_progress(ctx: InterviewContext) -> Progress:
    success = evaluate_indicators(ctx.success_indicators, ctx, ctx.artifacts)
    completion = evaluate_indicators(ctx.completion_indicators, ctx, ctx.artifacts)
    answered = sum(1 for t in ctx.turns if t.answer and not t.skipped)
    enough = ANSWERS_FOR_A_SESSION_WITHOUT_INDICATORS
    if success or completion:
        percentage = completion_percentage(success, completion)
    else:
        percentage = min(100, round(100 * answered / enough))
    can_complete = (all(c.met for c in completion) and bool(completion)) or (
        not completion and answered >= enough
    )
    return Progress(success, completion, percentage, can_complete)


# ----------------------------------------------------------------------------- steps


def _touch(
    db: DbSession,
    session: Session,
    *,
    messages: int = 0,
    tokens: int = 0,
    cost: Decimal | None = None,
    agent: bool = True,
) -> None:
    """Session counters, changed with the turn, in the same transaction."""
    values: dict[str, Any] = {"last_activity_at": utcnow()}
    if messages:
        values["message_count"] = Session.message_count + messages
    if tokens:
        values["total_tokens"] = Session.total_tokens + tokens
    if cost:
        values["total_cost"] = Session.total_cost + cost
    # Atomic increments; the ORM applies the same change to the loaded object ("evaluate").
    db.execute(update(Session).where(Session.id == session.id).values(**values))
    if agent:
        _touch_agent(db, session)


def _touch_agent(db: DbSession, session: Session) -> None:
    if session.agent_id:
        db.execute(
            update(Agent).where(Agent.id == session.agent_id).values(last_active_at=utcnow())
        )


def start(
    db: DbSession,
    session: Session,
    *,
    user_id: uuid.UUID | None,
    settings: InterviewSettings,
    on_delta: Callable[[str], None] | None = None,
) -> SessionInteraction:
    """Start or resume a session and return the question waiting for an answer."""
    if session.status not in STARTABLE:
        raise InterviewError("This session has ended. Your home page lists your other sessions.")
    try:
        consent.require_consent(session.storyteller)
    except consent.ConsentRequired as refused:
        raise InterviewError(str(refused)) from refused
    if session.agent_version_id is None:
        agent, version = agent_versions.ensure_interviewer_agent(db)
        session.agent_id, session.agent_version_id = agent.id, version.id
    if session.status != "in_progress":
        event_type = "session.resumed" if session.status == "paused" else "session.started"
        session.status = "in_progress"
        session.started_at = session.started_at or utcnow()
        events.record_event(db, event_type=event_type, session_id=session.id, user_id=user_id)
        _touch(db, session)
        _save_progress(db, session, trigger_type="user_action", trigger_id=event_type)
    waiting = open_interaction(db, session)
    if waiting is None:
        waiting = _ask(db, session, user_id=user_id, settings=settings, on_delta=on_delta)
    return waiting


def save_draft(
    db: DbSession,
    interaction: SessionInteraction,
    *,
    content: str,
    version: int,
    user_id: uuid.UUID | None,
) -> AnswerDraft:
    """Autosave the answer being written. A stale version (another tab) never overwrites."""
    if interaction.response_method is not None:
        raise AlreadyAnswered(interaction)
    content = content[:MAX_ANSWER_CHARS]
    draft = draft_for(db, interaction)
    if draft is None:
        draft = AnswerDraft(
            session_id=interaction.session_id,
            interaction_id=interaction.id,
            content=content,
            version=version,
            saved_by_id=user_id,
        )
        try:
            with db.begin_nested():  # another tab may insert the first draft at the same time
                db.add(draft)
                db.flush()
            return draft
        except IntegrityError:
            draft = draft_for(db, interaction)
            assert draft is not None  # the other tab's row, now committed
    # A conditional update: only a newer version wins, even between two racing requests.
    updated = db.execute(
        update(AnswerDraft)
        .where(AnswerDraft.id == draft.id, AnswerDraft.version < version)
        .values(content=content, version=version, saved_by_id=user_id, updated_at=utcnow())
    ).rowcount
    db.refresh(draft)
    if not updated:
        raise StaleDraft(draft)
    return draft


def record_answer(
    db: DbSession,
    session: Session,
    interaction: SessionInteraction,
    *,
    text: str,
    method: str,
    idempotency_key: str | None,
    user_id: uuid.UUID | None,
) -> tuple[SessionInteraction, bool]:
    """Save the answer (or the skip). Returns (interaction, created): a repeat is not new."""
    if idempotency_key:
        existing = db.scalar(
            select(SessionInteraction).where(SessionInteraction.idempotency_key == idempotency_key)
        )
        if existing is not None:
            return existing, False
    if interaction.session_id != session.id:
        raise InterviewError("That question belongs to another session.")
    if interaction.response_method is not None:
        raise AlreadyAnswered(interaction)
    if session.status != "in_progress":
        raise InterviewError("This session is not running. Press Continue to carry on.")
    text = (text or "").strip()
    if method not in ("text", "voice", "skip"):
        raise InterviewError("That kind of answer is not known.")
    if method != "skip" and not text:
        raise InterviewError("Please write your answer, or press “Skip this question”.")
    if len(text) > MAX_ANSWER_CHARS:
        raise InterviewError("That answer is very long. Please split it into two answers.")
    now = utcnow()
    interaction.storyteller_response = text if method != "skip" else None
    interaction.response_method = method
    interaction.answered_at = now
    interaction.idempotency_key = idempotency_key
    interaction.duration_seconds = max(0, int((now - interaction.created_at).total_seconds()))
    draft = draft_for(db, interaction)
    if draft is not None:
        db.delete(draft)
    events.record_event(
        db,
        event_type="question.skipped" if method == "skip" else "answer.saved",
        session_id=session.id,
        user_id=user_id,
        payload={"interaction_id": str(interaction.id), "characters": len(text)},
    )
    _touch(db, session, messages=0 if method == "skip" else 1)
    return interaction, True


@dataclass
class TurnResult:
    execution: AgentExecution
    next_interaction: SessionInteraction
    artifacts: list[SessionArtifact]
    fell_back: bool


# LLM calls run on these threads so that the turn's own reading and writing happens while
# the model is thinking. The threads only talk HTTP: the database session stays on the
# caller's thread.
_LLM_THREADS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="llm-call")


class _Trace:
    """One agent execution's bookkeeping: its events, written together, and what it spent."""

    def __init__(self, db: DbSession, session: Session, execution: AgentExecution) -> None:
        self.db = db
        self.session = session
        self.execution = execution
        self.events = events.EventBatch(db, session.id)
        self.messages = 0
        self.tokens = 0
        self.cost: Decimal | None = None
        self.fell_back = False

    def event(
        self,
        event_type: str,
        *,
        started: float | None = None,
        payload: dict[str, Any] | None = None,
        user_id: uuid.UUID | None = None,
        llm_interaction_id: uuid.UUID | None = None,
    ) -> None:
        self.events.add(
            event_type=event_type,
            user_id=user_id,
            trace_id=self.execution.trace_id,
            agent_execution_id=self.execution.id,
            llm_interaction_id=llm_interaction_id,
            duration_ms=int((time.perf_counter() - started) * 1000)
            if started is not None
            else None,
            payload=payload,
        )

    def spent(self, tokens: int, cost: Decimal | None) -> None:
        self.tokens += tokens
        if cost is not None:
            self.cost = (self.cost or Decimal("0")) + cost

    def close(self) -> None:
        """The session's counters, once, and the events; all in the caller's transaction."""
        _touch(
            self.db,
            self.session,
            messages=self.messages,
            tokens=self.tokens,
            cost=self.cost,
            agent=False,
        )
        self.events.write()


def _apply_analysis(interaction: SessionInteraction, analysis: Analysis) -> None:
    interaction.sentiment = analysis.sentiment
    interaction.key_themes = analysis.key_themes
    interaction.mentions_people = analysis.people
    interaction.mentions_places = analysis.places
    interaction.metadata_ = {**(interaction.metadata_ or {}), "analysis": analysis.to_dict()}


def _plan_artifacts(
    session: Session,
    interaction: SessionInteraction,
    analysis: Analysis,
    primary_life_event_id: uuid.UUID | None,
) -> list[SessionArtifact]:
    """The provisional artifacts this answer yields (not yet added to the database)."""
    text = interaction.storyteller_response or ""
    made: list[SessionArtifact] = []

    def add(kind: str, name: str, content: str, data: dict[str, Any]) -> None:
        made.append(
            SessionArtifact(
                id=uuid.uuid4(),
                session_id=session.id,
                life_event_id=primary_life_event_id,
                source_interaction_id=interaction.id,
                artifact_type=kind,
                artifact_name=name[:200],
                content=content,
                structured_data=data,
            )
        )

    where = ", ".join(analysis.places[:2])
    if analysis.is_scene:
        label = where or (str(analysis.years[0]) if analysis.years else "a remembered moment")
        add(
            "scene_capture",
            f"Scene: {label}",
            text,
            {
                "who": analysis.people,
                "where": analysis.places,
                "when": analysis.years,
                "themes": analysis.key_themes,
            },
        )
    if analysis.years:
        add(
            "timeline_entry",
            f"{analysis.years[0]}: {interaction.prompt_category or 'memory'}",
            text,
            {"years": analysis.years, "places": analysis.places},
        )
    for person in analysis.describes_person[:3]:
        add("relationship_mapping", person, text, {"person": person, "people": analysis.people})
    photo_id = (interaction.metadata_ or {}).get("photo_document_id")
    if photo_id and text.strip():
        caption = photos.caption_from(text)
        add("photo_annotation", caption, text, photos.annotation_data(photo_id, analysis, caption))
    return made


def _store_answer_outcome(
    db: DbSession,
    session: Session,
    trace: _Trace,
    interaction: SessionInteraction,
    analysis: Analysis,
    artifacts: list[SessionArtifact],
) -> None:
    """Artifacts, memories and the life event's prompt count for one analysed answer."""
    db.add_all(artifacts)
    for artifact in artifacts:
        trace.event(
            "artifact.created",
            payload={"artifact_id": str(artifact.id), "type": artifact.artifact_type},
        )
    _write_memories(db, session, trace, interaction, analysis)
    db.execute(
        update(SessionLifeEvent)
        .where(SessionLifeEvent.session_id == session.id, SessionLifeEvent.is_primary_focus)
        .values(prompts_completed=SessionLifeEvent.prompts_completed + 1)
    )


def _write_memories(
    db: DbSession,
    session: Session,
    trace: _Trace,
    interaction: SessionInteraction,
    analysis: Analysis,
) -> int:
    count = 0
    for candidate in facts_from_analysis(interaction.storyteller_response or "", analysis):
        memory = memories.remember(
            db,
            storyteller_id=session.storyteller_id,
            memory_type=candidate.memory_type,
            memory_key=str(candidate.content.get("key") or candidate.content.get("subject"))[:200],
            content=candidate.content,
            confidence=candidate.confidence,
            agent_id=session.agent_id,
            session_id=session.id,
            interaction_id=interaction.id,
        )
        trace.event(
            "memory.written", payload={"memory_id": str(memory.id), "type": memory.memory_type}
        )
        count += 1
    return count


def tokens_used_today(db: DbSession, storyteller_id: uuid.UUID) -> int:
    start_of_day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return int(
        db.scalar(
            select(
                func.coalesce(
                    func.sum(
                        func.coalesce(LlmInteraction.prompt_tokens, 0)
                        + func.coalesce(LlmInteraction.response_tokens, 0)
                    ),
                    0,
                )
            ).where(
                LlmInteraction.storyteller_id == storyteller_id,
                LlmInteraction.created_at >= start_of_day,
            )
        )
        or 0
    )


def _record_llm_call(
    trace: _Trace, result: LlmCallResult, settings: InterviewSettings, purpose: str
) -> LlmInteraction:
    session, execution = trace.session, trace.execution
    cost = result.cost(settings.prices)  # None when the model has no price: "unpriced"
    row = LlmInteraction(
        id=uuid.uuid4(),
        session_id=session.id,
        storyteller_id=session.storyteller_id,
        agent_id=session.agent_id,
        agent_version_id=session.agent_version_id,
        agent_execution_id=execution.id,
        trace_id=execution.trace_id,
        purpose=purpose,
        prompt=result.messages,
        response=result.response_text,
        model=result.model,
        response_model=result.response_model,
        prompt_tokens=result.prompt_tokens,
        response_tokens=result.response_tokens,
        cost=cost,
        latency_ms=result.latency_ms,
        time_to_first_token_ms=result.time_to_first_token_ms,
        is_streaming=result.is_streaming,
        success=result.success,
        error_type=result.error_type,
        error_message=result.error_message,
        status_code=result.status_code,
        attempts=max(1, result.attempts),
        created_at=result.started_at,
    )
    trace.db.add(row)
    trace.spent((result.prompt_tokens or 0) + (result.response_tokens or 0), cost)
    return row


def _interviewer_for(session: Session, settings: InterviewSettings) -> tuple[Interviewer, str]:
    """The interviewer of the session's agent version, and the model it uses."""
    version = session.agent_version
    config = dict(version.configuration or {}) if version else {}
    llm_settings = LlmSettings(
        base_url=settings.llm.base_url,
        api_key=settings.llm.api_key,
        model=config.get("model") or settings.llm.model,
        timeout_seconds=settings.llm.timeout_seconds,
        max_retries=settings.llm.max_retries,
        temperature=config.get("temperature", settings.llm.temperature),
    )
    client = shared_client(llm_settings) if llm_settings.enabled else None
    prompt = config.get("system_prompt") or agent_versions.DEFAULT_SYSTEM_PROMPT
    return Interviewer(client, prompt), llm_settings.model


class _Budget:
    """The storyteller's daily token budget: read once per turn, then kept up to date."""

    def __init__(self, db: DbSession, session: Session, settings: InterviewSettings) -> None:
        self.limit = settings.daily_token_budget
        self.used_before = tokens_used_today(db, session.storyteller_id)

    def allows(self, trace: _Trace) -> bool:
        if self.used_before + trace.tokens < self.limit:
            return True
        trace.event("llm.budget_exhausted")
        return False


def _llm_allowed(
    db: DbSession, session: Session, trace: _Trace, settings: InterviewSettings
) -> tuple[Interviewer, str, _Budget | None]:
    """The interviewer, its model, and its budget (None when no LLM is configured)."""
    interviewer, model = _interviewer_for(session, settings)
    if interviewer.llm is None:
        return interviewer, model, None
    return interviewer, model, _Budget(db, session, settings)


def _fallback(
    trace: _Trace,
    result: LlmCallResult | None,
    llm_row: LlmInteraction | None,
    reason: str | None,
    model: str,
) -> None:
    """An LLM call gave nothing usable: an event and an agent_error; the offline path goes on."""
    session, execution = trace.session, trace.execution
    trace.fell_back = True
    trace.event(
        "llm.fallback",
        llm_interaction_id=llm_row.id if llm_row else None,
        payload={"reason": reason, "purpose": llm_row.purpose if llm_row else None},
    )
    trace.db.add(
        AgentError(
            storyteller_id=session.storyteller_id,
            session_id=session.id,
            agent_id=session.agent_id,
            agent_execution_id=execution.id,
            error_type=f"llm_{reason}",
            error_message=(result.error_message if result else None)
            or "The LLM gave no usable answer; the offline interviewer carried on.",
            error_code=str(result.status_code) if result and result.status_code else None,
            context={
                "model": model,
                "trace_id": str(execution.trace_id),
                "purpose": llm_row.purpose if llm_row else None,
            },
        )
    )


def _store_question(
    db: DbSession,
    trace: _Trace,
    chosen: NextQuestion,
    snapshot: SessionSnapshot,
    *,
    settings: InterviewSettings,
    model: str,
    started: float,
    interaction_id: uuid.UUID,
) -> SessionInteraction:
    """The chosen question as an interaction waiting for its answer, with its LLM call."""
    session, execution = trace.session, trace.execution
    llm_row = None
    if chosen.llm_result is not None:
        llm_row = _record_llm_call(trace, chosen.llm_result, settings, "next_question")
    if chosen.fell_back:
        _fallback(trace, chosen.llm_result, llm_row, chosen.fallback_reason, model)
    used = set(chosen.question.used_memory_ids)
    for memory in snapshot.memory_rows:
        if str(memory.id) in used:
            memories.record_memory_access(
                db,
                memory_id=memory.id,
                accessed_by=str(session.agent_id or "interviewer"),
                accessor_type="agent",
                context=f"next question: {chosen.question.key or ''}"[:500],
                session_id=session.id,
                agent_execution_id=execution.id,
            )
    question = chosen.question
    phrased = llm_row is not None and not chosen.fell_back
    photo = _photo_of_question(snapshot, question.key, question.source)
    interaction = SessionInteraction(
        id=interaction_id,
        session_id=session.id,
        life_event_id=snapshot.primary_life_event_id,
        interaction_sequence=snapshot.next_sequence,
        interaction_type="reflection" if question.source == "closing" else "prompt",
        agent_prompt=question.text,
        prompt_category=question.category,
        llm_interaction_id=llm_row.id if phrased and llm_row else None,
        model_used=llm_row.model if phrased and llm_row else "offline",
        tokens_used=((llm_row.prompt_tokens or 0) + (llm_row.response_tokens or 0))
        if llm_row
        else 0,
        cost=llm_row.cost if llm_row else None,
        response_time_ms=llm_row.latency_ms
        if llm_row
        else int((time.perf_counter() - started) * 1000),
        tools_used=[],
        metadata_={
            "question_key": question.key,
            "source": question.source,
            "follow_up_of": question.follow_up_of,
            "life_period": question.life_period,
            **({"photo_document_id": str(photo.id)} if photo else {}),
        },
        created_at=utcnow(),
    )
    db.add(interaction)
    trace.messages += 1
    trace.event(
        "question.asked",
        started=started,
        payload={
            "interaction_id": str(interaction.id),
            "source": question.source,
            "category": question.category,
        },
    )
    return interaction


def _ask(
    db: DbSession,
    session: Session,
    *,
    user_id: uuid.UUID | None,
    settings: InterviewSettings,
    on_delta: Callable[[str], None] | None = None,
) -> SessionInteraction:
    """The opening question of a session (or after a resume with nothing open)."""
    execution = _begin_execution(db, session, {"step": "opening"})
    trace = _Trace(db, session, execution)
    interviewer, model, budget = _llm_allowed(db, session, trace, settings)
    snapshot = load_snapshot(db, session)
    ctx = context_from(session, snapshot)
    started = time.perf_counter()
    planned = interviewer.plan(ctx)
    use_llm = interviewer.will_call_llm(planned, use_llm=True) and bool(
        budget and budget.allows(trace)
    )
    chosen = interviewer.phrase(ctx, planned, use_llm=use_llm, on_delta=on_delta)
    interaction = _store_question(
        db,
        trace,
        chosen,
        snapshot,
        settings=settings,
        model=model,
        started=started,
        interaction_id=uuid.uuid4(),
    )
    _finish_execution(execution, {"question_interaction_id": str(interaction.id)})
    _touch_agent(db, session)
    trace.close()
    db.flush()
    return interaction


def _begin_execution(db: DbSession, session: Session, input_data: dict[str, Any]) -> AgentExecution:
    execution = AgentExecution(
        id=uuid.uuid4(),
        agent_id=session.agent_id or agent_versions.ensure_interviewer_agent(db)[0].id,
        agent_version_id=session.agent_version_id,
        session_id=session.id,
        trace_id=uuid.uuid4(),
        input_data=input_data,
        status="running",
        started_at=utcnow(),
    )
    db.add(execution)
    return execution


def _finish_execution(
    execution: AgentExecution, output: dict[str, Any], error: str | None = None
) -> None:
    execution.completed_at = utcnow()
    execution.duration_ms = int(
        (execution.completed_at - execution.started_at).total_seconds() * 1000
    )
    execution.output_data = output
    execution.status = "failed" if error else "succeeded"
    execution.error_message = error


def run_turn(
    db: DbSession,
    session: Session,
    interaction: SessionInteraction,
    *,
    user_id: uuid.UUID | None,
    settings: InterviewSettings,
    on_delta: Callable[[str], None] | None = None,
) -> TurnResult:
    """Everything after the answer is saved: analysis, artifacts, memories, progress, question.

    The two LLM calls (labelling the answer, phrasing the next question) run on a worker
    thread; while each one is out, this thread does the work that does not need its result
    (reading the session, the offline analysis; then storing artifacts, memories and
    progress), so the turn costs little more than the calls themselves.
    """
    execution = _begin_execution(
        db,
        session,
        {"interaction_id": str(interaction.id), "response_method": interaction.response_method},
    )
    trace = _Trace(db, session, execution)
    interviewer, model, budget = _llm_allowed(db, session, trace, settings)
    answer = interaction.storyteller_response if interaction.response_method != "skip" else None
    labelling: Future[LlmCallResult] | None = None
    if answer and interviewer.llm is not None and budget is not None and budget.allows(trace):
        labelling = _LLM_THREADS.submit(request_analysis, interviewer.llm, answer)
    trace.event("turn.started", user_id=user_id)

    # While the LLM labels the answer: the offline analysis and every read the turn needs.
    started = time.perf_counter()
    analysis = analyze_answer(answer) if answer else None
    snapshot = load_snapshot(db, session)
    artifacts: list[SessionArtifact] = []
    if analysis is not None:
        if labelling is not None:
            result = labelling.result()
            refined = merge_analysis(analysis, result)
            row = _record_llm_call(trace, result, settings, "analysis")
            if refined is analysis:
                _fallback(trace, result, row, result.error_type or "bad_response", model)
            analysis = refined
        _apply_analysis(interaction, analysis)
        trace.event(
            "analysis.done",
            started=started,
            payload={"sentiment": analysis.sentiment, "themes": analysis.key_themes},
        )
        artifacts = _plan_artifacts(session, interaction, analysis, snapshot.primary_life_event_id)
        snapshot.artifacts.extend(artifacts)

    ctx = context_from(session, snapshot)
    progress = evaluate_progress(ctx)
    session.completion_percentage = progress.percentage
    asking = time.perf_counter()
    planned = interviewer.plan(ctx, completion_reached=progress.can_complete)
    phrasing: Future[NextQuestion] | None = None
    if (
        interviewer.will_call_llm(planned, use_llm=True)
        and budget is not None
        and budget.allows(trace)
    ):
        phrasing = _LLM_THREADS.submit(
            interviewer.phrase, ctx, planned, use_llm=True, on_delta=on_delta
        )

    # While the interviewer phrases the question: everything that does not depend on it.
    next_id = uuid.uuid4()
    if analysis is not None:
        _store_answer_outcome(db, session, trace, interaction, analysis, artifacts)
    _save_progress(
        db,
        session,
        trigger_type="agent_decision",
        trigger_id=str(execution.id),
        interactions=snapshot.interactions,
        asking=(next_id, planned.key),
    )
    _touch_agent(db, session)
    trace.events.write()  # flushes the above too; the rest of the events follow the question

    chosen = phrasing.result() if phrasing is not None else NextQuestion(planned, None, False)
    next_interaction = _store_question(
        db,
        trace,
        chosen,
        snapshot,
        settings=settings,
        model=model,
        started=asking,
        interaction_id=next_id,
    )
    _finish_execution(
        execution,
        {
            "next_interaction_id": str(next_interaction.id),
            "artifacts": [str(a.id) for a in artifacts],
            "completion_percentage": progress.percentage,
            "fell_back": trace.fell_back,
        },
    )
    session_metrics.record_turn(db, session, execution)
    trace.close()
    return TurnResult(execution, next_interaction, artifacts, trace.fell_back)


def record_turn_failure(
    db: DbSession, session: Session, interaction: SessionInteraction, error: BaseException
) -> None:
    """After a failed turn (rolled back), note the error; the saved answer is untouched."""
    db.add(
        AgentError(
            storyteller_id=session.storyteller_id,
            session_id=session.id,
            agent_id=session.agent_id,
            error_type=type(error).__name__,
            error_message=str(error)[:2000] or type(error).__name__,
            stack_trace="".join(traceback.format_exception(error))[-8000:],
            context={"interaction_id": str(interaction.id)},
        )
    )
    events.record_event(
        db,
        event_type="turn.failed",
        session_id=session.id,
        payload={"interaction_id": str(interaction.id), "error": type(error).__name__},
    )


def pause(db: DbSession, session: Session, *, user_id: uuid.UUID | None) -> None:
    if session.status != "in_progress":
        raise InterviewError("Only a session that is running can be paused.")
    session.status = "paused"
    events.record_event(db, event_type="session.paused", session_id=session.id, user_id=user_id)
    _touch(db, session)
    _save_progress(db, session, trigger_type="user_action", trigger_id="session.paused")


def _active_minutes(interactions: list[SessionInteraction]) -> int:
    seconds = sum(min(i.duration_seconds or 0, 15 * 60) for i in interactions)
    return max(1, round(seconds / 60)) if interactions else 0


def finish(db: DbSession, session: Session, *, user_id: uuid.UUID | None) -> Session:
    """End the session: timing, the post-session summary, and the next-session suggestion."""
    if session.status not in ("in_progress", "paused"):
        raise InterviewError("This session is not running.")
    waiting = open_interaction(db, session)
    if waiting is not None:
        db.delete(waiting)  # the unanswered last question is not part of the record
        db.flush()
        _touch(db, session, messages=-1)
    interactions = interactions_of(db, session)
    ctx, _ = build_context(db, session, with_memories=False)
    progress = evaluate_progress(ctx)
    now = utcnow()
    session.status = "completed"
    session.ended_at = now
    session.actual_duration_minutes = _active_minutes(interactions)
    session.completion_percentage = progress.percentage
    session.summary = build_summary(db, session, interactions, progress)
    session.next_session_suggestion = suggest_next(db, session, progress)
    session.success_rating = max(1, min(5, round(progress.percentage / 20) or 1))
    session.quality_score = round(progress.percentage / 100, 2)
    events.record_event(
        db,
        event_type="session.completed",
        session_id=session.id,
        user_id=user_id,
        payload={"completion_percentage": progress.percentage},
    )
    _touch(db, session)
    _save_progress(db, session, trigger_type="user_action", trigger_id="session.completed")
    session_metrics.record_end(db, session)
    return session


def rate(db: DbSession, session: Session, *, satisfaction: int, user_id: uuid.UUID | None) -> None:
    if session.status != "completed":
        raise InterviewError("A session can be rated once it is finished.")
    if satisfaction not in (1, 2, 3, 4, 5):
        raise InterviewError("Please choose from 1 to 5.")
    session.user_satisfaction = satisfaction
    events.record_event(
        db,
        event_type="session.rated",
        session_id=session.id,
        user_id=user_id,
        payload={"satisfaction": satisfaction},
    )
    session_metrics.record_satisfaction(db, session, satisfaction)


def build_summary(
    db: DbSession, session: Session, interactions: list[SessionInteraction], progress: Progress
) -> str:
    """Seed 003's post-session summary, in plain words."""
    artifacts = list(
        db.scalars(select(SessionArtifact).where(SessionArtifact.session_id == session.id))
    )
    events_linked = (
        db.scalar(
            select(func.count())
            .select_from(SessionLifeEvent)
            .where(SessionLifeEvent.session_id == session.id)
        )
        or 0
    )
    answered = [i for i in interactions if i.response_method in ("text", "voice")]
    skipped = sum(1 for i in interactions if i.response_method == "skip")
    themes: dict[str, int] = {}
    people: dict[str, int] = {}
    for i in answered:
        for t in i.key_themes or []:
            themes[t] = themes.get(t, 0) + 1
        for p in i.mentions_people or []:
            people[p] = people.get(p, 0) + 1
    top_themes = [t for t, _ in sorted(themes.items(), key=lambda kv: -kv[1])[:6]]
    top_people = [p for p, _ in sorted(people.items(), key=lambda kv: -kv[1])[:6]]
    minutes = session.actual_duration_minutes or 0
    lines = [
        f"Session: {session.display_name}",
        f"Duration: {minutes} minute{'' if minutes == 1 else 's'}",
        f"Goal: {session.intention}",
        "",
        "What was covered:",
        f"- {events_linked} life events explored",
        f"- {len(answered)} questions answered, {skipped} skipped",
        f"- {len(artifacts)} artifacts created",
        "",
        "Key accomplishments:",
    ]
    for check in progress.success:
        mark = "Met" if check.met else "Not yet"
        evidence = f" ({check.evidence})" if check.met and check.evidence else ""
        lines.append(f"- {mark}: {check.indicator}{evidence}")
    if not progress.success:
        lines.append("- No success indicators were set for this session.")
    lines += [
        "",
        "Themes that emerged:",
        f"- {', '.join(top_themes) if top_themes else 'none yet'}",
    ]
    if top_people:
        lines.append(f"- People mentioned: {', '.join(top_people)}")
    lines += ["", "Next steps:", f"- {suggest_next(db, session, progress)}"]
    return "\n".join(lines)


def suggest_next(db: DbSession, session: Session, progress: Progress) -> str:
    unmet = [c.indicator for c in progress.success if not c.met]
    if unmet:
        return f"Continue {session.display_name}: {unmet[0][0].lower()}{unmet[0][1:]}."
    following = processes.next_node(session.current_process_node)
    if following is not None:
        return f"{following.node_name}: {following.agent_objective}"
    return "A reflection session: what these memories mean to you today."


def settings_from_config(config: dict[str, Any]) -> InterviewSettings:
    return InterviewSettings(
        llm=LlmSettings(
            base_url=config.get("OPENAI_BASE_URL"),
            api_key=config.get("OPENAI_API_KEY"),
            model=config.get("STORYTELLER_LLM_MODEL") or "gpt-4o-mini",
            timeout_seconds=float(config.get("STORYTELLER_LLM_TIMEOUT", 20)),
            max_retries=int(config.get("STORYTELLER_LLM_RETRIES", 1)),
        ),
        daily_token_budget=int(config.get("STORYTELLER_DAILY_TOKEN_BUDGET", 200_000)),
        prices=dict(config.get("STORYTELLER_MODEL_PRICES") or {}),
    )
