"""Photos: checked by their bytes, stored without location data, with a web copy and a thumbnail.

What is accepted: JPEG, PNG or WebP, recognised by Pillow from the bytes (the browser's file
name and declared type are ignored; names are made by the server). Refused with a clear
:class:`PhotoRejected` (status 413, 415 or 400) and nothing kept: more than
``PHOTO_MAX_BYTES`` (counted while reading, never reading past the limit), more than
``MAX_PIXELS`` or a side longer than ``MAX_SIDE`` (read from the header, before any pixel is
decoded), a decompression bomb, anything else, or a damaged file.

What is stored, per photo (``document`` row of kind "photo"):

- the original, rewritten *without decoding it*: its container is walked segment by
  segment (JPEG markers, PNG chunks, WebP RIFF chunks) and every block that can carry a
  location is dropped (EXIF, XMP, IPTC/Photoshop, comments, PNG text chunks); a fresh, tiny
  EXIF block is written back holding only the date taken and the orientation. The image
  data itself is copied byte for byte, so there is no re-compression at all (better than
  ``quality="keep"``, which still decodes and re-encodes) and no memory spent on pixels;
- a web copy (JPEG, longest side ``WEB_SIDE``) and a thumbnail (JPEG, ``THUMB_SIDE``), with
  the orientation applied and no EXIF at all. JPEG sources are decoded at a reduced scale
  with ``Image.draft`` so a 20-megapixel photo never sits in memory at full size.

``document.storage_key`` is the web copy. The book, its HTML preview and the PDF read
``storage_key``: 1600 pixels prints at about 13 cm wide at 300 dpi, more than a memoir page
gives a photo, keeps a 20-photo PDF small, and its orientation is already applied (so no
renderer needs to understand EXIF). The keys of all three are in
``document.metadata["variants"]`` ({"original", "web", "thumb"}); the date taken, when the
camera recorded one, in ``document.metadata["taken_at"]`` (ISO 8601, local camera time).
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import tempfile
import uuid
import warnings
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from storyteller import audit
from storyteller.agent.offline import photo_questions_asked
from storyteller.file_storage import LocalStorage, new_key
from storyteller.models import (
    Document,
    LifeEvent,
    Session,
    SessionInteraction,
    SessionLifeEvent,
    Storyteller,
    User,
)

DEFAULT_MAX_BYTES = 30 * 1024 * 1024
MAX_PIXELS = 80_000_000
MAX_SIDE = 20_000
WEB_SIDE = 1600
THUMB_SIDE = 320
VARIANTS = ("thumb", "web", "original")
FORMATS = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
}
MAX_TITLE = 200

# EXIF tags kept in the stored original: when it was taken and which way up it is.
_ORIENTATION = 0x0112
_DATETIME = 0x0132
_EXIF_IFD = 0x8769
_KEPT_EXIF_TAGS = (0x9003, 0x9004, 0x9010, 0x9011, 0x9012)  # DateTimeOriginal/Digitized, offsets
_READ_CHUNK = 1024 * 1024


class PhotoRejected(ValueError):
    """A file we will not keep, with a message for the person and an HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class _Checked:
    format: str
    width: int
    height: int
    exif: Image.Exif


# ---------------------------------------------------------------------------- adding


def add_photo(
    db: DbSession,
    storyteller: Storyteller,
    data: bytes | BinaryIO,
    *,
    user: User | None,
    storage: LocalStorage,
    life_event: LifeEvent | None = None,
    session: Session | None = None,
    title: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    ip_address: str | None = None,
) -> Document:
    """Check, clean and store a photo with its web copy and thumbnail; the new Document.

    Raises PhotoRejected (nothing stored) for a file that is too big, not a photo, damaged
    or of absurd dimensions.
    """
    if life_event is not None and life_event.storyteller_id != storyteller.id:
        raise PhotoRejected("That life event belongs to someone else.", 400)
    if session is not None and session.storyteller_id != storyteller.id:
        raise PhotoRejected("That session belongs to someone else.", 400)
    title = " ".join((title or "").split())[:MAX_TITLE]
    with _spool(data, max_bytes) as source:
        checked = _check(source)
        mime, suffix = FORMATS[checked.format]
        keys = {
            "original": new_key("photos", suffix),
            "web": new_key("photos", ".jpg"),
            "thumb": new_key("photos", ".jpg"),
        }
        saved: list[str] = []
        try:
            source.seek(0)
            kept_exif = _kept_exif(checked.exif)
            with _without_location(source, checked, kept_exif) as cleaned:
                original = storage.save(keys["original"], cleaned)
            saved.append(keys["original"])
            source.seek(0)
            web, thumb, size = _variants(source)
            web_file = storage.save(keys["web"], web)
            saved.append(keys["web"])
            storage.save(keys["thumb"], thumb)
            saved.append(keys["thumb"])
        except BaseException:
            for key in saved:
                storage.delete(key)
            raise
    taken_at = _taken_at(checked.exif)
    document = Document(
        id=uuid.uuid4(),
        kind="photo",
        storyteller_id=storyteller.id,
        session_id=session.id if session else None,
        life_event_id=life_event.id if life_event else None,
        title=title,
        content_type="image/jpeg",
        storage_key=keys["web"],
        size_bytes=web_file.size_bytes,
        sha256=web_file.sha256,
        metadata_={
            "variants": keys,
            "original_content_type": mime,
            "original_size_bytes": original.size_bytes,
            "original_sha256": original.sha256,
            "width": checked.width,
            "height": checked.height,
            "web_size": list(size),
            "taken_at": taken_at,
        },
        created_by_id=user.id if user else None,
    )
    db.add(document)
    db.flush()
    audit.record(
        db,
        actor_id=user.id if user else None,
        action="photo.added",
        object_type="document",
        object_id=document.id,
        storyteller_id=storyteller.id,
        ip_address=ip_address,
        details={
            "life_event_id": str(life_event.id) if life_event else None,
            "session_id": str(session.id) if session else None,
            "format": checked.format,
        },
    )
    return document


def _spool(data: bytes | BinaryIO, max_bytes: int) -> IO[bytes]:
    """The upload in a temporary file, read in blocks and never past ``max_bytes`` (+1)."""
    spooled = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115
    size = 0
    stream: BinaryIO = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    try:
        while True:
            block = stream.read(min(_READ_CHUNK, max_bytes + 1 - size))
            if not block:
                break
            size += len(block)
            if size > max_bytes:
                raise PhotoRejected(
                    f"This photo is larger than {max_bytes // (1024 * 1024)} MB. "
                    "Please choose a smaller copy of it.",
                    413,
                )
            spooled.write(block)
    except BaseException:
        spooled.close()
        raise
    if size == 0:
        spooled.close()
        raise PhotoRejected("The file is empty. Please choose a photo.", 400)
    spooled.seek(0)
    return spooled


_NOT_A_PHOTO = (
    "This file is not a photo we can use. Please choose a JPEG, PNG or WebP photo "
    "(the kind a phone or camera makes)."
)


def _open(source: IO[bytes]) -> Image.Image:
    """Image.open with decompression bombs turned into a refusal (header only, lazy)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(source, formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels() from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PhotoRejected(_NOT_A_PHOTO, 415) from exc


def _too_many_pixels() -> PhotoRejected:
    return PhotoRejected(
        "This picture is far too large (too many pixels) to use. Please choose a smaller copy.",
        413,
    )


def _check(source: IO[bytes]) -> _Checked:
    """Format and dimensions from the header, and the EXIF block, without decoding pixels."""
    image = _open(source)
    with image:
        if image.format not in FORMATS:
            raise PhotoRejected(_NOT_A_PHOTO, 415)
        width, height = image.size
        if width < 1 or height < 1:
            raise PhotoRejected(_NOT_A_PHOTO, 415)
        if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
            raise _too_many_pixels()
        try:
            exif = _header_exif(image)
        except (OSError, SyntaxError, ValueError, struct.error):
            exif = Image.Exif()
        return _Checked(image.format, width, height, exif)


def _header_exif(image: Image.Image) -> Image.Exif:
    """The EXIF block, without decoding pixels (Pillow's PNG getexif() would load the image
    to look for an eXIf chunk after the image data; such a late chunk is simply not read)."""
    if image.format != "PNG":
        return image.getexif()
    exif = Image.Exif()
    raw = image.info.get("exif")
    if isinstance(raw, bytes):
        exif.load(raw)
    return exif


def _kept_exif(exif: Image.Exif) -> Image.Exif | None:
    """A new EXIF block with only the date taken and orientation (None when neither is there)."""
    kept = Image.Exif()
    orientation = exif.get(_ORIENTATION)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        kept[_ORIENTATION] = orientation
    if isinstance(exif.get(_DATETIME), str):
        kept[_DATETIME] = exif[_DATETIME]
    try:
        exif_ifd = exif.get_ifd(_EXIF_IFD)
    except (OSError, SyntaxError, ValueError, KeyError, struct.error):
        exif_ifd = {}
    dates = {t: exif_ifd[t] for t in _KEPT_EXIF_TAGS if isinstance(exif_ifd.get(t), str)}
    if dates:
        kept.get_ifd(_EXIF_IFD).update(dates)
    return kept if len(kept) or dates else None


def _taken_at(exif: Image.Exif) -> str | None:
    """DateTimeOriginal (else DateTime) as ISO 8601, when the camera recorded a real date."""
    try:
        exif_ifd = exif.get_ifd(_EXIF_IFD)
    except (OSError, SyntaxError, ValueError, KeyError, struct.error):
        exif_ifd = {}
    for value in (exif_ifd.get(0x9003), exif.get(_DATETIME)):
        if isinstance(value, str):
            try:
                return datetime.strptime(value.strip("\x00 "), "%Y:%m:%d %H:%M:%S").isoformat()
            except ValueError:
                continue
    return None


# ------------------------------------------------------------- the original, cleaned


def _without_location(source: IO[bytes], checked: _Checked, exif: Image.Exif | None) -> BinaryIO:
    """The original's bytes with every metadata block dropped but the kept EXIF (no decode)."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - returned to the caller, who closes it
    tiff = exif.tobytes()[6:] if exif is not None else None  # without the "Exif\0\0" header
    try:
        if checked.format == "JPEG":
            _clean_jpeg(source, out, tiff)
        elif checked.format == "PNG":
            _clean_png(source, out, tiff)
        else:
            _clean_webp(source, out, tiff)
    except (struct.error, EOFError, ValueError) as exc:
        out.close()
        raise PhotoRejected(
            "This photo file seems to be damaged. Please try another copy of it.", 400
        ) from exc
    out.seek(0)
    return out


def _read_exact(source: IO[bytes], size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise EOFError("truncated file")
    return data


# JPEG: keep JFIF (APP0), ICC (APP2), Adobe (APP14) and every non-APP segment; drop the
# other APPn (EXIF/XMP in APP1, IPTC in APP13, maker blocks) and comments.
_JPEG_KEEP_APP = {0xE0, 0xE2, 0xEE}


def _clean_jpeg(source: IO[bytes], out: IO[bytes], tiff: bytes | None) -> None:
    if _read_exact(source, 2) != b"\xff\xd8":
        raise ValueError("not a JPEG")
    out.write(b"\xff\xd8")
    exif_written = tiff is None
    while True:
        byte = _read_exact(source, 1)
        if byte != b"\xff":
            raise ValueError("bad JPEG marker")
        marker = _read_exact(source, 1)[0]
        while marker == 0xFF:  # fill bytes
            marker = _read_exact(source, 1)[0]
        if marker in (0x01, *range(0xD0, 0xD8)):
            out.write(bytes((0xFF, marker)))
            continue
        if marker == 0xD9:
            out.write(b"\xff\xd9")
            return
        length_bytes = _read_exact(source, 2)
        length = struct.unpack(">H", length_bytes)[0]
        if length < 2:
            raise ValueError("bad JPEG segment length")
        payload = _read_exact(source, length - 2)
        if not exif_written and marker != 0xE0:
            segment = b"Exif\x00\x00" + (tiff or b"")
            if len(segment) + 2 <= 0xFFFF:
                out.write(b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment)
            exif_written = True
        if (0xE0 <= marker <= 0xEF and marker not in _JPEG_KEEP_APP) or marker == 0xFE:
            continue
        out.write(bytes((0xFF, marker)) + length_bytes + payload)
        if marker == 0xDA:  # start of scan: the compressed image data, copied as it is
            _copy_scan(source, out)
            return


def _copy_scan(source: IO[bytes], out: IO[bytes]) -> None:
    """The rest of the file, which must hold the end-of-image marker: a truncated upload is
    refused here, whatever ``ImageFile.LOAD_TRUNCATED_IMAGES`` says (WeasyPrint sets it)."""
    ended = False
    tail = b""
    while block := source.read(_READ_CHUNK):
        ended = ended or b"\xff\xd9" in tail + block[:1] or b"\xff\xd9" in block
        tail = block[-1:]
        out.write(block)
    if not ended:
        raise EOFError("JPEG without its end marker")


# PNG: only the chunks that draw the picture; text, eXIf, time and private chunks dropped.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP",
    b"sBIT", b"pHYs", b"bKGD", b"hIST", b"acTL", b"fcTL", b"fdAT", b"cICP", b"mDCV", b"cLLI",
}  # fmt: skip


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _clean_png(source: IO[bytes], out: IO[bytes], tiff: bytes | None) -> None:
    if _read_exact(source, 8) != _PNG_SIGNATURE:
        raise ValueError("not a PNG")
    out.write(_PNG_SIGNATURE)
    while True:
        length, kind = struct.unpack(">I4s", _read_exact(source, 8))
        if length > 0x7FFFFFFF:
            raise ValueError("bad PNG chunk")
        if kind in _PNG_KEEP:
            out.write(struct.pack(">I", length) + kind)
            _copy_exact(source, out, length + 4)  # data and CRC
        else:
            source.seek(length + 4, os.SEEK_CUR)
        if kind == b"IHDR" and tiff:
            out.write(_png_chunk(b"eXIf", tiff))
        if kind == b"IEND":
            return


def _copy_exact(source: IO[bytes], out: IO[bytes], size: int) -> None:
    while size > 0:
        block = _read_exact(source, min(size, _READ_CHUNK))
        out.write(block)
        size -= len(block)


# WebP (RIFF): EXIF and XMP chunks dropped, the VP8X flags told; kept EXIF appended.
_WEBP_KEEP = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _clean_webp(source: IO[bytes], out: IO[bytes], tiff: bytes | None) -> None:
    riff, _size, webp = struct.unpack("<4sI4s", _read_exact(source, 12))
    if riff != b"RIFF" or webp != b"WEBP":
        raise ValueError("not a WebP")
    body = tempfile.TemporaryFile()  # noqa: SIM115
    with body:
        extended = False
        while header := source.read(8):
            if len(header) < 8:
                break
            kind, length = struct.unpack("<4sI", header)
            padded = length + (length & 1)
            if kind not in _WEBP_KEEP:
                source.seek(padded, os.SEEK_CUR)
                continue
            if kind == b"VP8X":
                data = bytearray(_read_exact(source, padded))
                data[0] &= ~(_VP8X_EXIF | _VP8X_XMP) & 0xFF
                if tiff:
                    data[0] |= _VP8X_EXIF
                extended = True
                body.write(header + bytes(data))
            else:
                body.write(header)
                _copy_exact(source, body, padded)
        if tiff and extended:
            body.write(struct.pack("<4sI", b"EXIF", len(tiff)) + tiff + b"\x00" * (len(tiff) & 1))
        size = body.tell()
        out.write(struct.pack("<4sI4s", b"RIFF", size + 4, b"WEBP"))
        body.seek(0)
        shutil.copyfileobj(body, out, _READ_CHUNK)


# ------------------------------------------------------------------- the web copies


def _variants(source: IO[bytes]) -> tuple[bytes, bytes, tuple[int, int]]:
    """(web copy JPEG, thumbnail JPEG, web size): orientation applied, no EXIF."""
    image = _open(source)
    try:
        with image:
            if image.format == "JPEG":
                image.draft("RGB", (WEB_SIDE, WEB_SIDE))  # decode at 1/2, 1/4 or 1/8 scale
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image.load()
            source_mode = image.mode
            orientation = _header_exif(image).get(_ORIENTATION)
            # Shrink first, then turn upright: the square bound fits either way round, and
            # the full-size picture is never copied.
            image.thumbnail((WEB_SIDE, WEB_SIDE), Image.Resampling.LANCZOS)
            web = _flatten(_upright(image, orientation))
            # An ICC profile describes the source's colours: only an RGB one fits the copies.
            icc = image.info.get("icc_profile") if source_mode in ("RGB", "RGBA") else None
            web_bytes = _jpeg(web, 85, icc)
            thumb = web.copy()
            thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
            return web_bytes, _jpeg(thumb, 80, icc), web.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels() from exc
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise PhotoRejected(
            "This photo file seems to be damaged. Please try another copy of it.", 400
        ) from exc


_TRANSPOSE = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def _upright(image: Image.Image, orientation: Any) -> Image.Image:
    """The picture turned the way the camera's EXIF orientation says (1 to 8)."""
    for step in _TRANSPOSE.get(orientation, ()) if isinstance(orientation, int) else ():
        image = image.transpose(step)
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB; transparent parts on white (JPEG has no transparency)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def _jpeg(image: Image.Image, quality: int, icc: bytes | None) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, Any] = {"quality": quality, "optimize": True}
    if icc:
        options["icc_profile"] = icc
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


# ------------------------------------------------------------------------ reading


def variant_key(document: Document, variant: str) -> str | None:
    """The storage key of one variant ("thumb", "web", "original"); None if unknown."""
    if variant not in VARIANTS:
        return None
    keys = (document.metadata_ or {}).get("variants") or {}
    return keys.get(variant) or (document.storage_key if variant == "web" else None)


def variant_content_type(document: Document, variant: str) -> str:
    if variant == "original":
        return (document.metadata_ or {}).get("original_content_type") or document.content_type
    return "image/jpeg"


def download_name(document: Document, variant: str) -> str:
    """A server-made file name: "photo-<short id>-<variant>.<ext>"."""
    key = variant_key(document, variant) or ""
    suffix = Path(key).suffix or ".jpg"
    return f"photo-{document.id.hex[:8]}-{variant}{suffix}"


def photos_of(db: DbSession, storyteller: Storyteller) -> list[Document]:
    """The storyteller's photos, oldest upload first."""
    return list(
        db.scalars(
            select(Document)
            .where(Document.storyteller_id == storyteller.id, Document.kind == "photo")
            .order_by(Document.created_at, Document.id)
        )
    )


def photo_or_404(db: DbSession, user: User, document_id: uuid.UUID) -> Document:
    """A photo of a storyteller this user may see; otherwise 404 (the book's rule)."""
    from storyteller.book import photo_document_or_404

    return photo_document_or_404(db, user, document_id)


# ------------------------------------------------------------------ photos in sessions

ASK_KEY = "ask_in_session_id"


def ask_in_session(
    db: DbSession, document: Document, session: Session, *, user: User | None
) -> None:
    """The storyteller chose "Ask about this photo": the session's next question is about it."""
    if document.storyteller_id != session.storyteller_id:
        raise PhotoRejected("That photo belongs to someone else.", 400)
    document.metadata_ = {**(document.metadata_ or {}), ASK_KEY: str(session.id)}
    audit.record(
        db,
        actor_id=user.id if user else None,
        action="photo.asked_about",
        object_type="document",
        object_id=document.id,
        storyteller_id=document.storyteller_id,
        details={"session_id": str(session.id)},
    )


def _discussed_in(interactions: list[SessionInteraction]) -> list[str]:
    """Ids of the photos the given interactions asked about, in the order they were asked."""
    seen: list[str] = []
    for interaction in interactions:
        photo_id = (interaction.metadata_ or {}).get("photo_document_id")
        if photo_id and photo_id not in seen:
            seen.append(photo_id)
    return seen


def photos_for_interview(
    db: DbSession, session: Session, interactions: list[SessionInteraction]
) -> tuple[list[Document | None], bool]:
    """(photos in the order the interviewer should use them, whether this session asked for one).

    First the photos this session has already asked about (in that order; a None where the
    interviewer counts a photo question whose photo is not known), then the
    storyteller's photos never asked about in any session: those uploaded during or chosen
    for this session first, then those of the session's life events, then the rest, oldest
    first. The interviewer's "photo:N" question key is an index into this list.
    """
    documents = [
        d
        for d in db.scalars(
            select(Document)
            .where(Document.storyteller_id == session.storyteller_id, Document.kind == "photo")
            .order_by(Document.created_at, Document.id)
        )
        if (d.metadata_ or {}).get("variants")
    ]
    if not documents:
        return [], False
    by_id = {str(d.id): d for d in documents}
    here = [by_id[i] for i in _discussed_in(interactions) if i in by_id]
    elsewhere = set(
        _discussed_in(
            list(
                db.scalars(
                    select(SessionInteraction)
                    .join(Session, SessionInteraction.session_id == Session.id)
                    .where(
                        Session.storyteller_id == session.storyteller_id,
                        SessionInteraction.session_id != session.id,
                        SessionInteraction.interaction_type == "prompt",
                    )
                )
            )
        )
    )
    session_id = str(session.id)

    def chosen(d: Document) -> bool:
        return d.session_id == session.id or (d.metadata_ or {}).get(ASK_KEY) == session_id

    linked = {
        row
        for row in db.scalars(
            select(SessionLifeEvent.life_event_id).where(SessionLifeEvent.session_id == session.id)
        )
    }
    fresh = [d for d in documents if str(d.id) not in elsewhere and d not in here]
    fresh.sort(key=lambda d: (not chosen(d), d.life_event_id not in linked))
    # The interviewer numbers its photo questions by counting them in the questions' words
    # (an LLM may phrase one without those words): line the discussed photos up with that
    # count, so "photo:n" for the next n is always a photo not yet discussed.
    counted = photo_questions_asked(
        [i.agent_prompt or "" for i in interactions if i.response_method is not None]
    )
    aligned: list[Document | None] = [*here[:counted], *[None] * (counted - len(here))]
    return aligned + fresh, any(chosen(d) for d in fresh)


def photo_asked_about(db: DbSession, interaction: SessionInteraction | None) -> Document | None:
    """The photo a question is about, when it is about one."""
    if interaction is None:
        return None
    photo_id = (interaction.metadata_ or {}).get("photo_document_id")
    if not photo_id:
        return None
    try:
        document = db.get(Document, uuid.UUID(str(photo_id)))
    except ValueError:
        return None
    session = db.get(Session, interaction.session_id)
    if document is None or session is None or document.storyteller_id != session.storyteller_id:
        return None
    return document


# ------------------------------------------------------------------ photo annotations

CAPTION_CHARS = 160
_SENTENCE_END = (".", "!", "?")


def caption_from(answer: str) -> str:
    """A short caption in the storyteller's own words: their first sentence, cut at a word."""
    words = " ".join(answer.split())
    for index, char in enumerate(words):
        if char in _SENTENCE_END and (index + 1 == len(words) or words[index + 1] == " "):
            words = words[: index + 1]
            break
    if len(words) <= CAPTION_CHARS:
        return words
    cut = words[:CAPTION_CHARS].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + "…"


def annotation_data(document_id: str, analysis: Any, caption: str) -> dict[str, Any]:
    """structured_data of a photo_annotation artifact (seed 003) from the analysed answer."""
    return {
        "document_id": str(document_id),
        "people": list(analysis.people),
        "place": ", ".join(analysis.places[:2]) or None,
        "date": str(analysis.years[0]) if analysis.years else None,
        "caption": caption,
    }
