"""parse_file/parse_files child-process machinery: errors, timeouts, crashes.

These DAG files fail before any DAG would be collected, so they only need the
parser itself.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import psutil

from tradewind.parse.dagbag import FileParseResult, parse_file, parse_files


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path.resolve()


def _only_error(result: FileParseResult):
    assert result.dags == []
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


def test_syntax_error_reports_its_line(tmp_path: Path) -> None:
    f = _write(tmp_path / "bad_dag.py", "x = 1\ny = 2\ndef broken(:\n    pass\n")
    err = _only_error(parse_file(f, timeout=30))
    assert err.filename == str(f)
    assert err.lineno == 3
    assert err.message.startswith("SyntaxError")
    assert "line 3" in err.message


def test_missing_module_import_error(tmp_path: Path) -> None:
    f = _write(tmp_path / "missing_dag.py", "# dag\n\nimport not_a_module_anywhere_42\n")
    err = _only_error(parse_file(f, timeout=30))
    assert err.lineno == 3
    assert "ModuleNotFoundError" in err.message and "not_a_module_anywhere_42" in err.message
    assert "not_a_module_anywhere_42" in (err.stacktrace or "")


def test_exception_at_import_points_at_deepest_line_in_file(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "raise_dag.py",
        """\
        # dag
        def make():
            raise ValueError("no config for dag")

        make()
        """,
    )
    err = _only_error(parse_file(f, timeout=30))
    assert err.lineno == 3
    assert err.message == "ValueError: no config for dag"
    # The trace starts in the DAG file, not in our import machinery.
    assert "importlib" not in (err.stacktrace or "")
    assert str(f) in (err.stacktrace or "")


def test_error_inside_helper_module_is_reported_at_the_import_line(tmp_path: Path) -> None:
    _write(tmp_path / "broken_helper.py", "raise RuntimeError('helper exploded')\n")
    f = _write(tmp_path / "uses_helper_dag.py", "# dag\nimport broken_helper\n")
    err = _only_error(parse_file(f, timeout=30, sys_path=[tmp_path]))
    assert err.lineno == 2
    assert "helper exploded" in err.message


def test_sys_exit_becomes_an_import_error(tmp_path: Path) -> None:
    f = _write(tmp_path / "exit_dag.py", "# dag\nimport sys\nsys.exit(3)\n")
    err = _only_error(parse_file(f, timeout=30))
    assert "sys.exit(3)" in err.message
    assert err.lineno == 3


def test_os_exit_crash_becomes_an_import_error(tmp_path: Path) -> None:
    f = _write(tmp_path / "crash_dag.py", "# dag\nimport os\nos._exit(7)\n")
    err = _only_error(parse_file(f, timeout=30))
    assert "exit code 7" in err.message


def test_segfault_like_death_becomes_an_import_error(tmp_path: Path) -> None:
    f = _write(tmp_path / "kill_dag.py", "# dag\nimport os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    err = _only_error(parse_file(f, timeout=30))
    assert "SIGSEGV" in err.message


def test_busy_loop_is_killed_at_timeout(tmp_path: Path) -> None:
    f = _write(tmp_path / "spin_dag.py", "# dag\nwhile True:\n    pass\n")
    err = _only_error(parse_file(f, timeout=0.5))
    assert err.message == (
        "DAG file took longer than 0.5 s to import (timeout); raise [core] dagbag_import_timeout if it needs more"
    )


def test_sleeping_file_and_its_subprocess_are_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    f = _write(
        tmp_path / "sleep_dag.py",
        f"""\
        # dag
        import subprocess, time
        p = subprocess.Popen(["sleep", "100"])
        open({str(pid_file)!r}, "w").write(str(p.pid))
        time.sleep(100)
        """,
    )
    err = _only_error(parse_file(f, timeout=1))
    assert "(timeout)" in err.message
    grandchild = int(pid_file.read_text())
    # The whole process group was killed, so the file's own child is gone too
    # (or at worst a zombie waiting for init to reap it).
    try:
        proc = psutil.Process(grandchild)
        proc.wait(timeout=5)
    except psutil.NoSuchProcess:
        pass
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE


def test_a_hanging_file_does_not_stop_others(tmp_path: Path) -> None:
    hang = _write(tmp_path / "hang_dag.py", "# dag\nimport time\ntime.sleep(100)\n")
    bad1 = _write(tmp_path / "bad1_dag.py", "# dag\nraise KeyError('one')\n")
    bad2 = _write(tmp_path / "bad2_dag.py", "# dag\nraise KeyError('two')\n")
    results = parse_files([hang, bad1, bad2], timeout=1, parallelism=2)
    assert [r.fileloc for r in results] == [str(hang), str(bad1), str(bad2)]
    assert "(timeout)" in results[0].errors[0].message
    assert "one" in results[1].errors[0].message
    assert "two" in results[2].errors[0].message


def test_result_carries_file_facts(tmp_path: Path) -> None:
    f = _write(tmp_path / "facts_dag.py", "# dag\nraise KeyError('x')\n")
    result = parse_file(f, timeout=30)
    assert result.mtime == os.stat(f).st_mtime
    assert result.content_hash and len(result.content_hash) == 64
    assert result.duration >= 0


def test_no_child_processes_left_behind(tmp_path: Path) -> None:
    files = [_write(tmp_path / f"e{i}_dag.py", f"# dag\nraise ValueError({i})\n") for i in range(4)]
    # Session-wide test servers (S3, MariaDB) may be children of this worker already.
    before = {p.pid for p in psutil.Process().children()}
    parse_files(files, timeout=30, parallelism=3)
    assert {p.pid for p in psutil.Process().children()} - before == set()
