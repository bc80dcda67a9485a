"""Copying a file a user named: only a regular file, never more than the cap, hashed as it is copied."""

import hashlib
import io
import os

import pytest

from kg.errors import PlanReadError
from kg.files import copy_regular, read_regular


def test_a_copy_is_the_file_and_its_hash(tmp_path):
    f = tmp_path / "plan.txt"
    f.write_bytes(os.urandom(3 << 20) + "計畫".encode())  # more than one chunk
    out = io.BytesIO()
    assert copy_regular(f, out, 4 << 20) == hashlib.sha1(f.read_bytes()).hexdigest()
    assert out.getvalue() == f.read_bytes() == read_regular(f, 4 << 20)


@pytest.mark.parametrize("what", ["pipe", "folder", "too big", "missing"])
def test_what_is_not_a_regular_file_under_the_cap_is_refused_naming_it(tmp_path, what):
    f = tmp_path / "plan.txt"
    if what == "pipe":
        os.mkfifo(f)  # opened without blocking: no writer cannot hang the copy
    elif what == "folder":
        f.mkdir()
    elif what == "too big":
        f.write_bytes(b"x" * 2048)
    out = io.BytesIO()
    with pytest.raises(PlanReadError) as err:
        copy_regular(f, out, 1024, "plan file")
    assert err.value.file == "plan.txt" and "plan file" in str(err.value)
    assert out.getvalue() == b""
