"""Reading a file a user names: only a regular file, never more than a cap, with one clear error naming it."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

from kg.errors import PlanError, PlanReadError


def read_regular(path: str | Path, limit: int, what: str = "file", error: type[PlanError] = PlanReadError) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; a folder, pipe or device is refused before reading.

    The file is opened without blocking and checked on the open descriptor, so a FIFO swapped in after a check
    of its name cannot hang the reader.
    """
    name = Path(path).name or str(path)
    with _open_regular(path, limit, what, error) as fh:
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise error(name, f"cannot read the {what} ({exc.strerror})") from None
    if len(data) > limit:
        raise error(name, f"the {what} is over {_size(limit)}; larger ones are refused")
    return data


def copy_regular(
    path: str | Path, out: BinaryIO, limit: int, what: str = "file", error: type[PlanError] = PlanReadError
) -> str:
    """Copy a regular file of at most `limit` bytes (checked as read_regular does) to `out` a MB at a time; the
    SHA-1 of what was copied, in hex. An error writing `out` passes through as OSError."""
    name = Path(path).name or str(path)
    digest = hashlib.sha1()
    copied = 0
    with _open_regular(path, limit, what, error) as fh:
        while True:
            try:
                chunk = fh.read(1 << 20)
            except OSError as exc:
                raise error(name, f"cannot read the {what} ({exc.strerror})") from None
            if not chunk:
                return digest.hexdigest()
            copied += len(chunk)
            if copied > limit:
                raise error(name, f"the {what} is over {_size(limit)}; larger ones are refused")
            digest.update(chunk)
            out.write(chunk)


def _open_regular(path: str | Path, limit: int, what: str, error: type[PlanError]) -> BinaryIO:
    name = Path(path).name or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(name, f"cannot open the {what} ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(name, f"not a regular file (a folder, device or pipe): give a {what}")
        if st.st_size > limit:
            raise error(name, f"the {what} is {_size(st.st_size)}; over {_size(limit)} is refused")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", closefd=True)
    except OSError as exc:
        os.close(fd)
        raise error(name, f"cannot read the {what} ({exc.strerror})") from None
    except BaseException:
        os.close(fd)
        raise


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"
