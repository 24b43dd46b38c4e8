"""Where uploaded and generated files live: one small storage interface, local disk by default.

Files are stored under ``<instance>/uploads/`` by keys the server makes
(``<kind>/<yyyy>/<mm>/<uuid><suffix>``), never from a name the browser sent. Callers keep
the key on their row (``document.storage_key``, ``audio_chunk.storage_key``) and ask this
module for the bytes or a path; a key that would resolve outside the uploads folder is
refused. Another backend (an object store) would implement the same four operations.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

UPLOADS_FOLDER = "uploads"
_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")
_SUFFIX = re.compile(r"^(\.[a-z0-9]{1,8})?$")
_COPY_CHUNK = 1024 * 1024


class StorageError(ValueError):
    """A key outside the storage root, or a file that is not there."""


class TooLarge(ValueError):
    """More bytes than the caller's limit; nothing is kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The file is larger than {limit // (1024 * 1024)} MB.")
        self.limit = limit


@dataclass(frozen=True)
class StoredFile:
    key: str
    size_bytes: int
    sha256: str


def new_key(kind: str, suffix: str = "", *, now: datetime | None = None) -> str:
    """A fresh server-made key such as ``photos/2026/11/<uuid>.jpg``."""
    if not _KIND.match(kind) or not _SUFFIX.match(suffix):
        raise StorageError(f"Bad storage kind or suffix: {kind!r} {suffix!r}")
    now = now or datetime.now(UTC)
    return f"{kind}/{now:%Y}/{now:%m}/{uuid.uuid4().hex}{suffix}"


class LocalStorage:
    """Files on local disk under one root folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        """The file's path for a key; StorageError if the key points outside the root."""
        if not key or key.startswith(("/", "\\")) or "\x00" in key:
            raise StorageError(f"Bad storage key: {key!r}")
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise StorageError(f"Bad storage key: {key!r}")
        return path

    def exists(self, key: str) -> bool:
        try:
            return self.path(key).is_file()
        except StorageError:
            return False

    def save(
        self, key: str, source: bytes | BinaryIO, *, max_bytes: int | None = None
    ) -> StoredFile:
        """Write bytes or a stream under the key, atomically (temp file, then rename).

        With ``max_bytes``, a stream longer than that raises TooLarge and leaves nothing.
        """
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                for block in _blocks(source):
                    size += len(block)
                    if max_bytes is not None and size > max_bytes:
                        raise TooLarge(max_bytes)
                    digest.update(block)
                    out.write(block)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StoredFile(key=key, size_bytes=size, sha256=digest.hexdigest())

    def read(self, key: str) -> bytes:
        path = self.path(key)
        if not path.is_file():
            raise StorageError(f"No file for key {key!r}")
        return path.read_bytes()

    def delete(self, key: str) -> bool:
        """Remove the file if it is there; True when something was removed."""
        try:
            path = self.path(key)
        except StorageError:
            return False
        if path.is_file():
            path.unlink()
            return True
        return False


def storage_for(instance_path: str | Path) -> LocalStorage:
    """The app's storage: ``<instance>/uploads``."""
    return LocalStorage(Path(instance_path) / UPLOADS_FOLDER)


def _blocks(source: bytes | BinaryIO) -> Iterable[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        yield bytes(source)
        return
    while block := source.read(_COPY_CHUNK):
        yield block
