"""The book as an EPUB 3 e-book (ebooklib): a title page, a nav document, one XHTML file
per chapter, the photos as image items, and one style sheet.

The identifier is ``urn:uuid:<storyteller id>``, so every edition of one storyteller's
book is the same book to an e-reader.
"""

from __future__ import annotations

import io
from html import escape

from ebooklib import epub

from storyteller.book_content import Book
from storyteller.exports import Progress, photo_names, told_line, unique_photos
from storyteller.exports.html_book import split_paragraphs

__all__ = ["EPUB_CSS", "book_epub", "identifier"]

EPUB_CSS = """\
body { font-family: "DejaVu Serif", Georgia, serif; line-height: 1.5; margin: 0 5%; }
h1 { font-size: 2em; text-align: center; margin: 3em 0 1em; }
h2 { font-size: 1.6em; margin: 1em 0; }
p { margin: 0; text-indent: 1.5em; }
h2 + p, figure + p, .title-page p { text-indent: 0; }
.title-page { text-align: center; }
.told { font-style: italic; margin-top: 2em; }
.chapter-number { text-transform: uppercase; letter-spacing: 0.1em; text-indent: 0;
                  color: #555; margin-top: 2em; }
figure { margin: 1.2em 0; text-align: center; page-break-inside: avoid; }
figure img { max-width: 100%; max-height: 70vh; }
figcaption { font-style: italic; font-size: 0.9em; margin-top: 0.4em; }
"""


def identifier(book: Book) -> str:
    return f"urn:uuid:{book.storyteller_id}"


def _chapter_body(chapter, names: dict) -> str:
    parts = [f'<p class="chapter-number">Chapter {chapter.number}</p>',
             f"<h2>{escape(chapter.title)}</h2>"]
    for paragraph in chapter.paragraphs:
        parts += [f"<p>{escape(text)}</p>" for text in split_paragraphs(paragraph.text)]
        for photo in paragraph.photos:
            caption = escape(photo.caption or "")
            parts.append(
                f'<figure><img src="{names[photo.path]}" alt="{caption}"/>'
                + (f"<figcaption>{caption}</figcaption>" if caption else "")
                + "</figure>"
            )
    return "\n".join(parts)


def book_epub(book: Book, *, progress: Progress = lambda pct, msg: None) -> bytes:
    names = photo_names(book)
    publication = epub.EpubBook()
    publication.set_identifier(identifier(book))
    publication.set_title(book.title)
    publication.set_language(book.language or "en")
    publication.add_author(book.author)
    publication.add_metadata("DC", "date", book.made_at.strftime("%Y-%m-%d"))
    publication.add_metadata("DC", "publisher", "Storyteller")
    publication.add_metadata("DC", "description", told_line(book))

    style = epub.EpubItem(uid="style", file_name="style/book.css", media_type="text/css",
                          content=EPUB_CSS.encode("utf-8"))
    publication.add_item(style)

    title_page = epub.EpubHtml(title="Title page", file_name="title.xhtml",
                               lang=book.language or "en")
    title_page.content = (
        f'<section class="title-page"><h1>{escape(book.title)}</h1>'
        f"<p>{escape(book.author)}</p>"
        f'<p class="told">{escape(told_line(book))}</p>'
        + ("" if book.chapters else "<p>No chapters have been approved for the book yet.</p>")
        + "</section>"
    )
    title_page.add_item(style)
    publication.add_item(title_page)

    for number, photo in enumerate(unique_photos(book), start=1):
        publication.add_item(epub.EpubImage(
            uid=f"photo-{number:02d}", file_name=names[photo.path],
            media_type=photo.content_type, content=photo.path.read_bytes(),
        ))

    chapters = []
    total = len(book.chapters)
    for index, chapter in enumerate(book.chapters, start=1):
        item = epub.EpubHtml(title=chapter.title, file_name=f"chapter-{chapter.number:03d}.xhtml",
                             lang=book.language or "en", uid=f"chapter-{chapter.number:03d}")
        item.content = _chapter_body(chapter, names)
        item.add_item(style)
        publication.add_item(item)
        chapters.append(item)
        progress(5 + 80 * index // total, f"Chapter {index} of {total} written.")

    publication.toc = [epub.Link("title.xhtml", "Title page", "title")] + chapters
    publication.add_item(epub.EpubNav())
    publication.spine = [title_page, "nav", *chapters]
    progress(90, "Packing the e-book.")
    out = io.BytesIO()
    epub.write_epub(out, publication, {"epub3_pages": False})
    return out.getvalue()
