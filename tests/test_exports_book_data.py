"""A small book to export (used by every tests/test_exports_*.py), and tests of the helpers.

``build_book`` makes a storyteller with a session of question/answer interactions,
approved and rejected artifacts, one photo (a real JPEG under <instance>/uploads/),
an approved chapter, a rejected chapter and a provisional one. Only the approved chapter
is in the book; the rejected and provisional texts must appear in no export.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from sqlalchemy.orm import Session as DbSession

from storyteller import exports
from storyteller.book_content import UPLOADS_FOLDER, load_book
from storyteller.models import (
    BookChapter,
    Document,
    Session,
    SessionArtifact,
    SessionInteraction,
    Storyteller,
)

APPROVED_TEXT = "We kept bees behind the schoolhouse in Ballymore."
SECOND_TEXT = "My brother Tom fixed bicycles for every family on the street."
PHOTO_CAPTION = "The schoolhouse garden, 1952"
REJECTED_TEXT = "Rejectedwords about a journey to the moon."
PROVISIONAL_TEXT = "Provisionalwords that nobody has looked at yet."


@dataclass
class BuiltBook:
    storyteller: Storyteller
    session: Session
    interactions: list[SessionInteraction]
    chapters: list[BookChapter]
    photo_path: Path
    extra: dict[str, object] = field(default_factory=dict)


def jpeg_bytes(width: int = 640, height: int = 480, colour=(180, 140, 90)) -> bytes:
    image = Image.new("RGB", (width, height), colour)
    for x in range(0, width, 40):  # a little structure, so it is visibly a picture
        for y in range(height // 2, height):
            image.putpixel((x, y), (40, 60, 30))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def build_book(
    db: DbSession,
    instance_path: str | Path,
    *,
    name: str = "Mary O'Brien",
    marker: str = "",
    approved_text: str = APPROVED_TEXT,
) -> BuiltBook:
    """A storyteller with one approved chapter (text + photo), a rejected and a provisional one.

    ``marker`` is added to every text so a second storyteller's book can be told apart.
    """
    storyteller = Storyteller(display_name=name, preferred_language="en",
                              time_zone="Europe/Dublin")
    db.add(storyteller)
    db.flush()
    from storyteller.consent import record_consent

    record_consent(db, storyteller, scope=["interview", "book_publication"],
                   recorded_by_id=None, note=f"Agreed at the kitchen table {marker}".strip())
    session = Session(
        storyteller_id=storyteller.id,
        session_name=f"Childhood in Ballymore {marker}".strip(),
        intention=f"Capture three childhood scenes {marker}".strip(),
        session_tags=["childhood", "school"],
        scheduled_at=datetime(2026, 10, 5, 9, 30, tzinfo=UTC),
        started_at=datetime(2026, 10, 5, 9, 31, tzinfo=UTC),
        ended_at=datetime(2026, 10, 5, 10, 15, tzinfo=UTC),
        status="completed",
    )
    db.add(session)
    db.flush()
    interactions = []
    answers = [approved_text + marker, SECOND_TEXT + marker, REJECTED_TEXT + marker]
    for sequence, answer in enumerate(answers, start=1):
        interaction = SessionInteraction(
            session_id=session.id,
            interaction_sequence=sequence,
            interaction_type="prompt",
            agent_prompt=f"Question number {sequence}: what do you remember?",
            storyteller_response=answer,
            key_themes=["bees"] if sequence == 1 else ["family"],
            answered_at=datetime(2026, 10, 5, 9, 35 + sequence, tzinfo=UTC),
        )
        db.add(interaction)
        interactions.append(interaction)
    db.flush()

    uploads = Path(instance_path) / UPLOADS_FOLDER / "photos" / uuid.uuid4().hex
    uploads.mkdir(parents=True, exist_ok=True)
    photo_path = uploads / "garden.jpg"
    photo_path.write_bytes(jpeg_bytes())
    document = Document(
        storyteller_id=storyteller.id,
        session_id=session.id,
        kind="photo",
        title="garden.jpg",
        content_type="image/jpeg",
        storage_key=photo_path.relative_to(Path(instance_path) / UPLOADS_FOLDER).as_posix(),
    )
    db.add(document)
    db.flush()

    def artifact(text: str, interaction: SessionInteraction, status: str, **extra):
        item = SessionArtifact(
            session_id=session.id,
            source_interaction_id=interaction.id,
            artifact_type="scene_capture",
            artifact_name=extra.pop("artifact_name", "A scene"),
            content=text,
            review_status=status,
            is_approved=status == "approved",
            included_in_synthesis=status == "approved",
            **extra,
        )
        db.add(item)
        db.flush()
        return item

    first = artifact(approved_text + marker, interactions[0], "approved",
                     artifact_name=PHOTO_CAPTION,
                     structured_data={"document_id": str(document.id)})
    second = artifact(SECOND_TEXT + marker, interactions[1], "approved")
    rejected = artifact(REJECTED_TEXT + marker, interactions[2], "rejected")

    def chapter(sequence: int, title: str, status: str, paragraphs: list[dict]) -> BookChapter:
        item = BookChapter(
            storyteller_id=storyteller.id,
            sequence=sequence,
            title=title,
            paragraphs=paragraphs,
            content="\n\n".join(p["text"] for p in paragraphs),
            review_status=status,
        )
        db.add(item)
        db.flush()
        return item

    chapters = [
        chapter(1, f"Bees and school {marker}".strip(), "approved", [
            {"text": approved_text + marker, "artifact_ids": [str(first.id)],
             "interaction_ids": [str(interactions[0].id)]},
            {"text": SECOND_TEXT + marker, "artifact_ids": [str(second.id)],
             "interaction_ids": [str(interactions[1].id)]},
        ]),
        chapter(2, "The moon chapter", "rejected", [
            {"text": REJECTED_TEXT + marker, "artifact_ids": [str(rejected.id)],
             "interaction_ids": [str(interactions[2].id)]},
        ]),
        chapter(3, "Not looked at", "provisional", [
            {"text": PROVISIONAL_TEXT + marker, "artifact_ids": [], "interaction_ids": []},
        ]),
    ]
    return BuiltBook(storyteller, session, interactions, chapters, photo_path)


def test_build_book_has_one_approved_chapter_with_its_photo(app, db_session):
    built = build_book(db_session, app.instance_path)
    book = load_book(db_session, built.storyteller, app.instance_path)
    assert [c.title for c in book.chapters] == ["Bees and school"]
    assert [p.caption for p in book.photos] == [PHOTO_CAPTION]
    assert book.photos[0].path == built.photo_path.resolve()


def test_book_slug_is_plain_ascii():
    assert exports.book_slug("Mary O'Brien") == "mary-obrien"
    assert exports.book_slug("Séamus Ó Dálaigh") == "seamus-o-dalaigh"
    assert exports.book_slug("!!!") == "storyteller"


def test_photo_names_number_each_photo_once(app, db_session):
    built = build_book(db_session, app.instance_path)
    book = load_book(db_session, built.storyteller, app.instance_path)
    assert list(exports.photo_names(book).values()) == ["images/photo-01.jpg"]


def test_unknown_kind_is_refused(app, db_session):
    import pytest

    built = build_book(db_session, app.instance_path)
    with pytest.raises(exports.UnknownKind):
        exports.render(db_session, built.storyteller, "docx", instance_path=app.instance_path)
