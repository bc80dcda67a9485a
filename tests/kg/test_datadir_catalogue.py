"""The plan catalogue of a generation: what finding plans (kg remove) reads instead of every record."""

from __future__ import annotations

from kg.datadir import CATALOGUE, CATALOGUE_FIELDS, DataDir
from kg.store import build, find_plans, remove
from tests.kg.test_datadir import A, B, C


def test_the_catalogue_lists_every_plan_as_its_record_has_it_and_finds_the_same_plans(tmp_path):
    data = tmp_path / "kg-data"
    assert not build([A, B, C], data).errors
    d = DataDir(data)
    records = d.records()
    assert (d.current() / CATALOGUE).is_file()
    assert d.catalogue() == [{f: r.get(f) for f in CATALOGUE_FIELDS} for r in records]
    rec = records[1]
    for how in ({"plan_ids": [rec["id"]]}, {"plan_ids": [rec["file"]]}, {"agency": rec["agency"]["name"]}):
        assert [r["id"] for r in find_plans(d.catalogue(), **how)] == [r["id"] for r in find_plans(records, **how)]

    removed = remove(data, agency=rec["agency"]["name"], year=rec["year"])
    assert [r["id"] for r in removed.removed] == [rec["id"]] and removed.removed[0]["measures"]  # the whole record
    assert [r["id"] for r in DataDir(data).catalogue()] == sorted(r["id"] for r in records if r is not rec)


def test_a_generation_without_a_catalogue_has_its_records_read(tmp_path):
    data = tmp_path / "kg-data"
    assert not build([A, B], data).errors
    (DataDir(data).current() / CATALOGUE).unlink()  # as a build before catalogues were written left it
    assert DataDir(data).catalogue() == DataDir(data).records()
    key = DataDir(data).records()[0]["id"]
    assert [r["id"] for r in remove(data, [key]).removed] == [key]
