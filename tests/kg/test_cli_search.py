"""`kg search`: the true number of matches, pages by --offset, synonyms said and switched off, literal mode,
ROC years, the no-match line, and the whole answer as JSON."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest

from kg.cli import main
from kg.search import build_index_into
from kg.store import DataDir, build, bundled_plans
from kg.years import parse_year


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-search") / "kg-data"
    report = build(bundled_plans(), path, after_graph=build_index_into)
    assert not report.errors
    return path


@pytest.fixture(scope="module")
def measures(data_dir) -> list[dict]:
    return DataDir(data_dir).measures()


def containing(measures: list[dict], word: str) -> set[str]:
    """Measures whose title or text contains the word (spaces and line breaks ignored), from the records."""
    return {m["id"] for m in measures if word in "".join(((m["title"] or "") + m["text"]).split())}


def search(capsys, data_dir, *argv) -> str:
    assert main(["search", *argv, "--data-dir", str(data_dir)]) == 0
    return capsys.readouterr().out


def search_json(capsys, data_dir, *argv) -> dict:
    out = search(capsys, data_dir, *argv, "--json")
    assert len(out.splitlines()) == 1
    return json.loads(out)


def result_ids(text: str) -> list[str]:
    return re.findall(r"^\s+(m-[0-9a-f]+)\s", text, re.M)


def test_the_text_output_starts_with_the_total_and_the_range_shown(capsys, data_dir):
    found = search_json(capsys, data_dir, "服務", "--top-k", "100")
    assert found["total"] > 100 and len(found["results"]) == 100  # the total counts past the page
    out = search(capsys, data_dir, "服務", "--top-k", "5")
    lines = out.splitlines()
    assert lines[0] == f"{found['total']} 筆符合「服務」，顯示第 1–5 筆"
    assert result_ids(out) == [r["id"] for r in found["results"][:5]]
    assert re.match(r"^ 1\. ( \d|\d\d)%  ", next(x for x in lines if x.startswith(" 1.")))  # relevance as a percentage


def test_offset_shows_the_next_matches(capsys, data_dir):
    ten = search_json(capsys, data_dir, "服務", "--top-k", "10")
    page = search_json(capsys, data_dir, "服務", "--top-k", "3", "--offset", "3")
    assert page["offset"] == 3 and page["limit"] == 3 and page["total"] == ten["total"]
    assert [r["id"] for r in page["results"]] == [r["id"] for r in ten["results"][3:6]]
    out = search(capsys, data_dir, "服務", "--top-k", "3", "--offset", "3")
    assert out.splitlines()[0].endswith("顯示第 4–6 筆")
    assert re.search(r"^ 4\. ", out, re.M) and not re.search(r"^ 1\. ", out, re.M)
    past = search(capsys, data_dir, "服務", "--offset", "5000")
    assert past.splitlines()[0].startswith(f"{ten['total']} 筆符合「服務」") and not result_ids(past)


def test_synonyms_searched_are_said_and_no_expand_searches_only_the_words_typed(capsys, data_dir):
    found = search_json(capsys, data_dir, "臉書")
    assert found["expand"] is True and found["expansions"]
    out = search(capsys, data_dir, "臉書")
    assert out.splitlines()[1].startswith("也搜尋了：" + "、".join(found["expansions"][:3]))
    only = search_json(capsys, data_dir, "臉書", "--no-expand")
    assert only["expand"] is False and only["expansions"] == []
    assert "也搜尋了" not in search(capsys, data_dir, "臉書", "--no-expand")


@pytest.mark.parametrize("query", ["zzzzqqq", "太空梭"])
def test_a_query_nothing_matches_says_so_and_lists_nothing(capsys, data_dir, query):
    out = search(capsys, data_dir, query)
    assert out.splitlines()[0] == f"0 筆符合「{query}」：沒有符合的措施"
    assert not result_ids(out)
    found = search_json(capsys, data_dir, query)
    assert found["total"] == 0 and found["results"] == []


def test_a_quoted_phrase_finds_exactly_the_measures_containing_it(capsys, data_dir, measures):
    expected = containing(measures, "禮貌測試")
    found = search_json(capsys, data_dir, '"禮貌測試"', "--top-k", "100")
    assert found["required"] == ["禮貌測試"]
    assert found["total"] == len(expected) and {r["id"] for r in found["results"]} == expected
    assert "必須出現：禮貌測試" in search(capsys, data_dir, '"禮貌測試"')


def test_an_exclusion_removes_every_measure_containing_the_word(capsys, data_dir, measures):
    base = search_json(capsys, data_dir, "服務", "--top-k", "1000")
    found = search_json(capsys, data_dir, "服務 -電話", "--top-k", "1000")
    with_word = containing(measures, "電話")
    assert found["excluded"] == ["電話"]
    assert {r["id"] for r in found["results"]} == {r["id"] for r in base["results"]} - with_word
    assert found["total"] == len(found["results"]) < base["total"]


def test_literal_mode_requires_every_word_typed(capsys, data_dir, measures):
    expected = containing(measures, "1999") & containing(measures, "陳情")
    found = search_json(capsys, data_dir, "1999 陳情", "--mode", "literal", "--top-k", "100")
    assert found["mode"] == "literal" and found["expansions"] == []
    assert found["total"] == len(expected) and {r["id"] for r in found["results"]} == expected


def test_json_is_the_whole_answer_with_facets_over_every_match(capsys, data_dir):
    found = search_json(capsys, data_dir, "陳情", "--top-k", "3")
    for key in ("query", "mode", "total", "offset", "limit", "results", "facets", "expansions", "required", "excluded"):
        assert key in found
    assert len(found["results"]) == 3 < found["total"]
    assert sum(found["facets"]["agency"].values()) == found["total"]
    assert sum(found["facets"]["year"].values()) == found["total"]


@pytest.mark.parametrize("roc", ["105", "105年", "民國105年"])
def test_roc_years_filter_as_their_gregorian_year(capsys, data_dir, roc):
    gregorian = search_json(capsys, data_dir, "服務", "--year", "2016", "--top-k", "100")
    assert gregorian["results"] and {r["year"] for r in gregorian["results"]} == {2016}
    found = search_json(capsys, data_dir, "服務", "--year", roc, "--top-k", "100")
    assert [r["id"] for r in found["results"]] == [r["id"] for r in gregorian["results"]]


def test_years_as_planners_write_them():
    assert {parse_year(t) for t in ("2016", "105", "105年", "民國105年", "中華民國105年度", "１０５")} == {2016}
    assert parse_year("1") == 1912 and parse_year("200") == 2111 and parse_year("2199") == 2199
    for bad in ("0", "1911", "2200", "民國2016年", "民國300年", "105.5", "-105", "", "去年"):
        with pytest.raises(ValueError):
            parse_year(bad)


@pytest.mark.parametrize(
    "argv, option",
    [
        (["--year", "民國300年"], "--year"),
        (["--year", "去年"], "--year"),
        (["--offset", "-1"], "--offset"),
        (["--offset", "x"], "--offset"),
        (["--mode", "fuzzy"], "--mode"),
    ],
)
def test_bad_options_are_usage_errors(capsys, data_dir, argv, option):
    with pytest.raises(SystemExit) as exit_:
        main(["search", "服務", *argv, "--data-dir", str(data_dir)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and "Traceback" not in err


def test_stdin_prints_one_json_line_per_query(capsys, data_dir, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("電話禮貌測試\n\nzzzzqqq\n"))
    assert main(["search", "-", "--top-k", "3", "--data-dir", str(data_dir)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["query"] for x in lines] == ["電話禮貌測試", "zzzzqqq"]
    assert lines[0]["total"] >= len(lines[0]["results"]) > 0 and lines[1]["total"] == 0


def test_help_tells_the_query_syntax_modes_and_years():
    out = subprocess.run(
        [sys.executable, "-m", "kg.cli", "search", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for word in ("literal", "--offset", "--no-expand", "民國105年", '"phrases"', "-words"):
        assert word in out
