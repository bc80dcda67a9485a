"""Plan records on disk: compressed, the same bytes for the same record, older plain files still read."""

import gzip
import json

import pytest

from kg import recordfiles
from kg.datadir import DataDir
from kg.errors import PlanError
from kg.store import build
from tests.conftest import sample

REC = {"id": "abc123", "title": "人事處提升服務品質執行計畫", "measures": [{"id": "m-1", "text": "設置哺乳室"}]}


def test_a_record_is_compressed_and_its_bytes_follow_from_its_content(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    pa = recordfiles.write(a, "abc123", REC)
    pb = recordfiles.write(b, "abc123", dict(reversed(list(REC.items()))))
    assert pa.name == "abc123.json.gz"
    assert pa.read_bytes() == pb.read_bytes()  # key order and time of writing change nothing
    assert json.loads(gzip.decompress(pa.read_bytes())) == REC
    assert recordfiles.read(pa) == REC


def test_a_plain_record_of_an_older_generation_is_read_and_listed(tmp_path):
    (tmp_path / "old1.json").write_text(json.dumps(dict(REC, id="old1"), ensure_ascii=False), "utf-8")
    recordfiles.write(tmp_path, "new1", dict(REC, id="new1"))
    (tmp_path / ".tmp.json").write_text("{}", "utf-8")  # not a record: hidden
    (tmp_path / "notes.txt").write_text("x", "utf-8")
    assert list(recordfiles.files(tmp_path)) == ["new1", "old1"]
    assert [r["id"] for r in recordfiles.read_all(tmp_path)] == ["new1", "old1"]
    assert recordfiles.files(tmp_path)["old1"] == tmp_path / "old1.json"


@pytest.mark.parametrize(
    "content",
    [b"", b"\x1f\x8b\x08\x00garbage", gzip.compress(b"\xff\xfe not utf-8"), gzip.compress(b"[1, 2]")],
    ids=["empty", "truncated-gzip", "not-utf8", "not-an-object"],
)
def test_a_damaged_record_is_named(tmp_path, content):
    bad = tmp_path / "abc123.json.gz"
    bad.write_bytes(content)
    with pytest.raises(PlanError) as e:
        recordfiles.read(bad)
    assert str(bad) in str(e.value) and "build again" in str(e.value)


def test_a_build_writes_compressed_records_and_keeps_an_unchanged_one_as_the_same_file(tmp_path):
    data = tmp_path / "kg-data"
    build([sample("004")], data)
    first = DataDir(data).records_dir
    (kept,) = recordfiles.files(first).values()
    assert kept.name.endswith(".json.gz")
    build([sample("004"), sample("001")], data)
    second = recordfiles.files(DataDir(data).records_dir)
    assert len(second) == 2
    assert second[kept.name.removesuffix(".json.gz")].stat().st_ino == kept.stat().st_ino  # hard-linked
    assert sorted(r["file"] for r in DataDir(data).records()) == sorted([sample("004").name, sample("001").name])


def test_a_generation_with_plain_records_is_read_and_the_next_build_compresses_them(tmp_path):
    data = tmp_path / "kg-data"
    build([sample("004")], data)
    folder = DataDir(data).records_dir
    for pid, p in recordfiles.files(folder).items():  # as a build before compression wrote them
        (folder / f"{pid}.json").write_text(recordfiles.text(recordfiles.read(p)), "utf-8")
        p.unlink()
    assert [r["file"] for r in DataDir(data).records()] == [sample("004").name]
    build([sample("004"), sample("001")], data)
    names = [p.name for p in recordfiles.files(DataDir(data).records_dir).values()]
    assert len(names) == 2 and all(n.endswith(".json.gz") for n in names)
