"""Photo files made in memory for the photo tests: with GPS EXIF, fakes, and bombs."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

GPS_IFD = 0x8825
EXIF_IFD = 0x8769
TAKEN = "1962:07:14 15:30:00"
# Latitude 51° 28' 40.1" — its rational bytes must not survive anywhere.
GPS = {1: "N", 2: (51.0, 28.0, 40.1), 3: "W", 4: (0.0, 0.0, 5.3)}


def exif_with_gps(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x0132] = "2020:01:01 00:00:00"
    if orientation:
        exif[0x0112] = orientation
    exif.get_ifd(EXIF_IFD)[0x9003] = TAKEN
    exif.get_ifd(GPS_IFD).update(GPS)
    return exif


def picture(size=(640, 480), mode="RGB") -> Image.Image:
    image = Image.new(mode, size, (200, 120, 40) if mode == "RGB" else None)
    for x in range(0, size[0], 16):
        for y in range(0, size[1], 16):
            image.putpixel((x, y), (10, 20, 30) if mode == "RGB" else (10, 20, 30, 255))
    return image


def jpeg_with_gps(size=(640, 480), orientation: int | None = None, xmp: bool = True) -> bytes:
    buffer = io.BytesIO()
    options = {"exif": exif_with_gps(orientation), "quality": 90}
    if xmp:
        options["xmp"] = b"<x:xmpmeta><exif:GPSLatitude>51,28.6N</exif:GPSLatitude></x:xmpmeta>"
    picture(size).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def png_with_gps() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "51.4778 N, 0.0015 W")
    buffer = io.BytesIO()
    picture(mode="RGBA").save(buffer, "PNG", exif=exif_with_gps(), pnginfo=info)
    return buffer.getvalue()


def webp_with_gps() -> bytes:
    buffer = io.BytesIO()
    picture().save(
        buffer,
        "WEBP",
        exif=exif_with_gps(),
        xmp=b"<x:xmpmeta><exif:GPSLatitude>51,28.6N</exif:GPSLatitude></x:xmpmeta>",
    )
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (its data is a few bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def gps_fingerprints() -> list[bytes]:
    """Byte strings that only the GPS block or the XMP/text location contain."""
    return [b"GPSLatitude", b"51.4778", b"51,28.6N"]


def has_gps(data: bytes) -> bool:
    """True when the image's EXIF has a GPS block, or its bytes carry the location."""
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        if exif.get_ifd(GPS_IFD) or GPS_IFD in exif:
            return True
    return any(f in data for f in gps_fingerprints())
