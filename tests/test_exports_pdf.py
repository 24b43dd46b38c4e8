"""The PDF editions: the approved text and nothing else, contents with page numbers,
photos, and a large-print edition whose type really is larger."""

from __future__ import annotations

import logging
import re
import shutil
import statistics
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest

from storyteller import exports
from storyteller.exports.pdf import LocalFilesOnly
from tests.test_exports_book_data import (
    APPROVED_TEXT,
    PHOTO_CAPTION,
    PROVISIONAL_TEXT,
    REJECTED_TEXT,
    SECOND_TEXT,
    build_book,
)

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils (pdftotext, pdftoppm) is not installed",
)


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def word_heights(path: Path, page: int) -> list[float]:
    """The height of every word on one page, from pdftotext -bbox (in points)."""
    out = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(path),
                          "-"], check=True, capture_output=True, text=True).stdout
    # Our own pdftotext output, not untrusted input.
    root = ElementTree.fromstring(re.sub(r"<!DOCTYPE[^>]*>", "", out))  # noqa: S314
    return [float(w.get("yMax")) - float(w.get("yMin"))
            for w in root.iter("{http://www.w3.org/1999/xhtml}word")]


def page_count(path: Path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True,
                         text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.MULTILINE).group(1))


def chapter_page(path: Path) -> int:
    """The first page whose text holds the approved paragraph."""
    for page in range(1, page_count(path) + 1):
        text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"],
                              check=True, capture_output=True, text=True).stdout
        if "behind the schoolhouse" in text:
            return page
    raise AssertionError("the approved text is on no page")


def write(tmp_path: Path, rendered: exports.Rendered) -> Path:
    path = tmp_path / rendered.file_name
    path.write_bytes(rendered.data)
    return path


def normalised(text: str) -> str:
    return " ".join(text.replace("\u00ad", "").replace("\u2010\n", "").replace("-\n", "").split())


def test_pdf_holds_the_approved_text_and_none_of_the_rejected(app, db_session, tmp_path,
                                                              caplog):
    caplog.set_level(logging.WARNING, logger="weasyprint")
    built = build_book(db_session, app.instance_path)
    calls = []
    rendered = exports.render(db_session, built.storyteller, "pdf",
                              instance_path=app.instance_path,
                              progress=lambda pct, msg: calls.append(pct))
    assert rendered.file_name == "mary-obrien.pdf"
    assert rendered.content_type == "application/pdf"
    assert rendered.data.startswith(b"%PDF-")
    text = normalised(pdf_text(write(tmp_path, rendered)))
    assert "The story of Mary O'Brien" in text
    assert "Told to Storyteller, " in text
    assert "Contents" in text
    assert APPROVED_TEXT in text
    assert SECOND_TEXT in text
    assert PHOTO_CAPTION in text
    assert "Rejectedwords" not in text and REJECTED_TEXT not in text
    assert "The moon chapter" not in text
    assert "Provisionalwords" not in text and PROVISIONAL_TEXT not in text
    assert calls == sorted(calls) and calls[-1] == 100 and len(calls) >= 4
    # The style sheet is understood in full and nothing was fetched that was refused.
    assert [r.getMessage() for r in caplog.records if r.name == "weasyprint"] == []


def test_pdf_has_title_page_contents_with_page_numbers_and_footer_numbers(
    app, db_session, tmp_path
):
    built = build_book(db_session, app.instance_path)
    path = write(tmp_path, exports.render(db_session, built.storyteller, "pdf",
                                          instance_path=app.instance_path))
    pages = pdf_text(path).split("\f")
    assert "The story of Mary O'Brien" in pages[0] and "Contents" not in pages[0]
    assert "Contents" in pages[1]
    first_chapter = chapter_page(path)
    assert first_chapter >= 3  # title page, contents, then the chapter on a new page
    contents_line = next(line for line in pages[1].splitlines() if "Bees and school" in line)
    assert contents_line.rstrip().endswith(str(first_chapter))  # target-counter
    footer = [line.strip() for line in pages[first_chapter - 1].splitlines() if line.strip()]
    assert footer[-1] == str(first_chapter)  # @page counter in the footer


def test_pdf_embeds_the_photo(app, db_session, tmp_path):
    built = build_book(db_session, app.instance_path)
    path = write(tmp_path, exports.render(db_session, built.storyteller, "pdf",
                                          instance_path=app.instance_path))
    out = subprocess.run(["pdfimages", "-list", str(path)], check=True, capture_output=True,
                         text=True).stdout
    images = [line for line in out.splitlines()[2:] if line.strip()]
    assert len(images) == 1 and " 640 " in images[0] and " 480 " in images[0]


def test_large_print_really_has_larger_type(app, db_session, tmp_path):
    built = build_book(db_session, app.instance_path)
    normal = write(tmp_path, exports.render(db_session, built.storyteller, "pdf",
                                            instance_path=app.instance_path))
    large_rendered = exports.render(db_session, built.storyteller, "pdf_large",
                                    instance_path=app.instance_path)
    assert large_rendered.file_name == "mary-obrien-large-print.pdf"
    large = write(tmp_path, large_rendered)
    normal_height = statistics.median(word_heights(normal, chapter_page(normal)))
    large_height = statistics.median(word_heights(large, chapter_page(large)))
    # 12pt against 18pt body text: the words are half as tall again.
    assert large_height / normal_height == pytest.approx(1.5, rel=0.1)
    assert page_count(large) >= page_count(normal)
    assert "Large print edition" in pdf_text(large)
    assert APPROVED_TEXT in normalised(pdf_text(large))


def test_pdf_pages_as_pictures(app, db_session, tmp_path):
    """Page images to look at: test-artifacts/screenshots/book-pdf-*.png."""
    built = build_book(db_session, app.instance_path)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for kind, name in (("pdf", "book-pdf"), ("pdf_large", "book-pdf-large-print")):
        path = write(tmp_path, exports.render(db_session, built.storyteller, kind,
                                              instance_path=app.instance_path))
        for page, label in ((1, "page-1"), (2, "contents"), (chapter_page(path), "chapter")):
            target = SCREENSHOTS / f"{name}-{label}"
            subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", "-f", str(page),
                            "-l", str(page), str(path), str(target)], check=True)
            png = target.with_suffix(".png")
            assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 2000


def test_fetcher_reads_only_local_files_under_its_folders(tmp_path):
    inside = tmp_path / "uploads"
    inside.mkdir()
    (inside / "a.jpg").write_bytes(b"jpeg")
    (tmp_path / "secret.txt").write_text("no")
    fetcher = LocalFilesOnly([inside])
    response = fetcher.fetch((inside / "a.jpg").as_uri())
    assert response.read() == b"jpeg" and response.content_type == "image/jpeg"
    for url in ("http://127.0.0.1:9/x.png", "https://example.org/font.woff",
                (tmp_path / "secret.txt").as_uri(), (inside / ".." / "secret.txt").as_uri(),
                (inside / "missing.jpg").as_uri(), "data:text/plain,hello"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)


def test_a_remote_image_in_the_book_is_left_out_not_fetched(app, db_session, tmp_path):
    from storyteller.exports import html_book, pdf

    built = build_book(db_session, app.instance_path)
    from storyteller.book_content import load_book

    book = load_book(db_session, built.storyteller, app.instance_path)
    fetched = []

    class Spy(LocalFilesOnly):
        def fetch(self, url, headers=None):
            fetched.append(url)
            return super().fetch(url, headers)

    html = html_book.book_html(book, image_src=lambda photo: "http://127.0.0.1:9/x.jpg")
    from weasyprint import HTML

    data = HTML(string=html, url_fetcher=Spy([Path(app.instance_path)])).write_pdf()
    assert fetched == ["http://127.0.0.1:9/x.jpg"]  # asked, refused, never opened
    assert data.startswith(b"%PDF-")
    assert pdf.STATIC_FOLDER.is_dir()
