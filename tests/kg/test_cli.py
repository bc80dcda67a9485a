import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kg.cli import main
from kg.records import EXPORT_FIELDS
from tests.conftest import sample


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_command_has_help_a_newcomer_reads():
    out = subprocess.run([sys.executable, "-m", "kg.cli", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("build", "export", "sparql", "units", "systems", "stats", "validate"):
        assert command in out
    assert "kg build" in out


def test_installed_kg_script_runs():
    exe = shutil.which("kg", path=str(Path(sys.executable).parent))
    assert exe, "the kg console script is installed with the package"
    out = subprocess.run([exe, "build", "--help"], capture_output=True, text=True, check=True).stdout
    assert "--data-dir" in out and "Big5" in out


def test_jsonl_export_is_the_contract(capsys, graph_dir):
    code, out, _ = run(capsys, "export", "--format", "jsonl", "--data-dir", str(graph_dir))
    assert code == 0
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) > 250
    for m in lines:
        assert tuple(m) == EXPORT_FIELDS
        assert set(m["source"]) == {"file", "line_start", "line_end"}
        assert m["source"]["file"].endswith(".txt") and "/" not in m["source"]["file"]
        assert all(set(u) == {"id", "name"} for u in m["units"] + m["systems"])


@pytest.mark.parametrize(
    "fmt, marker",
    [("ttl", "@prefix sp:"), ("nt", "<https://w3id.org/spkg/"), ("jsonld", '"@id"'), ("csv", "id,plan,agency,year")],
)
def test_other_export_formats(capsys, graph_dir, fmt, marker):
    code, out, _ = run(capsys, "export", "--format", fmt, "--data-dir", str(graph_dir))
    assert code == 0 and marker in out


def test_sparql_units_systems_stats_validate(capsys, graph_dir):
    d = str(graph_dir)
    code, out, _ = run(capsys, "sparql", "SELECT (COUNT(?m) AS ?n) WHERE { ?m a sp:Measure }", "--data-dir", d)
    assert code == 0 and int(out.splitlines()[1]) > 250
    code, out, _ = run(capsys, "units", "--data-dir", d)
    assert code == 0 and "查報組" in out
    code, out, _ = run(capsys, "systems", "--json", "--data-dir", d)
    rows = [json.loads(x) for x in out.splitlines()]
    assert any(r["system"] == "1999專線" and r["type"] == "Hotline" for r in rows)
    code, out, _ = run(capsys, "stats", "--json", "--data-dir", d)
    assert json.loads(out)["plans"] == 5
    code, out, _ = run(capsys, "validate", "--data-dir", d)
    assert code == 0 and "conforms" in out


def test_sparql_update_and_bad_query_are_refused(capsys, graph_dir):
    code, _, err = run(capsys, "sparql", "DELETE WHERE { ?s ?p ?o }", "--data-dir", str(graph_dir))
    assert code == 1 and "read-only" in err
    code, _, err = run(capsys, "sparql", "SELECT WHERE {", "--data-dir", str(graph_dir))
    assert code == 1 and "bad SPARQL" in err


def test_build_with_a_bad_file_names_it_and_exits_non_zero(capsys, tmp_path):
    bad = tmp_path / "scan.txt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    code, out, err = run(capsys, "build", "--no-index", str(bad), str(sample("004")), "--data-dir", str(tmp_path / "d"))
    assert code == 1
    assert "scan.txt" in err and "binary" in err
    assert "1 file(s) ingested" in out


def test_missing_data_dir_is_a_clear_error(capsys, tmp_path):
    code, _, err = run(capsys, "stats", "--data-dir", str(tmp_path / "none"))
    assert code == 1 and "kg build" in err
