"""Reading a file a user names: only a regular file, never more than a cap, with one clear error naming it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kg.errors import PlanError, PlanReadError


def read_regular(path: str | Path, limit: int, what: str = "file", error: type[PlanError] = PlanReadError) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; a folder, pipe or device is refused before reading.

    The file is opened without blocking and checked on the open descriptor, so a FIFO swapped in after a check
    of its name cannot hang the reader.
    """
    path = Path(path)
    name = path.name or str(path)
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
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            data = fh.read(limit + 1)
    except OSError as exc:
        raise error(name, f"cannot read the {what} ({exc.strerror})") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > limit:
        raise error(name, f"the {what} is over {_size(limit)}; larger ones are refused")
    return data


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"
