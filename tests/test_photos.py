"""Photos: location removed from every stored and served copy, refusals, variants, who sees what."""

from __future__ import annotations

import io
import tracemalloc
import uuid

import pytest
from PIL import Image, ImageFile
from sqlalchemy import select

from storyteller import photos
from storyteller.file_storage import LocalStorage, storage_for
from storyteller.models import AuditLog, Document, LifeEvent
from tests.photo_files import (
    EXIF_IFD,
    TAKEN,
    has_gps,
    jpeg_with_gps,
    png_claiming,
    png_with_gps,
    webp_with_gps,
)

SOURCES = {"jpeg": jpeg_with_gps, "png": png_with_gps, "webp": webp_with_gps}
FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}


@pytest.fixture
def storage(app):
    return storage_for(app.instance_path)


def _stored(storage, document: Document) -> dict[str, bytes]:
    return {v: storage.read(k) for v, k in document.metadata_["variants"].items()}


# ---- Domain ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_every_stored_copy_is_without_location_and_keeps_the_date(
    kind, db_session, make_storyteller, make_user, storage
):
    source = SOURCES[kind]()
    assert has_gps(source)  # the test file really carries a location
    storyteller = make_storyteller()
    document = photos.add_photo(
        db_session, storyteller, io.BytesIO(source), user=None, storage=storage, title="  Summer  "
    )
    stored = _stored(storage, document)
    assert set(stored) == {"original", "web", "thumb"}
    for variant, data in stored.items():
        assert not has_gps(data), variant
    with Image.open(io.BytesIO(stored["original"])) as original:
        assert original.format == FORMATS[kind]
        assert original.getexif().get_ifd(EXIF_IFD)[0x9003] == TAKEN
        assert original.getexif().get(0x010F) is None  # nothing but date and orientation
        original.load()  # still a whole, decodable picture
        assert original.size == (640, 480)
    for variant in ("web", "thumb"):
        with Image.open(io.BytesIO(stored[variant])) as copy:
            assert copy.format == "JPEG"
            assert len(copy.getexif()) == 0
    with Image.open(io.BytesIO(stored["thumb"])) as thumb:
        assert max(thumb.size) == photos.THUMB_SIDE
    assert document.metadata_["taken_at"] == "1962-07-14T15:30:00"
    assert document.storage_key == document.metadata_["variants"]["web"]
    assert document.title == "Summer"
    assert document.kind == "photo" and document.content_type == "image/jpeg"


def test_jpeg_image_data_is_copied_not_recompressed(db_session, make_storyteller, storage):
    source = jpeg_with_gps()
    document = photos.add_photo(db_session, make_storyteller(), source, user=None, storage=storage)
    original = _stored(storage, document)["original"]
    scan = source.index(b"\xff\xda")
    assert original.endswith(source[scan:])  # the compressed picture, byte for byte


def test_orientation_kept_on_original_and_applied_to_web_copies(
    db_session, make_storyteller, storage
):
    source = jpeg_with_gps(size=(400, 200), orientation=6)  # "rotate 90° to show"
    document = photos.add_photo(db_session, make_storyteller(), source, user=None, storage=storage)
    stored = _stored(storage, document)
    with Image.open(io.BytesIO(stored["original"])) as original:
        assert original.size == (400, 200) and original.getexif()[0x0112] == 6
    with Image.open(io.BytesIO(stored["web"])) as web:
        assert web.size == (200, 400)


@pytest.mark.parametrize(
    "data",
    [
        b"Dear family, this is a letter, not a picture.\n" * 20,
        b"<!doctype html><html><script>alert(document.cookie)</script></html>",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    ],
    ids=["text", "html", "gif"],
)
def test_files_that_are_not_photos_are_refused_by_their_bytes(
    data, db_session, make_storyteller, storage
):
    with pytest.raises(photos.PhotoRejected) as refused:
        photos.add_photo(db_session, make_storyteller(), data, user=None, storage=storage)
    assert refused.value.status == 415
    assert "JPEG, PNG or WebP" in refused.value.message
    assert db_session.scalar(select(Document).where(Document.kind == "photo")) is None


class _EndlessStream:
    """A 'file' of unbounded size that counts what was read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        size = 1024 * 1024 if size < 0 else size
        self.read_bytes += size
        return b"\xff" * size


def test_an_oversized_file_is_refused_without_reading_it_all(db_session, make_storyteller, storage):
    stream = _EndlessStream()
    with pytest.raises(photos.PhotoRejected) as refused:
        photos.add_photo(
            db_session, make_storyteller(), stream, user=None, storage=storage, max_bytes=2_000_000
        )
    assert refused.value.status == 413
    assert stream.read_bytes <= 2_000_001


@pytest.mark.parametrize("size", [(50_000, 50_000), (20_001, 10), (9_000, 9_000)])
def test_absurd_dimensions_are_refused_before_decoding(size, db_session, make_storyteller, storage):
    tracemalloc.start()
    try:
        with pytest.raises(photos.PhotoRejected) as refused:
            photos.add_photo(
                db_session, make_storyteller(), png_claiming(*size), user=None, storage=storage
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.status == 413
    assert "too many pixels" in refused.value.message
    assert peak < 20 * 1024 * 1024


@pytest.mark.parametrize("lenient_pillow", [False, True])
def test_a_damaged_photo_is_refused_and_nothing_is_left(
    lenient_pillow, db_session, make_storyteller, tmp_path, monkeypatch
):
    # WeasyPrint sets Pillow's LOAD_TRUNCATED_IMAGES for the whole process when imported.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", lenient_pillow)
    storage = LocalStorage(tmp_path / "uploads")
    source = jpeg_with_gps()
    broken = source[: len(source) // 3]
    with pytest.raises(photos.PhotoRejected) as refused:
        photos.add_photo(db_session, make_storyteller(), broken, user=None, storage=storage)
    assert refused.value.status == 400
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_life_event_of_someone_else_is_refused(db_session, make_storyteller, storage):
    mine, theirs = make_storyteller(), make_storyteller()
    event = LifeEvent(storyteller_id=theirs.id, event_name="Their wedding")
    db_session.add(event)
    db_session.flush()
    with pytest.raises(photos.PhotoRejected):
        photos.add_photo(
            db_session, mine, jpeg_with_gps(), user=None, storage=storage, life_event=event
        )


# ---- Views -------------------------------------------------------------------------------


def _upload(client, storyteller, data: bytes, name="photo.jpg", **form):
    return client.post(
        f"/storytellers/{storyteller.id}/photos",
        data={"photo": (io.BytesIO(data), name), **form},
        content_type="multipart/form-data",
    )


def test_upload_page_served_copies_and_headers(client, login, make_user, db_session, storage):
    user = make_user("storyteller")
    storyteller = user.storyteller_profile
    event = LifeEvent(storyteller_id=storyteller.id, event_name="Moving to Boston")
    db_session.add(event)
    db_session.flush()
    login(user)
    response = _upload(
        client, storyteller, webp_with_gps(), "holiday.png", title="On the pier",
        life_event_id=str(event.id),
    )  # fmt: skip
    assert response.status_code == 303
    document = db_session.scalar(select(Document).where(Document.storyteller_id == storyteller.id))
    assert document.life_event_id == event.id and document.title == "On the pier"
    assert document.created_by_id == user.id
    added = select(AuditLog).where(
        AuditLog.action == "photo.added", AuditLog.object_id == str(document.id)
    )
    assert db_session.scalar(added) is not None
    page = client.get(f"/storytellers/{storyteller.id}/photos").get_data(as_text=True)
    assert "On the pier" in page and "Moving to Boston" in page and "taken 1962-07-14" in page
    for variant, mime in (
        ("thumb", "image/jpeg"),
        ("web", "image/jpeg"),
        ("original", "image/webp"),
    ):
        served = client.get(f"/photos/{document.id}/{variant}")
        assert served.status_code == 200, variant
        assert served.mimetype == mime
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        disposition = served.headers["Content-Disposition"]
        assert disposition.startswith("inline; filename=photo-") and "holiday" not in disposition
        assert not has_gps(served.get_data()), variant
        served.close()  # the WSGI server closes the file; the test client leaves it to us
    part = client.get(f"/photos/{document.id}/web", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.get_data() == storage.read(document.storage_key)[:10]
    part.close()
    assert client.get(f"/photos/{document.id}/exif").status_code == 404


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"just some words in a file named .jpg", 415, "JPEG, PNG or WebP"),
        (b"<html><body onload=alert(1)>hi</body></html>", 415, "JPEG, PNG or WebP"),
        (png_claiming(50_000, 50_000), 413, "too many pixels"),
        (b"", 400, "choose a photo"),
    ],
    ids=["text", "html", "bomb", "empty"],
)
def test_refused_uploads_say_why(data, status, message, client, login, make_user, db_session):
    user = make_user("storyteller")
    login(user)
    response = _upload(client, user.storyteller_profile, data, "photo.jpg")
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert db_session.scalar(select(Document).where(Document.kind == "photo")) is None


def test_an_oversized_upload_is_refused_with_413(
    app, client, login, make_user, db_session, monkeypatch
):
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 100_000)
    user = make_user("storyteller")
    login(user)
    big = jpeg_with_gps() + b"\x00" * 200_000
    response = _upload(client, user.storyteller_profile, big)
    assert response.status_code == 413
    assert "larger than" in response.get_data(as_text=True)


def test_another_storytellers_photo_is_not_found(
    client, login, make_user, make_storyteller, db_session, storage
):
    someone_else = make_storyteller()
    document = photos.add_photo(
        db_session, someone_else, jpeg_with_gps(), user=None, storage=storage
    )
    db_session.flush()
    coordinator = make_user("coordinator")
    login(coordinator)
    for variant in ("thumb", "web", "original"):
        assert client.get(f"/photos/{document.id}/{variant}").status_code == 404
    assert client.get(f"/storytellers/{someone_else.id}/photos").status_code == 404
    assert client.get(f"/photos/{uuid.uuid4()}/web").status_code == 404


def test_storyteller_page_and_timeline_link_to_the_photos(client, login, make_user, db_session):
    user = make_user("storyteller")
    storyteller = user.storyteller_profile
    event = LifeEvent(storyteller_id=storyteller.id, event_name="Moving to Boston")
    db_session.add(event)
    db_session.commit()
    login(user)
    show = client.get(f"/storytellers/{storyteller.id}").get_data(as_text=True)
    assert f'href="/storytellers/{storyteller.id}/photos"' in show
    timeline = client.get(f"/storytellers/{storyteller.id}/life-events").get_data(as_text=True)
    link = f"/storytellers/{storyteller.id}/photos?life_event={event.id}#add-photo-heading"
    assert link in timeline
    page = client.get(link.split("#")[0]).get_data(as_text=True)
    assert f'<option value="{event.id}" selected>' in page


@pytest.mark.parametrize(
    ("mode", "fmt"), [("CMYK", "JPEG"), ("L", "PNG"), ("P", "PNG"), ("LA", "WEBP")]
)
def test_less_usual_pictures_make_rgb_copies(mode, fmt, db_session, make_storyteller, storage):
    buffer = io.BytesIO()
    Image.new(mode, (300, 200)).save(buffer, fmt)
    document = photos.add_photo(
        db_session, make_storyteller(), buffer.getvalue(), user=None, storage=storage
    )
    stored = _stored(storage, document)
    with Image.open(io.BytesIO(stored["original"])) as original:
        assert original.format == fmt
        assert original.mode == ("RGBA" if fmt == "WEBP" else mode)  # WebP has no LA
    with Image.open(io.BytesIO(stored["web"])) as web:
        assert web.mode == "RGB" and web.size == (300, 200)
    assert document.metadata_["taken_at"] is None
