"""The book as one HTML document: what the PDF is made from, and the HTML download.

The page is ``templates/exports/book_pdf.html`` with the print style sheet
``templates/exports/book_print.css`` (a template too: the normal and the large-print
editions differ only in their sizes, given by ``EDITIONS``). It is rendered with its own
Jinja environment (autoescaping on), so it needs no Flask request or app context: the
background worker calls it.

Where a photo's ``src`` points depends on the file: the PDF reads the file itself
(``file:`` URL, fetched by pdf.py's fetcher), the HTML download carries it inside as a
``data:`` URL, and the archive links it as ``images/photo-NN.jpg`` beside the page.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from storyteller.book_content import Book, Photo
from storyteller.exports import Progress, photo_names, told_line

__all__ = ["EDITIONS", "Edition", "book_html", "data_uri", "file_uri", "print_css"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class Edition:
    """Sizes of one edition of the printed book (points, millimetres, unitless)."""

    body_pt: float
    line_height: float
    title_pt: float
    chapter_pt: float
    small_pt: float
    margin_mm: int
    photo_max_height_mm: int
    # Large print reads best ragged-right and with whole words (no hyphens).
    text_align: str = "justify"
    hyphens: str = "auto"


EDITIONS = {
    "normal": Edition(body_pt=12, line_height=1.5, title_pt=30, chapter_pt=22, small_pt=10,
                      margin_mm=22, photo_max_height_mm=130),
    "large": Edition(body_pt=18, line_height=1.6, title_pt=40, chapter_pt=32, small_pt=15,
                     margin_mm=30, photo_max_height_mm=110, text_align="left",
                     hyphens="manual"),
}

_environment = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html", "xhtml", "xml"], default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def file_uri(photo: Photo) -> str:
    return photo.path.resolve().as_uri()


def data_uri(photo: Photo) -> str:
    encoded = base64.b64encode(photo.path.read_bytes()).decode("ascii")
    return f"data:{photo.content_type};base64,{encoded}"


def print_css(edition: str = "normal") -> str:
    return _environment.get_template("exports/book_print.css").render(e=EDITIONS[edition])


def split_paragraphs(text: str) -> list[str]:
    """A paragraph's text as the paragraphs a reader sees (blank lines split, lines join)."""
    parts = [" ".join(line.strip() for line in block.splitlines() if line.strip())
             for block in re.split(r"\n\s*\n", text.strip())]
    return [part for part in parts if part]


def book_html(
    book: Book,
    *,
    large_print: bool = False,
    image_src: Callable[[Photo], str] | str = "data",
    progress: Progress = lambda pct, msg: None,
    start: int = 5,
    end: int = 95,
) -> str:
    """The whole book as an HTML document; ``image_src`` is "data", "file", "relative" or a
    function from a photo to its URL. ``progress`` runs from ``start`` to ``end`` per chapter.
    """
    if image_src == "data":
        image_src = data_uri
    elif image_src == "file":
        image_src = file_uri
    elif image_src == "relative":
        names = photo_names(book)
        image_src = lambda photo: names[photo.path]  # noqa: E731
    edition = "large" if large_print else "normal"
    template = _environment.get_template("exports/book_pdf.html")
    chapters = []
    total = len(book.chapters)
    for index, chapter in enumerate(book.chapters, start=1):
        chapters.append({
            "number": chapter.number,
            "title": chapter.title,
            "paragraphs": [
                {
                    "texts": split_paragraphs(paragraph.text),
                    "photos": [{"src": image_src(photo), "caption": photo.caption}
                               for photo in paragraph.photos],
                }
                for paragraph in chapter.paragraphs
            ],
        })
        progress(start + (end - start) * index // total, f"Chapter {index} of {total} set.")
    return template.render(
        book=book,
        chapters=chapters,
        told=told_line(book),
        css=print_css(edition),
        edition=edition,
    )
