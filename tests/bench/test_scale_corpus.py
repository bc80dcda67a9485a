"""The scale corpus: each generated plan reads back through the real parser as the agency, year and measures written."""

from __future__ import annotations

import json

import pytest

from bench.scale_corpus import agencies, generate, main, templates
from kg.plan import parse_plan
from kg.read import parse_bytes


def _rows(folder):
    lines = (folder / "plans.tsv").read_text("utf-8").splitlines()[1:]
    keys = ("file", "agency", "year", "measures", "template")
    return [dict(zip(keys, line.split("\t"), strict=True)) for line in lines]


def test_plans_read_back_as_written(tmp_path):
    counts = generate(600, tmp_path, seed=3)
    rows = _rows(tmp_path)
    assert counts["plans"] == len(rows) >= 8
    assert counts["measures"] == sum(int(r["measures"]) for r in rows) >= 600
    assert json.loads((tmp_path / "READY").read_text("utf-8")) == counts
    sample_texts = {text for t in templates() for _, _, text in t.measures}
    for r in rows:
        plan = parse_plan(parse_bytes((tmp_path / r["file"]).read_bytes(), r["file"]))
        assert (plan.agency, plan.year_roc, len(plan.measures)) == (r["agency"], int(r["year"]), int(r["measures"]))
        assert 100 <= plan.year_roc <= 113
        remade = [m for m in plan.measures if m.text not in sample_texts]
        assert len(remade) >= 0.6 * len(plan.measures), r["file"]
    assert len({(r["agency"], r["year"]) for r in rows}) == len(rows)  # no plan replaces another


def test_same_seed_same_corpus_and_a_smaller_one_is_its_start(tmp_path):
    generate(300, tmp_path / "a", seed=5)
    generate(120, tmp_path / "b", seed=5)
    generate(120, tmp_path / "c", seed=6)
    a, b, c = (sorted(p.name for p in (tmp_path / x).glob("*.txt")) for x in "abc")
    assert b == a[: len(b)] and len(b) < len(a)
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in b)
    assert [(tmp_path / "b" / n).read_bytes() for n in b] != [(tmp_path / "c" / n).read_bytes() for n in c]


def test_agency_names_are_distinct_and_read_as_agencies():
    names = [a.name for a in agencies()]
    assert len(names) == len(set(names)) > 300


def test_cli_refuses_a_bad_size(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--measures", "lots", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "--measures: not a size: 'lots'" in capsys.readouterr().err


def test_a_corpus_written_again_leaves_no_plan_of_the_earlier_one(tmp_path):
    generate(400, tmp_path, seed=1)
    (tmp_path / "notes.md").write_text("mine", encoding="utf-8")
    counts = generate(100, tmp_path, seed=1)
    assert len(list(tmp_path.glob("*.txt"))) == counts["plans"] == len(_rows(tmp_path))
    assert (tmp_path / "notes.md").read_text(encoding="utf-8") == "mine"
