"""Reading the files of a build in a process pool gives what reading them one by one gives, in the same order."""

import shutil

from kg.errors import PlanError
from kg.link import Aliases
from kg.store import _read_plans, bundled_plans


def _outcomes(files, strict, parallel_from):
    out = []
    for result in _read_plans(files, Aliases.load(), strict, lambda x: x, parallel_from=parallel_from):
        if isinstance(result, PlanError):
            out.append((type(result), str(result), result.file, result.line))
        else:
            out.append(result)
    return out


def test_a_pool_reads_the_same_records_errors_and_findings_in_file_order(tmp_path):
    files = []
    for n, sample in enumerate(bundled_plans() * 2):
        files.append(tmp_path / f"{n:02d}-{sample.name}")
        shutil.copy(sample, files[-1])
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "not-a-plan.txt").write_text("這不是一份服務躍升方案。\n", "utf-8")
    files[3:3] = [tmp_path / "empty.txt", tmp_path / "not-a-plan.txt"]
    for strict in (False, True):
        one_by_one = _outcomes(files, strict, parallel_from=len(files) + 1)
        assert _outcomes(files, strict, parallel_from=1) == one_by_one
        assert any(isinstance(o, tuple) and isinstance(o[0], type) for o in one_by_one)  # errors came back
    assert [o[2].file for o in _outcomes(files, False, 1) if isinstance(o[0], dict)] == [
        f.name for f in files if f.stat().st_size and f.name != "not-a-plan.txt"
    ]
