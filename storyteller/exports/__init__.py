"""The book's files: HTML, PDF (normal and large print), EPUB 3, Markdown and the archive ZIP.

``render(db, storyteller, kind, instance_path=..., progress=...)`` is the one entry point
(the export jobs call it on the worker). Every kind but the archive is made from
storyteller/book_content.py ``load_book``: the approved chapters, so every file holds the
same text. ``progress(pct, message)`` is called as the work advances, for the job page.

Nothing here commits or writes to the database; the renderers only read.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session as DbSession

from storyteller.book_content import Book, Photo
from storyteller.models import Storyteller

__all__ = [
    "KINDS",
    "Progress",
    "Rendered",
    "UnknownKind",
    "book_slug",
    "photo_names",
    "render",
    "told_line",
    "unique_photos",
]

KINDS = ("html", "pdf", "pdf_large", "epub", "markdown", "archive")

Progress = Callable[[int, str], None]

_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
}


class UnknownKind(ValueError):
    """A kind of file this module does not make."""


@dataclass(frozen=True)
class Rendered:
    file_name: str
    content_type: str
    data: bytes


def _no_progress(pct: int, message: str) -> None:
    return None


def book_slug(name: str) -> str:
    """'Mary O'Brien' -> 'mary-obrien': a file-name part made of plain ASCII letters."""
    ascii_name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower().replace("'", "")).strip("-")
    return slug[:80] or "storyteller"


def photo_names(book: Book) -> dict[Path, str]:
    """{photo file: its name inside an export, e.g. 'images/photo-01.jpg'}, in book order."""
    names: dict[Path, str] = {}
    for photo in book.photos:
        if photo.path in names:
            continue
        extension = _EXTENSIONS.get(photo.content_type) or photo.path.suffix.lower() or ".bin"
        names[photo.path] = f"images/photo-{len(names) + 1:02d}{extension}"
    return names


def told_line(book: Book) -> str:
    """'Told to Storyteller, November 2026': the line under the title."""
    return f"Told to Storyteller, {book.made_at:%B %Y}"


def unique_photos(book: Book) -> list[Photo]:
    """Each photo once, in the order the book first shows it."""
    seen: set[Path] = set()
    found = []
    for photo in book.photos:
        if photo.path not in seen:
            seen.add(photo.path)
            found.append(photo)
    return found


def render(
    db: DbSession,
    storyteller: Storyteller,
    kind: str,
    *,
    instance_path: str | Path,
    progress: Progress = _no_progress,
) -> Rendered:
    """One file of the storyteller's book (or, for "archive", their whole archive package)."""
    instance_path = Path(instance_path)
    if kind == "archive":
        from storyteller.exports import archive

        return archive.render_archive(db, storyteller, instance_path=instance_path,
                                      progress=progress)
    if kind not in KINDS:
        raise UnknownKind(f"No export of the kind {kind!r}.")
    from storyteller.book_content import load_book

    progress(5, "Gathering the approved chapters.")
    book = load_book(db, storyteller, instance_path)
    slug = book_slug(book.author)
    if kind == "markdown":
        from storyteller.exports import markdown

        data = markdown.book_markdown(book, progress=progress).encode("utf-8")
        result = Rendered(f"{slug}.md", "text/markdown; charset=utf-8", data)
    elif kind == "html":
        from storyteller.exports import html_book

        data = html_book.book_html(book, progress=progress).encode("utf-8")
        result = Rendered(f"{slug}.html", "text/html; charset=utf-8", data)
    elif kind in ("pdf", "pdf_large"):
        from storyteller.exports import pdf

        large = kind == "pdf_large"
        data = pdf.book_pdf(book, instance_path=instance_path, large_print=large,
                            progress=progress)
        name = f"{slug}-large-print.pdf" if large else f"{slug}.pdf"
        result = Rendered(name, "application/pdf", data)
    else:
        from storyteller.exports import epub

        data = epub.book_epub(book, progress=progress)
        result = Rendered(f"{slug}.epub", "application/epub+zip", data)
    progress(100, "Done.")
    return result
