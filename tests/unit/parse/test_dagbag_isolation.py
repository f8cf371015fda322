"""ParsePool and parse children: captured output, memory limit, slow lane, fork guard."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import psutil

from tradewind.parse.dagbag import (
    OUTPUT_KEEP_BYTES,
    SLOW_NICENESS,
    ChildLimits,
    ParsePool,
    output_to_stderr,
    parse_file,
    parse_files,
)

GOOD = "from tradewind.definition.dag import DAG\nwith DAG('good', schedule=None) as d:\n    pass\n"


def _write(path: Path, text: str) -> str:
    path.write_text(textwrap.dedent(text))
    return str(path.resolve())


def test_what_the_file_prints_is_captured_not_inherited(tmp_path: Path, capfd) -> None:
    f = _write(tmp_path / "loud_dag.py", "import os, sys\nprint('to-stdout')\nprint('to-stderr', file=sys.stderr)\n"
               "os.write(1, b'raw-fd-1\\n')\n" + GOOD)
    result = parse_file(f, timeout=30)
    assert result.dag_ids == ["good"]
    assert "to-stdout" in result.output and "to-stderr" in result.output and "raw-fd-1" in result.output
    out, err = capfd.readouterr()
    assert "to-stdout" not in out + err and "raw-fd-1" not in out + err


def test_megabytes_of_output_neither_block_nor_grow_memory(tmp_path: Path) -> None:
    f = _write(tmp_path / "chatty_dag.py", "import sys\nsys.stdout.write('x' * 5_000_000)\n" + GOOD)
    started = time.monotonic()
    result = parse_file(f, timeout=30)
    assert time.monotonic() - started < 15
    assert result.dag_ids == ["good"]
    assert result.output_bytes == 5_000_000
    assert len(result.output) == OUTPUT_KEEP_BYTES


def test_memory_limit_turns_a_big_allocation_into_a_named_error(tmp_path: Path) -> None:
    f = _write(tmp_path / "hog_dag.py", "# dag\nblob = bytearray(8 * 1024 ** 3)\n")
    [result] = parse_files([f], timeout=30, memory_limit_mb=200)
    assert len(result.errors) == 1
    assert "[dag_processor] parse_memory_limit (200 MB)" in result.errors[0].message


def test_without_a_memory_limit_the_same_file_gets_its_memory(tmp_path: Path) -> None:
    f = _write(tmp_path / "medium_dag.py", "blob = bytearray(300 * 1024 ** 2)\n" + GOOD)
    [limited] = parse_files([f], timeout=30, memory_limit_mb=100)
    [unlimited] = parse_files([f], timeout=30, memory_limit_mb=0)
    assert "parse_memory_limit" in limited.errors[0].message
    assert unlimited.dag_ids == ["good"] and unlimited.errors == []


def test_a_forked_copy_of_the_child_never_answers(tmp_path: Path) -> None:
    f = _write(tmp_path / "fork_dag.py", "import os\nos.fork()\n" + GOOD)
    results = parse_files([f, f], timeout=30)
    assert len(results) == 1
    assert results[0].dag_ids == ["good"] and results[0].errors == []


def test_a_slow_child_is_reniced_into_the_slow_lane_and_frees_its_slot(tmp_path: Path) -> None:
    hang = _write(tmp_path / "hang_dag.py", "# dag\nwhile True:\n    pass\n")
    good = _write(tmp_path / "good_dag.py", GOOD)
    pool = ParsePool(ChildLimits(timeout=30), parallelism=1, slow_parallelism=1, slow_after=0.2)
    try:
        pool.start(hang)
        assert not pool.can_start()
        deadline = time.monotonic() + 10
        while hang not in pool.slow and time.monotonic() < deadline:
            assert pool.wait(0.1) == []
        assert hang in pool.slow
        assert psutil.Process(pool.slow[hang].proc.pid).nice() == SLOW_NICENESS
        assert pool.can_start()
        pool.start(good)
        results = []
        while not results and time.monotonic() < deadline:
            results = pool.wait(0.5)
        assert [r.dag_ids for r in results] == [["good"]]
        assert pool.in_flight() == {hang}
    finally:
        pool.close()
    assert len(pool) == 0


def test_a_full_slow_lane_keeps_slow_children_in_their_slots(tmp_path: Path) -> None:
    hangs = [_write(tmp_path / f"hang{i}_dag.py", "# dag\nwhile True:\n    pass\n") for i in range(2)]
    pool = ParsePool(ChildLimits(timeout=30), parallelism=1, slow_parallelism=1, slow_after=0.1)
    try:
        pool.start(hangs[0])
        while hangs[0] not in pool.slow:
            pool.wait(0.1)
        pool.start(hangs[1])
        time.sleep(0.3)
        pool.wait(0.1)
        assert set(pool.fast) == {hangs[1]} and not pool.can_start() and not pool.can_start(slow=True)
    finally:
        pool.close()


def test_known_slow_file_starts_reniced(tmp_path: Path) -> None:
    f = _write(tmp_path / "sleepy_dag.py", "# dag\nimport time\ntime.sleep(30)\n")
    pool = ParsePool(ChildLimits(timeout=30), parallelism=1, slow_parallelism=1, slow_after=5)
    try:
        pool.start(f, slow=True)
        assert f in pool.slow and pool.can_start()
        deadline = time.monotonic() + 5
        while psutil.Process(pool.slow[f].proc.pid).nice() != SLOW_NICENESS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert psutil.Process(pool.slow[f].proc.pid).nice() == SLOW_NICENESS
    finally:
        pool.close()


def test_output_to_stderr_keeps_stdout_clean(capfd) -> None:
    with output_to_stderr():
        print("printed-inside")
        os.write(1, b"raw-inside\n")
    print("printed-after")
    out, err = capfd.readouterr()
    assert out == "printed-after\n"
    assert "printed-inside" in err and "raw-inside" in err
