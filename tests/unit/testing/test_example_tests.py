"""The example tests shipped for users (``tradewind/examples/tests``) pass when a user runs them:
a separate pytest, outside this repository's configuration, finding ``tradewind_sim`` through
the installed ``pytest11`` entry point alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tradewind.examples

EXAMPLE_TESTS = Path(tradewind.examples.__file__).parent / "tests" / "test_example_dags.py"


def test_the_shipped_example_tests_pass_with_the_installed_plugin(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLE_TESTS), "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
