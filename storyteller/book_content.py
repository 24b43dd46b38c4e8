"""The book as the exports see it: a storyteller's approved chapters, in order, with photos.

This is the one read model every rendering (HTML preview, PDF, EPUB, Markdown) works
from, so they all hold the same text. Only chapters whose review_status is "approved"
are in the book; each chapter's paragraphs were compiled from approved artifacts that
were chosen for the book (``included_in_synthesis``).

Photos: a paragraph's artifacts may point at a photo with ``structured_data["document_id"]``
(a ``document`` row of kind "photo" whose file lives under ``<instance>/uploads/`` at its
``storage_key``). A photo whose file is missing is left out, never an error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from storyteller.file_storage import UPLOADS_FOLDER
from storyteller.models import BookChapter, Document, SessionArtifact, Storyteller, utcnow

__all__ = ["Book", "BookParagraph", "Chapter", "Photo", "UPLOADS_FOLDER", "load_book"]


@dataclass(frozen=True)
class Photo:
    path: Path
    caption: str
    content_type: str


@dataclass(frozen=True)
class BookParagraph:
    text: str
    artifact_ids: tuple[str, ...] = ()
    interaction_ids: tuple[str, ...] = ()
    photos: tuple[Photo, ...] = ()


@dataclass(frozen=True)
class Chapter:
    id: uuid.UUID
    number: int
    title: str
    paragraphs: tuple[BookParagraph, ...]


@dataclass(frozen=True)
class Book:
    storyteller_id: uuid.UUID
    title: str
    author: str
    language: str
    made_at: datetime
    chapters: tuple[Chapter, ...] = field(default_factory=tuple)

    @property
    def photos(self) -> list[Photo]:
        return [p for c in self.chapters for para in c.paragraphs for p in para.photos]


def _photos_by_artifact(
    db: DbSession, artifact_ids: set[str], uploads: Path
) -> dict[str, tuple[Photo, ...]]:
    """{artifact id: its photos} for the artifacts that point at a photo file that exists."""
    if not artifact_ids:
        return {}
    ids = [uuid.UUID(a) for a in artifact_ids]
    artifacts = db.scalars(select(SessionArtifact).where(SessionArtifact.id.in_(ids))).all()
    wanted = {
        a.id: (a.structured_data or {}).get("document_id")
        for a in artifacts
        if (a.structured_data or {}).get("document_id")
    }
    documents = {
        str(d.id): d
        for d in db.scalars(
            select(Document).where(
                Document.id.in_([uuid.UUID(str(v)) for v in wanted.values()]),
                Document.kind == "photo",
            )
        )
    }
    found: dict[str, tuple[Photo, ...]] = {}
    root = uploads.resolve()
    for artifact_id, document_id in wanted.items():
        document = documents.get(str(document_id))
        if document is None or not document.storage_key:
            continue
        path = (root / document.storage_key).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            continue
        artifact = next(a for a in artifacts if a.id == artifact_id)
        caption = artifact.artifact_name or document.title
        found[str(artifact_id)] = (Photo(path, caption, document.content_type),)
    return found


def load_book(db: DbSession, storyteller: Storyteller, instance_path: str | Path) -> Book:
    """The storyteller's book: approved chapters in order, numbered from 1."""
    chapters = db.scalars(
        select(BookChapter)
        .where(
            BookChapter.storyteller_id == storyteller.id,
            BookChapter.review_status == "approved",
        )
        .order_by(BookChapter.sequence, BookChapter.created_at)
    ).all()
    artifact_ids = {
        str(a) for c in chapters for p in (c.paragraphs or []) for a in p.get("artifact_ids", [])
    }
    photos = _photos_by_artifact(db, artifact_ids, Path(instance_path) / UPLOADS_FOLDER)
    built = []
    for number, chapter in enumerate(chapters, start=1):
        paragraphs = tuple(
            BookParagraph(
                text=str(p.get("text") or ""),
                artifact_ids=tuple(str(a) for a in p.get("artifact_ids", [])),
                interaction_ids=tuple(str(i) for i in p.get("interaction_ids", [])),
                photos=tuple(
                    photo for a in p.get("artifact_ids", []) for photo in photos.get(str(a), ())
                ),
            )
            for p in (chapter.paragraphs or [])
            if str(p.get("text") or "").strip()
        )
        built.append(Chapter(chapter.id, number, chapter.title, paragraphs))
    return Book(
        storyteller_id=storyteller.id,
        title=f"The story of {storyteller.display_name}",
        author=storyteller.display_name,
        language=storyteller.preferred_language or "en",
        made_at=utcnow(),
        chapters=tuple(built),
    )
