"""Parsing real DAG files: collected DAGs, definition errors, in-process loading."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tradewind.parse.dagbag import DagFileError, load_dags_from_file, parse_file, parse_files
from tradewind.parse.snapshot import snapshot_hash

HEADER = """\
from datetime import datetime, timedelta
from tradewind.definition.dag import DAG, dag
from tradewind.definition.operators.empty import EmptyOperator
"""


def _write(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + textwrap.dedent(body))
    return path.resolve()


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def test_two_dags_in_one_file_both_collected(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "two_dag.py",
        """
        with DAG("first", schedule=None) as d1:
            EmptyOperator(task_id="t")
        with DAG("second", schedule="@hourly") as d2:
            EmptyOperator(task_id="t")
        """,
    )
    result = parse_file(f, timeout=30)
    assert result.errors == []
    assert sorted(result.dag_ids) == ["first", "second"]
    assert all(d["fileloc"] == str(f) for d in result.dags)


def test_unassigned_with_block_and_dag_decorator_are_collected(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "unbound_dag.py",
        """
        with DAG("in_with_block", schedule=None):
            EmptyOperator(task_id="t")

        @dag(schedule=None)
        def from_decorator():
            EmptyOperator(task_id="t")

        from_decorator()
        """,
    )
    result = parse_file(f, timeout=30)
    assert result.errors == []
    assert sorted(result.dag_ids) == ["from_decorator", "in_with_block"]


def test_same_object_under_two_names_is_one_dag(tmp_path: Path) -> None:
    f = _write(tmp_path / "alias_dag.py", 'd = DAG("x", schedule=None)\nalias = d\n')
    assert parse_file(f, timeout=30).dag_ids == ["x"]


def test_same_dag_id_twice_in_one_file_is_an_error(tmp_path: Path) -> None:
    f = _write(tmp_path / "twice_dag.py", 'a = DAG("dup", schedule=None)\nb = DAG("dup", schedule=None)\n')
    result = parse_file(f, timeout=30)
    assert result.dag_ids == ["dup"]
    assert len(result.errors) == 1 and "'dup' is defined more than once" in result.errors[0].message


def test_file_without_dags_is_not_an_error(tmp_path: Path) -> None:
    f = _write(tmp_path / "no_dag.py", "VALUE = 42  # a dag-less module\n")
    result = parse_file(f, timeout=30)
    assert result.dags == [] and result.errors == []


def test_cycle_is_reported_with_its_path(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "cycle_dag.py",
        """
        with DAG("loopy", schedule=None) as d:
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            c = EmptyOperator(task_id="c")
            a >> b >> c >> a
        with DAG("fine", schedule=None) as ok:
            EmptyOperator(task_id="x")
        """,
    )
    result = parse_file(f, timeout=30)
    # The broken DAG is an error; the file's other DAG still loads.
    assert result.dag_ids == ["fine"]
    assert len(result.errors) == 1
    message = result.errors[0].message
    assert "DAG 'loopy'" in message and "DagCycleError" in message
    assert "a -> b -> c -> a" in message


def test_duplicate_task_id_names_the_task_and_line(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "dup_task_dag.py",
        """
        with DAG("dups", schedule=None) as d:
            EmptyOperator(task_id="same")
            EmptyOperator(task_id="same")  # second
        """,
    )
    result = parse_file(f, timeout=30)
    assert result.dags == []
    (err,) = result.errors
    assert "DuplicateTaskIdError" in err.message and "'same'" in err.message and "'dups'" in err.message
    assert err.lineno == _line_of(f, "# second")


def test_invalid_id_and_bad_cron_are_import_errors(tmp_path: Path) -> None:
    bad_id = _write(tmp_path / "bad_id_dag.py", 'd = DAG("no spaces allowed", schedule=None)\n')
    bad_cron = _write(tmp_path / "bad_cron_dag.py", 'd = DAG("crony", schedule="61 * * * *")\n')
    r1, r2 = parse_files([bad_id, bad_cron], timeout=30)
    (e1,) = r1.errors
    assert "InvalidIdError" in e1.message and "no spaces allowed" in e1.message
    assert e1.lineno == _line_of(bad_id, "no spaces allowed")
    (e2,) = r2.errors
    assert "InvalidScheduleError" in e2.message and "61 * * * *" in e2.message and "crony" in e2.message
    assert e2.lineno == _line_of(bad_cron, "61 * * * *")


def test_helper_module_beside_dag_file_imports(tmp_path: Path) -> None:
    (tmp_path / "my_defaults.py").write_text("ARGS = {'retries': 4}\n")
    f = _write(
        tmp_path / "helped_dag.py",
        """
        from my_defaults import ARGS
        with DAG("helped", schedule=None, default_args=ARGS) as d:
            EmptyOperator(task_id="t")
        """,
    )
    result = parse_file(f, timeout=30, sys_path=[tmp_path])
    assert result.errors == []
    assert result.dags[0]["tasks"][0]["retries"] == 4


# --------------------------------------------------------------------- in-process loading
def test_load_dags_from_file_returns_dag_objects(tmp_path: Path) -> None:
    f = _write(tmp_path / "load_dag.py", 'with DAG("loaded", schedule=None) as d:\n    EmptyOperator(task_id="t")\n')
    dags = load_dags_from_file(f)
    assert list(dags) == ["loaded"]
    assert dags["loaded"].fileloc == str(f)
    assert dags["loaded"].get_task("t").task_id == "t"


def test_same_basename_in_two_folders_loads_distinct_modules(tmp_path: Path) -> None:
    a = _write(tmp_path / "a" / "pipeline_dag.py", 'd = DAG("from_a", schedule=None)\n')
    b = _write(tmp_path / "b" / "pipeline_dag.py", 'd = DAG("from_b", schedule=None)\n')
    assert list(load_dags_from_file(a)) == ["from_a"]
    assert list(load_dags_from_file(b)) == ["from_b"]
    assert list(load_dags_from_file(a)) == ["from_a"]


def test_load_dags_from_file_raises_with_file_and_line(tmp_path: Path) -> None:
    f = _write(tmp_path / "broken_dag.py", "\nraise RuntimeError('nope')\n")
    with pytest.raises(DagFileError) as info:
        load_dags_from_file(f)
    err = info.value
    assert err.filename == str(f) and err.lineno == _line_of(f, "nope")
    assert err.message == "RuntimeError: nope"
    assert f"{f}:{err.lineno}" in str(err)


def test_load_dags_from_file_reports_sys_exit_without_exiting(tmp_path: Path) -> None:
    f = _write(tmp_path / "exits_dag.py", "import sys\nsys.exit(2)\n")
    with pytest.raises(DagFileError, match=r"sys.exit\(2\)"):
        load_dags_from_file(f)


def test_load_dags_from_file_validates_on_request(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "cyc_dag.py",
        'with DAG("c", schedule=None) as d:\n    a = EmptyOperator(task_id="a")\n'
        '    b = EmptyOperator(task_id="b")\n    a >> b >> a\n',
    )
    assert list(load_dags_from_file(f)) == ["c"]
    with pytest.raises(DagFileError, match="Cycle"):
        load_dags_from_file(f, validate=True)


# --------------------------------------------------------------------------- determinism
DETERMINISM_BODY = """
with DAG(
    "stable",
    schedule="0 6 * * 1-5",
    start_date=datetime(2024, 1, 1),
    tags={"zeta", "alpha", "mid"},
    params={"choices": {"c", "a", "b"}, "obj": object()},
    default_args={"retry_delay": timedelta(minutes=2)},
) as d:
    roots = [EmptyOperator(task_id=f"r{i}") for i in range(5)]
    end = EmptyOperator(task_id="end")
    roots >> end
"""


def test_snapshot_hash_is_identical_across_processes(tmp_path: Path) -> None:
    f = _write(tmp_path / "stable_dag.py", DETERMINISM_BODY)
    first = parse_file(f, timeout=30)
    second = parse_file(f, timeout=30)
    assert first.errors == [] and second.errors == []
    hashes = {snapshot_hash(first.dags[0]), snapshot_hash(second.dags[0])}
    # Fresh interpreters with different string-hash seeds (set order differs between them).
    script = (
        "import sys; from tradewind.parse.dagbag import parse_file; from tradewind.parse.snapshot import snapshot_hash;"
        f"r = parse_file({str(f)!r}, timeout=30); print(snapshot_hash(r.dags[0]))"
    )
    for seed in ("1", "2", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        )
        hashes.add(out.stdout.strip())
    assert len(hashes) == 1, hashes
    assert "0x" not in str(first.dags[0]["params"])
