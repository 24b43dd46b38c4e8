"""The EPUB 3 export, checked by opening the zip: mimetype first and stored, the container
pointing at a package document that parses and lists every file, the approved text only."""

from __future__ import annotations

import io
import zipfile
from posixpath import dirname, join, normpath
from xml.etree import ElementTree

from storyteller import exports
from tests.test_exports_book_data import (
    APPROVED_TEXT,
    PHOTO_CAPTION,
    PROVISIONAL_TEXT,
    REJECTED_TEXT,
    SECOND_TEXT,
    build_book,
)

NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "x": "http://www.w3.org/1999/xhtml",
}


def parse(data: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(data)  # noqa: S314 - the file we just made


def package(archive: zipfile.ZipFile) -> tuple[str, ElementTree.Element]:
    container = parse(archive.read("META-INF/container.xml"))
    rootfile = container.find("c:rootfiles/c:rootfile", NS)
    assert rootfile.get("media-type") == "application/oebps-package+xml"
    path = rootfile.get("full-path")
    return path, parse(archive.read(path))


def test_epub_is_structurally_valid(app, db_session):
    built = build_book(db_session, app.instance_path)
    calls = []
    rendered = exports.render(db_session, built.storyteller, "epub",
                              instance_path=app.instance_path,
                              progress=lambda pct, msg: calls.append(pct))
    assert rendered.file_name == "mary-obrien.epub"
    assert rendered.content_type == "application/epub+zip"
    # The first bytes of the file: a local header for "mimetype", stored, no extra field.
    assert rendered.data[30:38] == b"mimetype"
    assert rendered.data[38:58] == b"application/epub+zip"
    archive = zipfile.ZipFile(io.BytesIO(rendered.data))
    first = archive.infolist()[0]
    assert first.filename == "mimetype"
    assert first.compress_type == zipfile.ZIP_STORED
    assert archive.read("mimetype") == b"application/epub+zip"
    assert archive.testzip() is None

    opf_path, opf = package(archive)
    assert opf.get("version") == "3.0"
    base = dirname(opf_path)
    names = set(archive.namelist())
    manifest = {item.get("id"): item for item in opf.find("opf:manifest", NS)}
    listed = {normpath(join(base, item.get("href"))) for item in manifest.values()}
    assert listed <= names  # every manifest href is in the zip
    # ...and every file of the book is in the manifest
    assert names - listed == {"mimetype", "META-INF/container.xml", opf_path}
    for ref in opf.find("opf:spine", NS):
        assert ref.get("idref") in manifest
    navs = [i for i in manifest.values() if "nav" in (i.get("properties") or "").split()]
    assert len(navs) == 1
    nav = parse(archive.read(normpath(join(base, navs[0].get("href")))))
    nav_links = [a.text for a in nav.iter(f"{{{NS['x']}}}a")]
    assert "Bees and school" in nav_links and "The moon chapter" not in nav_links

    images = [i for i in manifest.values() if i.get("media-type") == "image/jpeg"]
    assert len(images) == 1
    image = archive.read(normpath(join(base, images[0].get("href"))))
    assert image == built.photo_path.read_bytes()

    metadata = opf.find("opf:metadata", NS)
    assert metadata.find("dc:title", NS).text == "The story of Mary O'Brien"
    assert metadata.find("dc:creator", NS).text == "Mary O'Brien"
    assert metadata.find("dc:language", NS).text == "en"
    assert metadata.find("dc:identifier", NS).text == f"urn:uuid:{built.storyteller.id}"
    unique_id = opf.get("unique-identifier")
    assert metadata.find("dc:identifier", NS).get("id") == unique_id
    assert metadata.find("dc:date", NS).text[:4].isdigit()
    modified = [m for m in metadata.findall("opf:meta", NS)
                if m.get("property") == "dcterms:modified"]
    assert len(modified) == 1
    assert calls == sorted(calls) and calls[-1] == 100


def test_epub_chapters_hold_the_approved_text_only(app, db_session):
    built = build_book(db_session, app.instance_path)
    rendered = exports.render(db_session, built.storyteller, "epub",
                              instance_path=app.instance_path)
    archive = zipfile.ZipFile(io.BytesIO(rendered.data))
    chapters = [n for n in archive.namelist() if "chapter-" in n]
    assert len(chapters) == 1
    chapter = parse(archive.read(chapters[0]))  # well-formed XHTML
    text = " ".join(chapter.itertext())
    assert APPROVED_TEXT in text and SECOND_TEXT in text and PHOTO_CAPTION in text
    everything = b"".join(archive.read(n) for n in archive.namelist())
    assert REJECTED_TEXT.encode() not in everything
    assert PROVISIONAL_TEXT.encode() not in everything
    assert b"moon" not in everything


def test_epub_identifier_is_stable(app, db_session):
    built = build_book(db_session, app.instance_path)

    def identifier() -> str:
        data = exports.render(db_session, built.storyteller, "epub",
                              instance_path=app.instance_path).data
        _, opf = package(zipfile.ZipFile(io.BytesIO(data)))
        return opf.find("opf:metadata/dc:identifier", NS).text

    assert identifier() == identifier() == f"urn:uuid:{built.storyteller.id}"


def test_epub_of_an_empty_book_is_still_valid(app, db_session, make_storyteller):
    storyteller = make_storyteller(display_name="Nobody Yet")
    data = exports.render(db_session, storyteller, "epub", instance_path=app.instance_path).data
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.infolist()[0].filename == "mimetype"
    _, opf = package(archive)
    assert b"No chapters have been approved" in archive.read("EPUB/title.xhtml")
    assert opf.find("opf:spine", NS) is not None
