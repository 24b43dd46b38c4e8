"""Everything the database and the disk hold about one storyteller: find it, export it, erase it.

``REGISTRY`` classifies every table of the schema, once: either ``Personal`` (with the
conditions that pick one storyteller's rows: a direct ``storyteller_id``, through their
sessions, their artifacts, their memories, their LLM calls, their own sign-in account ...)
or ``NotPersonal`` (with the reason: agent definitions, processes, per-agent aggregates).
A test walks ``Base.metadata`` and fails when a table is missing here, so a new table must
be classified before it ships.

* ``export_storyteller`` writes a ZIP: ``tables/<table>.json`` (their rows, all of them and
  nobody else's), ``files/<key>`` (documents, every photo copy, audio chunks, book exports)
  and a ``README.txt``.
* ``erase_storyteller`` deletes every one of their rows in every table in one transaction,
  clears references to those rows from rows that stay (a reviewer's account is kept, only
  its link is cleared), writes one audit row (who, when, counts per table; no name, no
  text), commits, and only then removes their files from disk.
* ``scan_for_storyteller`` reads every column of every table for the storyteller's id (in
  UUID columns and inside text and JSON) and their display name; after an erasure it finds
  nothing but the erasure's own audit row, which it skips.

The storyteller's sign-in account (``storyteller.user_id``) is theirs only when its role
is "storyteller": a staff account is never exported or erased with a storyteller.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import JSON, String, Table, Text, Uuid, cast, delete, false, func, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.sql.elements import ColumnElement

from storyteller import audit, file_storage
from storyteller.models import Base, Storyteller, User

ID_CHUNK = 500
# Never written to an export: a password hash or a sign-in token hash is nobody's to carry.
SECRET_COLUMNS = frozenset({"password_hash", "token_hash"})
EXPORTS_FOLDER = "exports"  # storyteller.export_jobs keeps book exports under <instance>/exports


@dataclass(frozen=True)
class Subject:
    """Who the rows are about: the storyteller, their own account (if any), their emails."""

    storyteller_id: uuid.UUID
    user_id: uuid.UUID | None
    emails: tuple[str, ...]


@dataclass(frozen=True)
class Personal:
    """A table that holds storytellers' data; ``where`` picks one storyteller's rows."""

    how: str
    where: Callable[[Subject], list[ColumnElement[bool]]]


@dataclass(frozen=True)
class NotPersonal:
    why: str


def _t(name: str) -> Table:
    return Base.metadata.tables[name]


# ---------------------------------------------------------------- selects of a storyteller's ids


def _sessions(s: Subject) -> Any:
    t = _t("session")
    return select(t.c.id).where(t.c.storyteller_id == s.storyteller_id)


def _in_sessions(table: str, s: Subject, column: str = "session_id") -> ColumnElement[bool]:
    return _t(table).c[column].in_(_sessions(s))


def _artifacts(s: Subject) -> Any:
    t = _t("session_artifact")
    return select(t.c.id).where(t.c.session_id.in_(_sessions(s)))


def _chapters(s: Subject) -> Any:
    t = _t("book_chapter")
    return select(t.c.id).where(t.c.storyteller_id == s.storyteller_id)


def _memories(s: Subject) -> Any:
    t = _t("interaction_memory")
    return select(t.c.id).where(t.c.storyteller_id == s.storyteller_id)


def _recordings(s: Subject) -> Any:
    t = _t("audio_recording")
    return select(t.c.id).where(
        or_(t.c.storyteller_id == s.storyteller_id, t.c.session_id.in_(_sessions(s)))
    )


def _llm_calls(s: Subject) -> Any:
    t = _t("llm_interaction")
    return select(t.c.id).where(
        or_(t.c.storyteller_id == s.storyteller_id, t.c.session_id.in_(_sessions(s)))
    )


def _executions(s: Subject) -> Any:
    t = _t("agent_execution")
    llm = _t("llm_interaction")
    via_calls = select(llm.c.agent_execution_id).where(
        llm.c.agent_execution_id.is_not(None),
        or_(llm.c.storyteller_id == s.storyteller_id, llm.c.session_id.in_(_sessions(s))),
    )
    return select(t.c.id).where(
        or_(
            t.c.session_id.in_(_sessions(s)),
            t.c.id.in_(via_calls),
            *_json_names("agent_execution", "input_data")(s),
        )
    )


def _module_states(s: Subject) -> Any:
    t = _t("module_state")
    return select(t.c.id).where(t.c.session_id.in_(_sessions(s)))


def _mails(s: Subject) -> Any:
    t = _t("mail_message")
    return select(t.c.id).where(or_(*_mail_where(s)))


def _mail_where(s: Subject) -> list[ColumnElement[bool]]:
    t = _t("mail_message")
    conditions: list[ColumnElement[bool]] = [t.c.session_id.in_(_sessions(s))]
    if s.emails:
        conditions.append(func.lower(t.c.to_address).in_(s.emails))
    return conditions


def _own_user(column: str, table: str) -> Callable[[Subject], list[ColumnElement[bool]]]:
    def where(s: Subject) -> list[ColumnElement[bool]]:
        if s.user_id is None:
            return []
        return [_t(table).c[column] == s.user_id]

    return where


def _json_names(table: str, column: str) -> Callable[[Subject], list[ColumnElement[bool]]]:
    """Rows whose JSON column names them by the app's convention: {"storyteller_id": ...}
    (and {"user_id": ...} for their own account)."""

    def where(s: Subject) -> list[ColumnElement[bool]]:
        value = _t(table).c[column]
        conditions = [value["storyteller_id"].as_string() == str(s.storyteller_id)]
        if s.user_id is not None:
            conditions.append(value["user_id"].as_string() == str(s.user_id))
        return conditions

    return where


def _direct(table: str) -> Callable[[Subject], list[ColumnElement[bool]]]:
    return lambda s: [_t(table).c.storyteller_id == s.storyteller_id]


def _via_session(table: str) -> Callable[[Subject], list[ColumnElement[bool]]]:
    return lambda s: [_in_sessions(table, s)]


def _any(*parts: Callable[[Subject], list[ColumnElement[bool]]]) -> Callable[[Subject], Any]:
    return lambda s: [condition for part in parts for condition in part(s)]


def _ids_in(table: str, column: str, ids: Callable[[Subject], Any]) -> Callable[[Subject], Any]:
    return lambda s: [_t(table).c[column].in_(ids(s))]


def _emails(table: str, column: str) -> Callable[[Subject], list[ColumnElement[bool]]]:
    def where(s: Subject) -> list[ColumnElement[bool]]:
        return [func.lower(_t(table).c[column]).in_(s.emails)] if s.emails else []

    return where


REGISTRY: dict[str, Personal | NotPersonal] = {
    # people and access
    "storyteller": Personal(
        "the storyteller's own row", lambda s: [_t("storyteller").c.id == s.storyteller_id]
    ),
    "user": Personal(
        "their own sign-in account (storyteller.user_id, role storyteller only)",
        _own_user("id", "user"),
    ),
    "storyteller_access": Personal(
        "who was granted to them; grants held by their own account",
        _any(_direct("storyteller_access"), _own_user("user_id", "storyteller_access")),
    ),
    "login_session": Personal("their account's sign-ins", _own_user("user_id", "login_session")),
    "login_attempt": Personal(
        "sign-in attempts with their email address", _emails("login_attempt", "email")
    ),
    "invitation": Personal(
        "invitations for them or their account",
        _any(_direct("invitation"), _own_user("user_id", "invitation")),
    ),
    "consent_record": Personal("their consent records", _direct("consent_record")),
    "audit_log": Personal(
        "audit rows about them, or by their own account",
        _any(
            _direct("audit_log"),
            _own_user("actor_id", "audit_log"),
            lambda s: [_t("audit_log").c.object_id == str(s.storyteller_id)],
        ),
    ),
    # their life and sessions
    "life_event": Personal("their life events", _direct("life_event")),
    "session": Personal("their sessions", _direct("session")),
    "session_life_event": Personal("via session", _via_session("session_life_event")),
    "session_interaction": Personal("via session", _via_session("session_interaction")),
    "session_artifact": Personal("via session", _via_session("session_artifact")),
    "artifact_revision": Personal(
        "via session_artifact", _ids_in("artifact_revision", "artifact_id", _artifacts)
    ),
    "session_note": Personal("via session", _via_session("session_note")),
    "answer_draft": Personal("via session", _via_session("answer_draft")),
    "mail_message": Personal("via session, or sent to their email", _mail_where),
    "reminder_delivery": Personal(
        "via session, or mail to them",
        _any(
            _via_session("reminder_delivery"),
            _ids_in("reminder_delivery", "mail_message_id", _mails),
            _emails("reminder_delivery", "recipient"),
        ),
    ),
    "book_chapter": Personal("their book's chapters", _direct("book_chapter")),
    "chapter_revision": Personal(
        "via book_chapter", _ids_in("chapter_revision", "chapter_id", _chapters)
    ),
    "export_job": Personal("exports of their book", _direct("export_job")),
    "document": Personal(
        "their documents, photos, audio", _any(_direct("document"), _via_session("document"))
    ),
    "audio_recording": Personal(
        "their voice answers", _ids_in("audio_recording", "id", _recordings)
    ),
    "audio_chunk": Personal(
        "via audio_recording", _ids_in("audio_chunk", "recording_id", _recordings)
    ),
    # the interviewer's work and telemetry about them
    "agent_execution": Personal(
        "via session, or via their LLM calls", _ids_in("agent_execution", "id", _executions)
    ),
    "llm_interaction": Personal(
        "storyteller_id, or via session", _ids_in("llm_interaction", "id", _llm_calls)
    ),
    "event": Personal(
        "via session, their account, their LLM calls or agent executions, or naming them "
        "in its payload",
        _any(
            _via_session("event"),
            _json_names("event", "payload"),
            _own_user("user_id", "event"),
            _ids_in("event", "llm_interaction_id", _llm_calls),
            _ids_in("event", "agent_execution_id", _executions),
        ),
    ),
    "session_metric": Personal("via session", _via_session("session_metric")),
    "agent_error": Personal(
        "storyteller_id, via session, their account or agent execution",
        _any(
            _direct("agent_error"),
            _via_session("agent_error"),
            _json_names("agent_error", "context"),
            _own_user("user_id", "agent_error"),
            _ids_in("agent_error", "agent_execution_id", _executions),
        ),
    ),
    "usage_daily": Personal("rollup per (storyteller, agent, day)", _direct("usage_daily")),
    "llm_usage_daily": Personal("rollup per storyteller and day", _direct("llm_usage_daily")),
    # memory and state
    "interaction_memory": Personal("what the interviewer learned", _direct("interaction_memory")),
    "memory_access": Personal(
        "via interaction_memory, or via session",
        _any(_ids_in("memory_access", "memory_id", _memories), _via_session("memory_access")),
    ),
    "memory_annotation": Personal(
        "via interaction_memory", _ids_in("memory_annotation", "memory_id", _memories)
    ),
    "module_state": Personal("via session", _ids_in("module_state", "id", _module_states)),
    "state_transition": Personal(
        "via module_state",
        _any(
            _ids_in("state_transition", "state_id", _module_states),
            _ids_in("state_transition", "to_state_id", _module_states),
        ),
    ),
    # no personal data
    "agent": NotPersonal("agent definitions and totals over all storytellers"),
    "agent_version": NotPersonal("agent configurations (prompts, models)"),
    "agent_metric": NotPersonal("per-agent figures over all storytellers"),
    "performance_daily": NotPersonal("per-agent daily rollup over all storytellers"),
    "process_version": NotPersonal("interview process definitions"),
    "process_node": NotPersonal("steps of interview processes"),
    "session_template": NotPersonal("session templates"),
}


def personal_tables() -> list[str]:
    """Tables holding storytellers' data, parents before children."""
    return [
        t.name for t in Base.metadata.sorted_tables if isinstance(REGISTRY.get(t.name), Personal)
    ]


def unclassified_tables() -> list[str]:
    return [t.name for t in Base.metadata.sorted_tables if t.name not in REGISTRY]


def subject_of(db: DbSession, storyteller_id: uuid.UUID) -> Subject:
    """The storyteller, their own account and their email addresses; LookupError if unknown."""
    storyteller = db.get(Storyteller, storyteller_id)
    if storyteller is None:
        raise LookupError(f"No storyteller {storyteller_id}")
    emails = set()
    if storyteller.contact_email:
        emails.add(storyteller.contact_email.strip().lower())
    user_id = None
    if storyteller.user_id is not None:
        user = db.get(User, storyteller.user_id)
        if user is not None and user.role == "storyteller":
            user_id = user.id
            emails.add(user.email.strip().lower())
    return Subject(storyteller_id, user_id, tuple(sorted(emails)))


def rows_condition(table: str, subject: Subject) -> ColumnElement[bool]:
    entry = REGISTRY[table]
    if not isinstance(entry, Personal):
        raise ValueError(f"{table} holds no personal data")
    conditions = entry.where(subject)
    return or_(*conditions) if conditions else false()


def select_rows(table: str, subject: Subject) -> Any:
    t = _t(table)
    return select(t).where(rows_condition(table, subject)).order_by(*t.primary_key.columns)


def row_ids(db: DbSession, subject: Subject) -> dict[str, list[Any]]:
    """Every personal table -> the primary keys of this storyteller's rows (read now)."""
    result: dict[str, list[Any]] = {}
    for name in personal_tables():
        t = _t(name)
        result[name] = list(db.scalars(select(t.c.id).where(rows_condition(name, subject))))
    return result


def row_counts(db: DbSession, storyteller_id: uuid.UUID) -> dict[str, int]:
    """How many rows each personal table holds about them (tables with none left out)."""
    subject = subject_of(db, storyteller_id)
    counts = {}
    for name in personal_tables():
        t = _t(name)
        query = select(func.count()).select_from(t).where(rows_condition(name, subject))
        if count := db.scalar(query):
            counts[name] = count
    return counts


# ----------------------------------------------------------------------------- files


def _file_keys(db: DbSession, subject: Subject) -> list[str]:
    """Storage keys of their files: documents (every photo copy), audio chunks."""
    keys: list[str] = []
    doc = _t("document")
    for key, metadata in db.execute(
        select(doc.c.storage_key, doc.c.metadata).where(rows_condition("document", subject))
    ):
        if key:
            keys.append(key)
        variants = (metadata or {}).get("variants") if isinstance(metadata, dict) else None
        if isinstance(variants, dict):
            keys.extend(v for v in variants.values() if isinstance(v, str) and v)
    chunk = _t("audio_chunk")
    keys.extend(
        db.scalars(select(chunk.c.storage_key).where(rows_condition("audio_chunk", subject)))
    )
    return sorted(set(keys))


def _export_files(db: DbSession, subject: Subject, instance_path: Path) -> list[Path]:
    """Finished book exports, kept under <instance>/exports (relative storage_path)."""
    job = _t("export_job")
    root = (instance_path / EXPORTS_FOLDER).resolve()
    paths = []
    for relative in db.scalars(
        select(job.c.storage_path).where(rows_condition("export_job", subject))
    ):
        if not relative:
            continue
        path = (instance_path / relative).resolve()
        if path.is_relative_to(root) and path.is_file():
            paths.append(path)
    return paths


# ----------------------------------------------------------------------------- export


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


README = """Everything Storyteller holds about {name} (storyteller id {id}),
exported on {when} UTC.

tables/   one JSON file per table of the database: a list of this storyteller's rows
          (every column, as stored, except password and sign-in token hashes, which are
          left empty). Tables without any of their rows are left out.
files/    their files as stored: photos (original, web copy, thumbnail), documents,
          voice recordings (in the pieces they were uploaded in) and book exports.

Row counts:
{counts}
"""


SAMPLE_BYTES = 64 * 1024


def zip_method(path: Path) -> int:
    """How to put a file in the ZIP: stored as it is when it is already compressed (photos,
    voice recordings, PDFs: deflating them again costs seconds per hundred megabytes and
    saves nothing), else deflated. Judged by deflating its first 64 KiB at the fastest level:
    less than a tenth smaller and it is stored."""
    with path.open("rb") as file:
        sample = file.read(SAMPLE_BYTES)
    if len(zlib.compress(sample, 1)) > 0.9 * len(sample):
        return zipfile.ZIP_STORED
    return zipfile.ZIP_DEFLATED


def export_storyteller(
    db: DbSession,
    storyteller_id: uuid.UUID,
    instance_path: str | Path,
    out: IO[bytes] | None = None,
) -> IO[bytes]:
    """Write the ZIP of everything about them to ``out`` (default: a temporary file) and
    return it, positioned at the start. LookupError if the storyteller does not exist."""
    subject = subject_of(db, storyteller_id)
    instance_path = Path(instance_path)
    target: IO[bytes] = out if out is not None else tempfile.TemporaryFile()  # noqa: SIM115
    storage = file_storage.storage_for(instance_path)
    counts: dict[str, int] = {}
    storyteller = db.get(Storyteller, storyteller_id)
    assert storyteller is not None
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in personal_tables():
            rows = [
                {
                    key: None if key in SECRET_COLUMNS else _jsonable(value)
                    for key, value in row._mapping.items()
                }
                for row in db.execute(select_rows(name, subject))
            ]
            if not rows:
                continue
            counts[name] = len(rows)
            archive.writestr(f"tables/{name}.json", json.dumps(rows, indent=2, default=str))
        for key in _file_keys(db, subject):
            if storage.exists(key):
                path = storage.path(key)
                archive.write(path, f"files/{key}", compress_type=zip_method(path))
        for path in _export_files(db, subject, instance_path):
            relative = path.relative_to(instance_path.resolve())
            archive.write(path, f"files/{relative.as_posix()}", compress_type=zip_method(path))
        archive.writestr(
            "README.txt",
            README.format(
                name=storyteller.display_name,
                id=storyteller_id,
                when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
                counts="\n".join(f"  {t}: {n}" for t, n in counts.items()) or "  (none)",
            ),
        )
    target.seek(0)
    return target


# ----------------------------------------------------------------------------- erasure


@dataclass
class Erasure:
    counts: dict[str, int]
    files_removed: int = 0
    audit_id: uuid.UUID | None = None


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), ID_CHUNK):
        yield values[start : start + ID_CHUNK]


def _detach(db: DbSession, doomed: dict[str, list[Any]]) -> None:
    """Clear references to doomed rows from rows that stay (e.g. a staff row's created_by).

    A NOT NULL reference from a row that stays would mean the registry missed a table:
    that is an error, never a silent cascade.
    """
    for table in Base.metadata.sorted_tables:
        staying = set(doomed.get(table.name, ()))
        for fk in table.foreign_keys:
            target_ids = doomed.get(fk.column.table.name)
            if not target_ids:
                continue
            column = fk.parent
            for chunk in _chunks(target_ids):
                condition = column.in_(chunk)
                found = [
                    row_id
                    for row_id in db.scalars(select(table.c.id).where(condition))
                    if row_id not in staying
                ]
                if not found:
                    continue
                if not column.nullable:
                    raise RuntimeError(
                        f"{table.name}.{column.name} refers to the storyteller's rows from rows "
                        "that are not theirs; classify the table in personal_data.REGISTRY"
                    )
                for ids in _chunks(found):
                    db.execute(
                        sql_update(table).where(table.c.id.in_(ids)).values({column.name: None})
                    )


def erase_storyteller(
    db: DbSession, storyteller_id: uuid.UUID, instance_path: str | Path, actor: User
) -> Erasure:
    """Delete every row about them in one transaction, record it, commit, then delete files.

    On any database error nothing is deleted (the transaction is rolled back) and the files
    stay. LookupError if the storyteller does not exist.
    """
    instance_path = Path(instance_path)
    try:
        subject = subject_of(db, storyteller_id)
        doomed = row_ids(db, subject)
        keys = _file_keys(db, subject)
        export_paths = _export_files(db, subject, instance_path)
        _detach(db, doomed)
        for table in reversed(Base.metadata.sorted_tables):
            for ids in _chunks(doomed.get(table.name, [])):
                db.execute(delete(table).where(table.c.id.in_(ids)))
        db.expire_all()
        counts = {name: len(ids) for name, ids in doomed.items() if ids}
        entry = audit.record(
            db,
            actor_id=actor.id,
            action="erase",
            object_type="storyteller",
            object_id=storyteller_id,
            storyteller_id=None,
            details={"rows_deleted": counts, "files": len(keys) + len(export_paths)},
        )
        db.commit()
    except Exception:
        db.rollback()
        raise
    storage = file_storage.storage_for(instance_path)
    removed = sum(1 for key in keys if storage.delete(key))
    exports_root = (instance_path / EXPORTS_FOLDER).resolve()
    for path in export_paths:
        path.unlink(missing_ok=True)
        removed += 1
        folder = path.parent
        if folder != exports_root and folder.is_dir() and not any(folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
    return Erasure(counts=counts, files_removed=removed, audit_id=entry.id)


# ----------------------------------------------------------------------------- scan


@dataclass(frozen=True)
class Hit:
    table: str
    column: str
    row_id: str
    matched: str  # "id" or "name"


@dataclass
class ScanResult:
    hits: list[Hit] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.hits)

    def tables(self) -> set[str]:
        return {hit.table for hit in self.hits}


def _is_text(column: Any) -> bool:
    return isinstance(column.type, String | Text) or isinstance(
        getattr(column.type, "impl", None), String | Text
    )


def _is_json(column: Any) -> bool:
    return isinstance(column.type, JSON)


def scan_for_storyteller(
    db: DbSession, storyteller_id: uuid.UUID, name: str | None = None
) -> ScanResult:
    """Every row of every table whose UUID columns hold the id, or whose text or JSON
    contains the id or the display name (case-insensitive). Skips the audit rows that
    record an erasure of this id (they are the record that it happened)."""
    needle_id = str(storyteller_id).lower()
    needles = [("id", needle_id), ("id", storyteller_id.hex)]
    if name and name.strip():
        needles.append(("name", name.strip().lower()))
    result = ScanResult()
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            probes: list[tuple[str, ColumnElement[bool]]] = []
            if isinstance(column.type, Uuid):
                probes.append(("id", column == storyteller_id))
            elif _is_text(column) or _is_json(column):
                text = func.lower(cast(column, Text) if _is_json(column) else column)
                for matched, needle in needles:
                    probes.append((matched, text.contains(needle, autoescape=True)))
            for matched, probe in probes:
                query = select(table.c.id).where(probe)
                if table.name == "audit_log":
                    query = query.where(
                        ~((table.c.action == "erase") & (table.c.object_id == needle_id))
                    )
                for row_id in db.scalars(query):
                    result.hits.append(Hit(table.name, column.name, str(row_id), matched))
    return result
