"""The HTML kind: one self-contained page (photos inside as data: URLs), escaped text."""

from __future__ import annotations

import base64

from storyteller import exports
from storyteller.exports import html_book
from tests.test_exports_book_data import (
    APPROVED_TEXT,
    PHOTO_CAPTION,
    REJECTED_TEXT,
    build_book,
)


def test_html_is_one_self_contained_page(app, db_session):
    built = build_book(db_session, app.instance_path)
    rendered = exports.render(db_session, built.storyteller, "html",
                              instance_path=app.instance_path)
    assert rendered.file_name == "mary-obrien.html"
    assert rendered.content_type.startswith("text/html")
    html = rendered.data.decode()
    assert html.startswith("<!doctype html>")
    assert '<html lang="en">' in html
    assert "<title>The story of Mary O&#39;Brien</title>" in html
    assert APPROVED_TEXT in html and REJECTED_TEXT not in html
    assert f"<figcaption>{PHOTO_CAPTION}</figcaption>" in html
    encoded = base64.b64encode(built.photo_path.read_bytes()).decode()
    assert f'src="data:image/jpeg;base64,{encoded}"' in html
    assert "file:" not in html and "http://" not in html and "https://" not in html
    assert 'href="#chapter-1"' in html and 'id="chapter-1"' in html


def test_text_is_escaped_not_markup(app, db_session):
    built = build_book(db_session, app.instance_path,
                       approved_text="<script>alert(1)</script> & \"quotes\"")
    html = exports.render(db_session, built.storyteller, "html",
                          instance_path=app.instance_path).data.decode()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;" in html


def test_editions_differ_in_size():
    normal, large = html_book.print_css("normal"), html_book.print_css("large")
    assert "font-size: 12pt" in normal and "font-size: 18pt" in large
    assert "margin: 22mm" in normal and "margin: 30mm" in large


def test_blank_lines_split_a_paragraph():
    assert html_book.split_paragraphs(" One line\nand its end.\n\n\nTwo. ") == [
        "One line and its end.", "Two."]
