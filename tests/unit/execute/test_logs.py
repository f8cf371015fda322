"""Try log files: path layout and timestamped capture of logging, print() and fd output."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

from tradewind.workloads import TaskKey
from tradewind.execute.logs import TASK_LOGGER, TryLogCapture, log_path

LINE = re.compile(r"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000\] \{[^}]+\} [A-Z]+ - ")


def test_log_path_unmapped(tmp_path: Path) -> None:
    key = TaskKey("etl", "manual__2024-01-01T00:00:00+00:00", "load", -1, 2)
    assert log_path(tmp_path, key) == (
        tmp_path / "dag_id=etl" / "run_id=manual__2024-01-01T00:00:00+00:00" / "task_id=load" / "attempt=2.log"
    )


def test_log_path_mapped_has_map_index_folder(tmp_path: Path) -> None:
    key = TaskKey("etl", "r1", "load", 3, 1)
    assert log_path(tmp_path, key) == tmp_path / "dag_id=etl" / "run_id=r1" / "task_id=load" / "map_index=3" / "attempt=1.log"


def test_capture_logging_and_print_with_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "a" / "attempt=1.log"
    with TryLogCapture(path):
        logging.getLogger(TASK_LOGGER).info("hello from the task logger")
        logging.getLogger("user.module").warning("user warning")
        print("printed line")
        print("to stderr", file=sys.stderr)
    lines = path.read_text().splitlines()
    assert all(LINE.match(line) for line in lines), lines
    text = "\n".join(lines)
    assert "INFO - hello from the task logger" in text
    assert "WARNING - user warning" in text
    assert "{stdout} INFO - printed line" in text
    assert "{stderr} ERROR - to stderr" in text
    assert "{test_logs.py:" in text  # the calling file and line are named


def test_capture_restores_streams_and_handlers(tmp_path: Path) -> None:
    before = (sys.stdout, sys.stderr, list(logging.getLogger().handlers))
    with TryLogCapture(tmp_path / "x.log"):
        pass
    assert (sys.stdout, sys.stderr, list(logging.getLogger().handlers)) == before


def test_exception_traceback_is_logged(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    with TryLogCapture(path):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger(TASK_LOGGER).exception("failed")
    text = path.read_text()
    assert "ERROR - failed" in text and "Traceback" in text and "RuntimeError: boom" in text


def test_fd_capture_gets_subprocess_output(tmp_path: Path) -> None:
    # Run in a child process: redirecting fds 1/2 of the pytest process would hide its output.
    path = tmp_path / "sub.log"
    code = (
        "import subprocess, sys, os\n"
        "from pathlib import Path\n"
        "from tradewind.execute.logs import TryLogCapture\n"
        f"with TryLogCapture(Path({str(path)!r}), capture_fds=True):\n"
        "    subprocess.run(['sh', '-c', 'echo from-subprocess; echo err-subprocess >&2'], check=True)\n"
        "    os.write(1, b'raw fd write\\n')\n"
        "print('after capture')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "after capture"  # fds were restored
    lines = path.read_text().splitlines()
    assert all(LINE.match(line) for line in lines), lines
    text = "\n".join(lines)
    assert "{stdout} INFO - from-subprocess" in text
    assert "{stderr} ERROR - err-subprocess" in text
    assert "{stdout} INFO - raw fd write" in text
