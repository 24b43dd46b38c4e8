"""The archive package for one storyteller: a ZIP to hand to a family or an archive.

Inside one folder ``<name>-archive/``:

- ``README.txt``: what the package is and what each file holds;
- ``book/``: the approved book as Markdown, HTML and PDF, with ``images/`` beside them;
- ``transcripts/``: every session in full, question and answer in order, with dates
  (one Markdown file per session);
- ``metadata/``: Dublin Core for each session (one XML file per session, simple DC in
  the ``http://purl.org/dc/elements/1.1/`` namespace inside an ``oai_dc:dc`` record);
- ``consent/``: every consent record, in force or withdrawn, as JSON and as plain text.

Every query is filtered by this storyteller's id: nothing of anybody else's is in it.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from storyteller import local_time
from storyteller.book_content import load_book
from storyteller.consent import SCOPE_LABELS, TOPIC_LABELS, consent_history
from storyteller.exports import Progress, Rendered, book_slug, photo_names, unique_photos
from storyteller.exports.html_book import book_html
from storyteller.exports.markdown import book_markdown, escape
from storyteller.exports.pdf import book_pdf
from storyteller.models import Session, SessionInteraction, Storyteller

__all__ = ["DC", "OAI_DC", "dublin_core", "render_archive", "session_title", "transcript"]

DC = "http://purl.org/dc/elements/1.1/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
ElementTree.register_namespace("dc", DC)
ElementTree.register_namespace("oai_dc", OAI_DC)

STORED_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".pdf", ".epub")


@dataclass(frozen=True)
class SessionFiles:
    session: Session
    interactions: list[SessionInteraction]
    stem: str


def session_moment(session: Session) -> datetime:
    return session.started_at or session.scheduled_at or session.created_at


def session_date(session: Session, zone_name: str) -> str:
    """'5 October 2026', in the storyteller's time zone."""
    local = local_time.to_local(session_moment(session), zone_name)
    return f"{local.day} {local:%B %Y}"


def session_title(storyteller: Storyteller, session: Session) -> str:
    date = session_date(session, storyteller.time_zone)
    return f"Oral history interview with {storyteller.display_name}, {date}"


def session_themes(session: Session, interactions: list[SessionInteraction]) -> list[str]:
    themes: list[str] = []
    for theme in [*(session.session_tags or []),
                  *(t for i in interactions for t in (i.key_themes or []))]:
        theme = str(theme).strip()
        if theme and theme.lower() not in (t.lower() for t in themes):
            themes.append(theme)
    return themes


def _when(moment: datetime | None, zone_name: str) -> str:
    return local_time.format_local(moment, zone_name) if moment else "not recorded"


def transcript(storyteller: Storyteller, files: SessionFiles) -> str:
    """One session in full, as Markdown: what it was for, then every question and answer."""
    session, zone_name = files.session, storyteller.time_zone
    lines = [
        f"# {escape(session_title(storyteller, session))}", "",
        f"- Session: {escape(session.display_name)}",
        f"- Planned for: {_when(session.scheduled_at, zone_name)}",
        f"- Started: {_when(session.started_at, zone_name)}",
        f"- Ended: {_when(session.ended_at, zone_name)}",
        f"- Status: {session.status}",
        f"- Intention: {escape(session.intention or '')}",
    ]
    if session.summary:
        lines.append(f"- Summary: {escape(session.summary)}")
    lines.append("")
    if not files.interactions:
        lines += ["Nothing was said in this session.", ""]
    for interaction in files.interactions:
        lines += [f"## {interaction.interaction_sequence}. "
                  f"{_when(interaction.answered_at or interaction.created_at, zone_name)}", ""]
        if interaction.agent_prompt:
            lines += [f"**Interviewer:** {escape(interaction.agent_prompt)}", ""]
        answer = (interaction.storyteller_response or "").strip()
        if interaction.response_method == "skip" or not answer:
            answer = "(no answer)"
        else:
            answer = escape(answer)
        lines += [f"**{escape(storyteller.display_name)}:** {answer}", ""]
    return "\n".join(lines)


def dublin_core(storyteller: Storyteller, files: SessionFiles) -> bytes:
    """Simple Dublin Core for one session, as an XML document."""
    session = files.session
    record = ElementTree.Element(f"{{{OAI_DC}}}dc")

    def add(name: str, value: str) -> None:
        ElementTree.SubElement(record, f"{{{DC}}}{name}").text = value

    add("title", session_title(storyteller, session))
    add("creator", storyteller.display_name)
    add("contributor", "Storyteller (interviewer)")
    local = local_time.to_local(session_moment(session), storyteller.time_zone)
    add("date", local.date().isoformat())
    add("language", storyteller.preferred_language or "en")
    add("type", "Text")
    add("format", "text/markdown")
    add("description", session.intention or "")
    for theme in session_themes(session, files.interactions):
        add("subject", theme)
    add("identifier", f"urn:uuid:{session.id}")
    add("relation", f"transcripts/{files.stem}.md")
    add("rights", "Shared with the storyteller's recorded consent; see consent/consent.txt.")
    ElementTree.indent(record)
    return ElementTree.tostring(record, encoding="utf-8", xml_declaration=True) + b"\n"


def _consent_json(history) -> bytes:
    rows = [
        {
            "id": str(row.record.id),
            "in_force": row.in_force,
            "scope": list(row.record.scope or []),
            "sensitive_topics": list(row.record.sensitive_topics or []),
            "method": row.record.method,
            "agreed_at": row.record.agreed_at.isoformat() if row.record.agreed_at else None,
            "recorded_at": row.record.created_at.isoformat() if row.record.created_at else None,
            "recorded_by": row.recorded_by.name if row.recorded_by else None,
            "note": row.record.note,
            "withdrawn_at": (row.record.withdrawn_at.isoformat()
                             if row.record.withdrawn_at else None),
            "withdrawn_by": row.withdrawn_by.name if row.withdrawn_by else None,
        }
        for row in history
    ]
    return json.dumps({"consent_records": rows}, indent=2, ensure_ascii=False).encode() + b"\n"


def _consent_text(storyteller: Storyteller, history) -> str:
    zone_name = storyteller.time_zone
    lines = [f"Consent records for {storyteller.display_name}", "",
             "Newest first. A withdrawn consent is kept, not erased.", ""]
    if not history:
        lines.append("No consent has been recorded.")
    for number, row in enumerate(history, start=1):
        record = row.record
        state = "IN FORCE" if row.in_force else ("WITHDRAWN" if record.withdrawn_at
                                                 else "replaced by a newer record")
        lines += [f"{number}. {state}",
                  f"   Agreed: {_when(record.agreed_at, zone_name)} ({record.method})"]
        if row.recorded_by:
            lines.append(f"   Recorded by: {row.recorded_by.name}")
        lines.append("   Agreed to:")
        lines += [f"   - {SCOPE_LABELS.get(s, s)}" for s in record.scope or []]
        if record.sensitive_topics:
            lines.append("   Agreed to talk about:")
            lines += [f"   - {TOPIC_LABELS.get(t, t)}" for t in record.sensitive_topics]
        if record.note:
            lines.append(f"   Note: {record.note}")
        if record.withdrawn_at:
            lines.append(f"   Withdrawn: {_when(record.withdrawn_at, zone_name)}")
        lines.append("")
    return "\n".join(lines)


def _sessions(db: DbSession, storyteller: Storyteller) -> list[SessionFiles]:
    sessions = sorted(
        db.scalars(select(Session).where(Session.storyteller_id == storyteller.id)).all(),
        key=lambda s: (session_moment(s), str(s.id)),
    )
    interactions: dict = {s.id: [] for s in sessions}
    if sessions:
        for interaction in db.scalars(
            select(SessionInteraction)
            .where(SessionInteraction.session_id.in_(list(interactions)))
            .order_by(SessionInteraction.session_id, SessionInteraction.interaction_sequence)
        ):
            interactions[interaction.session_id].append(interaction)
    found = []
    for number, session in enumerate(sessions, start=1):
        local = local_time.to_local(session_moment(session), storyteller.time_zone)
        stem = f"{number:03d}-{local:%Y-%m-%d}-{book_slug(session.display_name)[:40]}"
        found.append(SessionFiles(session, interactions[session.id], stem))
    return found


def _readme(storyteller: Storyteller, made_at: datetime, sessions: list[SessionFiles],
            book_files: list[str], chapters: int) -> str:
    made = local_time.format_local(made_at, storyteller.time_zone)
    lines = [
        f"Archive package: the life story of {storyteller.display_name}",
        "=" * 60, "",
        f"Made by Storyteller on {made}.",
        "This package holds one person's story and nothing of anybody else's.", "",
        "book/",
        f"  The approved book ({chapters} chapter{'s' if chapters != 1 else ''}): "
        "only chapters a reviewer approved.",
        *[f"  {name}" for name in book_files],
        "  images/ holds the photos the book shows (linked from the Markdown and HTML).", "",
        "transcripts/",
        "  Every interview session in full, question and answer in the order they were said,",
        "  with dates and times in the storyteller's time zone "
        f"({local_time.zone(storyteller.time_zone).key}). One Markdown file per session.", "",
        "metadata/",
        "  Dublin Core (http://purl.org/dc/elements/1.1/) for each session, one XML file per",
        "  session with the same name as its transcript: title, creator (the storyteller),",
        "  date, language, type, description (what the session was for), subjects (themes)",
        "  and identifier (urn:uuid of the session).", "",
        "consent/",
        "  consent.json and consent.txt: every consent the storyteller gave, including any",
        "  that were withdrawn, with what was agreed, when and how.", "",
        f"Sessions ({len(sessions)}):",
    ]
    lines += [f"  {f.stem}  {session_title(storyteller, f.session)}" for f in sessions]
    if not sessions:
        lines.append("  none yet")
    return "\n".join(lines) + "\n"


def _add(archive: zipfile.ZipFile, name: str, data: bytes | str, made_at: datetime) -> None:
    info = zipfile.ZipInfo(name, date_time=made_at.timetuple()[:6])
    info.compress_type = (zipfile.ZIP_STORED if name.lower().endswith(STORED_SUFFIXES)
                          else zipfile.ZIP_DEFLATED)
    info.external_attr = 0o644 << 16
    archive.writestr(info, data.encode("utf-8") if isinstance(data, str) else data)


def render_archive(
    db: DbSession,
    storyteller: Storyteller,
    *,
    instance_path: Path,
    progress: Progress = lambda pct, msg: None,
) -> Rendered:
    slug = book_slug(storyteller.display_name)
    root = f"{slug}-archive/"
    progress(5, "Gathering the approved chapters.")
    book = load_book(db, storyteller, instance_path)
    made_at = book.made_at
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        book_files = [f"{slug}.md", f"{slug}.html", f"{slug}.pdf"]
        _add(archive, root + "book/" + book_files[0], book_markdown(book), made_at)
        progress(15, "Writing the book as a web page.")
        _add(archive, root + "book/" + book_files[1], book_html(book, image_src="relative"),
             made_at)
        progress(20, "Laying out the book as a PDF.")
        _add(archive, root + "book/" + book_files[2],
             book_pdf(book, instance_path=instance_path), made_at)
        names = photo_names(book)
        for photo in unique_photos(book):
            _add(archive, root + "book/" + names[photo.path], photo.path.read_bytes(), made_at)
        progress(60, "Writing the transcripts.")
        sessions = _sessions(db, storyteller)
        for index, files in enumerate(sessions, start=1):
            _add(archive, f"{root}transcripts/{files.stem}.md", transcript(storyteller, files),
                 made_at)
            _add(archive, f"{root}metadata/{files.stem}.xml", dublin_core(storyteller, files),
                 made_at)
            progress(60 + 30 * index // len(sessions),
                     f"Session {index} of {len(sessions)} written.")
        history = consent_history(db, storyteller)
        _add(archive, root + "consent/consent.json", _consent_json(history), made_at)
        _add(archive, root + "consent/consent.txt", _consent_text(storyteller, history), made_at)
        _add(archive, root + "README.txt",
             _readme(storyteller, made_at, sessions, book_files, len(book.chapters)), made_at)
    progress(100, "Done.")
    return Rendered(f"{slug}-archive.zip", "application/zip", out.getvalue())
