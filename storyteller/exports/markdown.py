"""The book as Markdown: title, contents, chapters, paragraphs, photos as relative links.

Photos are linked as ``images/photo-NN.jpg`` beside the Markdown file (the archive ZIP puts
the image files there), each followed by its caption in italics.
"""

from __future__ import annotations

import re

from storyteller.book_content import Book
from storyteller.exports import Progress, photo_names, told_line

__all__ = ["book_markdown", "escape"]

_INLINE = re.compile(r"([\\`*_\[\]<>|])")
_LINE_START = re.compile(r"^(\s*)([#>+\-=])", re.MULTILINE)
_NUMBERED = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)


def escape(text: str) -> str:
    """Plain text that Markdown shows as written (no accidental emphasis, lists or headings)."""
    text = _INLINE.sub(r"\\\1", text)
    text = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return _NUMBERED.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def chapter_heading(number: int, title: str) -> str:
    return f"Chapter {number}: {title}"


def book_markdown(book: Book, *, progress: Progress = lambda pct, msg: None) -> str:
    names = photo_names(book)
    lines = [f"# {escape(book.title)}", "", f"*{escape(book.author)}*", "",
             f"*{told_line(book)}*", ""]
    if not book.chapters:
        lines += ["No chapters have been approved for the book yet.", ""]
        return "\n".join(lines)
    lines += ["## Contents", ""]
    for chapter in book.chapters:
        lines.append(f"{chapter.number}. {escape(chapter.title)}")
    lines.append("")
    total = len(book.chapters)
    for index, chapter in enumerate(book.chapters, start=1):
        lines += [f"## {escape(chapter_heading(chapter.number, chapter.title))}", ""]
        for paragraph in chapter.paragraphs:
            lines += [escape(paragraph.text.strip()), ""]
            for photo in paragraph.photos:
                caption = escape(photo.caption or "Photo")
                lines += [f"![{caption}]({names[photo.path]})", "", f"*{caption}*", ""]
        progress(5 + 90 * index // total, f"Chapter {index} of {total} written.")
    return "\n".join(lines)
