"""Where sealed recordings are kept: a small interface and the default, files under the data dir.

Only sealed bytes ever reach a ``RecordingStorage``; a storage reference is a random name that
says nothing about the call, the victim or the time, and cannot be guessed or walked.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Protocol

_REF = re.compile(r"^[0-9a-f]{32}$")
SUFFIX = ".sealed"


class RecordingStorage(Protocol):
    def put(self, chunks: Iterable[bytes]) -> str:
        """Store the sealed bytes under a new random reference and return it."""

    def open(self, ref: str) -> BinaryIO:
        """Open the sealed bytes for reading (a context manager)."""

    def delete(self, ref: str) -> None:
        """Remove the sealed bytes; a missing reference is not an error (purges re-run)."""

    def exists(self, ref: str) -> bool: ...


class FileStorage:
    """Sealed recordings as 0600 files in 0700 directories under ``root``.

    Files are written under a temporary name, flushed to disk and renamed, so a crash never
    leaves a half-written file under a reference a row points to.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def _path(self, ref: str) -> Path:
        if not _REF.match(ref):
            raise ValueError("not a recording storage reference")
        return self.root / ref[:2] / f"{ref}{SUFFIX}"

    def put(self, chunks: Iterable[bytes]) -> str:
        ref = secrets.token_hex(16)
        final = self._path(ref)
        final.parent.mkdir(mode=0o700, exist_ok=True)
        partial = final.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            raise
        _fsync_dir(final.parent)
        return ref

    def open(self, ref: str) -> BinaryIO:
        return self._path(ref).open("rb")

    def delete(self, ref: str) -> None:
        path = self._path(ref)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            _fsync_dir(path.parent)

    def exists(self, ref: str) -> bool:
        return self._path(ref).is_file()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
