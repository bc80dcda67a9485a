from index.practices import apply_corrections, build_scheme


def test_scheme_types_most_measures_and_names_them(index):
    scheme = index.practice_scheme()
    assert len(scheme.membership) >= 0.8 * len(index)
    assert all(t.label and t.members for t in scheme.types)
    assert {"faq", "phone-courtesy", "free-wifi"} <= {t.id for t in scheme.types}
    assert any(t.source == "cluster" for t in scheme.types) or len(scheme.membership) == len(index)


def test_coverage_matrix_counts_each_typed_measure_once(index):
    scheme = index.practice_scheme()
    cov = scheme.coverage(index.measures)
    assert set(cov) <= {m["agency"] for m in index.measures}
    assert sum(n for row in cov.values() for n in row.values()) == len(scheme.membership)


def test_planner_corrections_rename_merge_move(index):
    scheme = index.practice_scheme()
    mid = scheme.type("faq").members[0]
    fixed = apply_corrections(
        scheme,
        {
            "rename": {"faq": "常見問答集"},
            "merge": [{"into": "phone-courtesy", "from": ["satisfaction-survey"]}],
            "move": {mid: "free-wifi"},
        },
    )
    assert fixed.type("faq").label == "常見問答集" and "常見問題集" in fixed.type("faq").alt_labels
    assert "satisfaction-survey" not in {t.id for t in fixed.types}
    survey_members = set(scheme.type("satisfaction-survey").members)
    assert survey_members <= set(fixed.type("phone-courtesy").members)
    assert fixed.primary(mid) == "free-wifi"


def test_corrections_file(tmp_path, index):
    f = tmp_path / "fix.toml"
    f.write_text('[rename]\n"free-wifi" = "免費上網"\n', encoding="utf-8")
    scheme = build_scheme(index.measures, index.vectors, index.vocabulary, corrections=f)
    assert scheme.type("free-wifi").label == "免費上網"
    data = scheme.to_dict()
    assert data["types"] and data["membership"]


def test_cluster_names_do_not_depend_on_the_hash_seed():
    """A type named from its members' words names its IRI: ties among words go by the word, not by set order."""
    import subprocess
    import sys

    code = (
        "from index.practices import _name_cluster;"
        "print(_name_cluster([{'text': '每月辦理員工登山健行活動'}, {'text': '每季舉辦同仁親山步道健行'}]))"
    )
    names = {
        subprocess.run(
            [sys.executable, "-c", code], env={"PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True
        ).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert len(names) == 1 and names.pop().startswith("健行・")
