"""The archive package: exactly one storyteller's data, full transcripts, consent records,
valid Dublin Core per session, the approved book with its photos and a README."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from xml.etree import ElementTree

from storyteller import exports
from storyteller.consent import withdraw_consent
from storyteller.exports.archive import DC, OAI_DC
from tests.test_exports_book_data import (
    APPROVED_TEXT,
    PHOTO_CAPTION,
    PROVISIONAL_TEXT,
    REJECTED_TEXT,
    build_book,
)

OTHER = "Zebracrossing"  # in every text of the second storyteller


def readable(name: str, data: bytes) -> bytes:
    """A file's bytes, or for a PDF (whose text is compressed) its text from pdftotext."""
    if not name.endswith(".pdf"):
        return data
    return subprocess.run(["pdftotext", "-", "-"], input=data, check=True,
                          capture_output=True).stdout


def archive_of(app, db_session, storyteller):
    calls = []
    rendered = exports.render(db_session, storyteller, "archive",
                              instance_path=app.instance_path,
                              progress=lambda pct, msg: calls.append(pct))
    return rendered, zipfile.ZipFile(io.BytesIO(rendered.data)), calls


def test_archive_holds_one_storytellers_data_and_nothing_of_another(app, db_session):
    mine = build_book(db_session, app.instance_path, name="Mary O'Brien")
    other = build_book(db_session, app.instance_path, name="Pádraig Zebracrossing",
                       marker=f" {OTHER}", approved_text="Otherbook text about trams.")
    rendered, archive, calls = archive_of(app, db_session, mine.storyteller)
    assert rendered.file_name == "mary-obrien-archive.zip"
    assert rendered.content_type == "application/zip"
    assert archive.testzip() is None
    names = archive.namelist()
    assert all(n.startswith("mary-obrien-archive/") for n in names)
    forbidden = [OTHER.encode(), b"Otherbook", b"Padraig", "Pádraig".encode(),
                 str(other.storyteller.id).encode(), str(other.session.id).encode()]
    assert any(name.endswith(".pdf") for name in names)
    for name in names:
        data = readable(name, archive.read(name))
        for word in forbidden:
            assert word not in data, f"{word!r} of the other storyteller is in {name}"
    # ...and the other's archive is theirs alone
    _, theirs, _ = archive_of(app, db_session, other.storyteller)
    for name in theirs.namelist():
        data = readable(name, theirs.read(name))
        assert b"Mary O" not in data and b"We kept bees" not in data, name
        assert str(mine.storyteller.id).encode() not in data, name
        assert str(mine.session.id).encode() not in data, name
    # The check can see a name in every kind of file: theirs is in their own PDF and notes.
    for name in theirs.namelist():
        if name.endswith((".pdf", ".md", ".xml", ".json")):
            assert OTHER.encode() in readable(name, theirs.read(name)), name
    assert calls == sorted(calls) and calls[-1] == 100


def test_archive_layout(app, db_session):
    built = build_book(db_session, app.instance_path)
    _, archive, _ = archive_of(app, db_session, built.storyteller)
    names = set(archive.namelist())
    root = "mary-obrien-archive/"
    stem = "001-2026-10-05-childhood-in-ballymore"
    assert names == {
        root + "README.txt",
        root + "book/mary-obrien.md",
        root + "book/mary-obrien.html",
        root + "book/mary-obrien.pdf",
        root + "book/images/photo-01.jpg",
        root + f"transcripts/{stem}.md",
        root + f"metadata/{stem}.xml",
        root + "consent/consent.json",
        root + "consent/consent.txt",
    }
    markdown = archive.read(root + "book/mary-obrien.md").decode()
    assert APPROVED_TEXT in markdown and "](images/photo-01.jpg)" in markdown
    html = archive.read(root + "book/mary-obrien.html").decode()
    assert APPROVED_TEXT in html and 'src="images/photo-01.jpg"' in html
    assert archive.read(root + "book/images/photo-01.jpg") == built.photo_path.read_bytes()
    assert archive.read(root + "book/mary-obrien.pdf").startswith(b"%PDF-")
    for name in (root + "book/mary-obrien.md", root + "book/mary-obrien.html"):
        text = archive.read(name).decode()
        assert REJECTED_TEXT not in text and PROVISIONAL_TEXT not in text
    readme = archive.read(root + "README.txt").decode()
    assert "Mary O'Brien" in readme and "Dublin Core" in readme and stem in readme
    assert archive.getinfo(root + "book/images/photo-01.jpg").compress_type == zipfile.ZIP_STORED


def test_transcript_has_every_question_and_answer_in_order_with_dates(app, db_session):
    built = build_book(db_session, app.instance_path)
    _, archive, _ = archive_of(app, db_session, built.storyteller)
    name = next(n for n in archive.namelist() if "/transcripts/" in n)
    text = archive.read(name).decode()
    assert text.startswith(
        "# Oral history interview with Mary O'Brien, 5 October 2026\n")
    # Dates in the storyteller's zone (Dublin is UTC+1 in October).
    assert "Started: Monday 5 October 2026, 10:31 (Europe/Dublin)" in text
    positions = []
    for interaction in built.interactions:
        question = f"**Interviewer:** {interaction.agent_prompt}"
        answer = f"**Mary O'Brien:** {interaction.storyteller_response}"
        assert question in text and answer in text
        positions += [text.index(question), text.index(answer)]
    assert positions == sorted(positions)
    # The transcript is the record of what was said: the rejected answer is in it too.
    assert REJECTED_TEXT in text
    assert "## 1. Monday 5 October 2026, 10:36 (Europe/Dublin)" in text


def test_dublin_core_per_session(app, db_session, make_session):
    built = build_book(db_session, app.instance_path)
    planned = make_session(built.storyteller, session_name="Working life",
                           intention="Talk about the first job", status="scheduled")
    _, archive, _ = archive_of(app, db_session, built.storyteller)
    records = sorted(n for n in archive.namelist() if "/metadata/" in n)
    assert len(records) == 2
    found = {}
    for name in records:
        root = ElementTree.fromstring(archive.read(name))  # noqa: S314 - our own file
        assert root.tag == f"{{{OAI_DC}}}dc"
        assert all(child.tag.startswith(f"{{{DC}}}") for child in root)
        values = {}
        for child in root:
            values.setdefault(child.tag.split("}")[1], []).append(child.text)
        found[values["identifier"][0]] = values
    first = found[f"urn:uuid:{built.session.id}"]
    assert first["title"] == ["Oral history interview with Mary O'Brien, 5 October 2026"]
    assert first["creator"] == ["Mary O'Brien"]
    assert first["date"] == ["2026-10-05"]
    assert first["language"] == ["en"]
    assert first["type"] == ["Text"]
    assert first["description"] == ["Capture three childhood scenes"]
    assert first["subject"] == ["childhood", "school", "bees", "family"]
    second = found[f"urn:uuid:{planned.id}"]
    assert second["description"] == ["Talk about the first job"]
    assert second["title"][0].startswith("Oral history interview with Mary O'Brien, ")


def test_consent_records_as_json_and_text(app, db_session):
    built = build_book(db_session, app.instance_path)
    from storyteller.consent import record_consent

    record_consent(db_session, built.storyteller, scope=["interview", "photos"],
                   sensitive_topics=["health"], recorded_by_id=None)
    withdraw_consent(db_session, built.storyteller, withdrawn_by_id=None)
    _, archive, _ = archive_of(app, db_session, built.storyteller)
    root = "mary-obrien-archive/consent/"
    records = json.loads(archive.read(root + "consent.json"))["consent_records"]
    assert len(records) == 2
    assert {tuple(r["scope"]) for r in records} == {("interview", "book_publication"),
                                                    ("interview", "photos")}
    assert any(r["withdrawn_at"] for r in records)
    assert not any(r["in_force"] for r in records)
    text = archive.read(root + "consent.txt").decode()
    assert "Consent records for Mary O'Brien" in text
    assert "WITHDRAWN" in text and "Health and illness" in text
    assert "The approved stories gathered into a book" in text


def test_archive_of_a_storyteller_with_nothing_yet(app, db_session, make_storyteller):
    storyteller = make_storyteller(display_name="Nobody Yet")
    _, archive, calls = archive_of(app, db_session, storyteller)
    names = archive.namelist()
    assert "nobody-yet-archive/README.txt" in names
    assert not [n for n in names if "/transcripts/" in n or "/metadata/" in n]
    assert b"none yet" in archive.read("nobody-yet-archive/README.txt")
    assert calls[-1] == 100


def test_photo_caption_survives_in_the_archive_html(app, db_session):
    built = build_book(db_session, app.instance_path)
    _, archive, _ = archive_of(app, db_session, built.storyteller)
    html = archive.read("mary-obrien-archive/book/mary-obrien.html").decode()
    assert f"<figcaption>{PHOTO_CAPTION}</figcaption>" in html
