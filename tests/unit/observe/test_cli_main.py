"""The CLI entry point's process-level behaviour."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_heap_is_frozen_at_exit_only():
    # Handlers registered before main() run after its own (LIFO): they see the frozen heap.
    script = textwrap.dedent(
        """
        import atexit, gc
        atexit.register(lambda: print("at exit", gc.get_freeze_count() > 0))
        from tradewind.observe.cli.main import main
        main(["version"])
        print("after main", gc.get_freeze_count() > 0)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[-2:] == ["after main False", "at exit True"]
