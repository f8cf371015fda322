"""DAG files of the log viewer and run page browser tests, written into the running standalone's
DAG folder when a test first needs them (so the shared DAG_FILES stay as they are)."""

from __future__ import annotations

import textwrap
from typing import Any

from browser_support import Server
from cli_support import wait_for

#: ``noisy``: levels, a group, a search needle, a "<b>" line, and a first try that fails with a
#: traceback through Tradewind's runner (the retry succeeds). ``huge``: 200,000 lines.
LOG_DAGS: dict[str, str] = {
    "ui_logview.py": textwrap.dedent('''
        import logging
        from datetime import datetime, timedelta
        from tradewind import DAG, task

        log = logging.getLogger("ui_logview")

        with DAG("ui_logview", schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
                 is_paused_upon_creation=True):

            @task(retries=1, retry_delay=timedelta(seconds=0))
            def noisy(ti=None):
                log.info("starting the noisy task")
                log.warning("a warning line")
                log.error("an error line")
                print("::group::Setup phase")
                for i in range(5):
                    log.info("inside group %d", i)
                print("needle inside the group")
                print("::endgroup::")
                print("<b>bold</b> stays text")
                print("needle one")
                print("needle two")
                if ti.try_number == 1:
                    def user_helper():
                        raise ValueError("first try fails on purpose")
                    user_helper()

            @task
            def huge():
                for i in range(200_000):
                    log.info("row %06d of the huge log", i)

            noisy() >> huge()
    '''),
}


def ensure_log_dags(server: Server) -> None:
    """Write :data:`LOG_DAGS` into the DAG folder (once) and wait until they are parsed."""
    folder = server.home.path / "dags"
    for name, source in LOG_DAGS.items():
        path = folder / name
        if not path.exists():
            path.write_text(source)
    wanted = {name[:-3] for name in LOG_DAGS}

    def parsed() -> bool:
        listed = {d["dag_id"] for d in server.ok("GET", "dags", params={"limit": 200})["dags"]}
        return wanted <= listed

    wait_for(parsed, deadline=60, interval=0.2, what="the log viewer DAGs to be parsed")


_RUNS: dict[str, Any] = {}


def log_run(server: Server) -> str:
    """One finished run of ``ui_logview`` shared by the tests (its run id)."""
    run_id = "logview_run"
    if run_id not in _RUNS:
        ensure_log_dags(server)
        existing = server.api("GET", f"dags/ui_logview/dagRuns/{run_id}")
        if existing.status_code == 404:
            server.unpause("ui_logview")
            server.trigger("ui_logview", run_id)
        state = server.wait_for_run("ui_logview", run_id)
        assert state == "success", f"ui_logview/{run_id} ended {state}"
        _RUNS[run_id] = state
    return run_id
