"""Serving stored files (photos, audio) safely: one function every file route uses.

The content type comes from the caller's row (set by the server after checking the bytes),
never from the file name; anything outside a short list of safe types is served as a
download of ``application/octet-stream``. Every response carries ``Content-Disposition``,
``X-Content-Type-Options: nosniff``, a sandboxing Content-Security-Policy and private
caching. Range requests work (audio seeking) through ``send_file(conditional=True)``.
The caller checks who may see the file before calling this.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from flask import Response, abort, send_file

from storyteller.file_storage import LocalStorage, StorageError

INLINE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "audio/webm",
        "audio/ogg",
        "audio/wav",
        "audio/mpeg",
        "audio/mp4",
    }
)
FILE_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"


def send_stored_file(
    storage: LocalStorage,
    key: str | None,
    *,
    content_type: str,
    download_name: str,
    max_age: int = 3600,
) -> Response:
    """The stored file as a response with safe headers; 404 when it is not there."""
    if not key:
        abort(404)
    try:
        path = storage.path(key)
    except StorageError:
        abort(404)
    if not path.is_file():
        abort(404)
    inline = content_type in INLINE_TYPES
    response = send_file(
        path,
        mimetype=content_type if inline else "application/octet-stream",
        as_attachment=not inline,
        download_name=download_name,
        conditional=True,
        max_age=max_age,
    )
    response.response = _closed_at_end(response.response)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.cache_control.private = True
    response.cache_control.public = False
    return response


def _closed_at_end(body: Iterable[bytes]) -> Iterator[bytes]:
    """The body, with its file closed once read (or dropped), even if no one calls close()."""
    try:
        yield from body
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
