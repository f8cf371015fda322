"""DAG-level callbacks (``dag.on_success_callback`` / ``on_failure_callback``).

The scheduler decides *that* a callback is due (:class:`DagCallbackRequest`); this module
runs the user's code — never in the scheduler's process: :class:`DagCallbackRunner`
starts ``python -m tradewind.execute.callbacks --request '<json>'`` per request and reaps
it in a background thread. Callbacks are rare, so a fresh interpreter is fine here.

Output of the callback goes to ``<base_log_folder>/dag_id=<id>/run_id=<id>/dag_callback.log``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tradewind.persist.db import Database
from tradewind.schedule.callbacks import DagCallbackRequest

log = logging.getLogger(__name__)


def callback_log_path(base_folder: str | os.PathLike[str], dag_id: str, run_id: str) -> Path:
    return Path(base_folder) / f"dag_id={dag_id}" / f"run_id={run_id}" / "dag_callback.log"


def run_dag_callback(request: DagCallbackRequest, *, config: Any, db: Database | None = None) -> bool:
    """Load the DAG file, build the run's context and call the DAG's callback(s).

    Returns True when every callback ran without raising (errors are logged, not raised).
    """
    from tradewind.definition.notifications import set_email_sender
    from tradewind.definition.variable import set_variable_backend
    from tradewind.execute.email import ConfiguredEmailSender
    from tradewind.execute.logs import TryLogCapture
    from tradewind.persist.queries.variables import DbVariableBackend

    own_db = db is None
    database = db or Database.from_config(config)
    path = callback_log_path(config.logs_folder, request.dag_id, request.run_id)
    # Callbacks use Variable.get and send_email (notifiers) like tasks do.
    previous_backend = set_variable_backend(DbVariableBackend(database))
    previous_sender = set_email_sender(ConfiguredEmailSender(config))
    try:
        with TryLogCapture(path, level=config.get("logging", "logging_level", "INFO")):
            return _run(request, config, database)
    finally:
        set_variable_backend(previous_backend)
        set_email_sender(previous_sender)
        if own_db:
            database.engine.dispose()


def _run(request: DagCallbackRequest, config: Any, db: Database) -> bool:
    from tradewind.execute.db_store import DbTryStore
    from tradewind.execute.db_store import load_run
    from tradewind.execute.prepare import build_run_context
    from tradewind.execute.runtime import RuntimeTaskInstance
    from tradewind.workloads import TaskKey
    from tradewind.parse.dagbag import load_dags_from_file
    from tradewind.persist.models import TaskInstance
    from sqlalchemy import case, select

    try:
        dags = load_dags_from_file(request.fileloc, sys_path=[str(p) for p in config.dag_folders()])
        dag = dags[request.dag_id]
    except Exception:
        log.exception("Cannot load DAG %s from %s for its %s", request.dag_id, request.fileloc, request.callback_name)
        return False
    callbacks = getattr(dag, request.callback_name, None)
    if callbacks is None:
        return True
    with db.read_scope() as session:
        run, prev = load_run(session, request.dag_id, request.run_id)
        # Airflow gives DAG callbacks the context of the run's relevant task instance: for a
        # failure the task that failed (not one marked upstream_failed after it), else the last
        # one to finish; removed tasks never count.
        query = select(TaskInstance).where(TaskInstance.dag_id == request.dag_id, TaskInstance.run_id == request.run_id,
                                           TaskInstance.state.is_distinct_from("removed"))
        order = [TaskInstance.end_date.desc().nulls_last(), TaskInstance.id.desc()]
        if not request.success:
            order.insert(0, case((TaskInstance.state == "failed", 0), (TaskInstance.state == "upstream_failed", 1),
                                 else_=2))
        ti_row = session.scalars(query.order_by(*order).limit(1)).first()
    task = None
    ti = None
    if ti_row is not None and ti_row.task_id in dag.task_dict:
        task = dag.task_dict[ti_row.task_id]
        key = TaskKey(ti_row.dag_id, ti_row.run_id, ti_row.task_id, ti_row.map_index, max(ti_row.try_number, 1))
        ti = RuntimeTaskInstance(key, store=DbTryStore(db, config), max_tries=ti_row.max_tries, task=task,
                                 logical_date=run.logical_date, start_date=ti_row.start_date,
                                 hostname=ti_row.hostname, operator=ti_row.operator)
        ti.state = ti_row.state
    context = build_run_context(dag, task, ti, run, prev, config=config)
    context["reason"] = request.reason
    ok = True
    for callback in callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]:
        try:
            log.info("Running DAG %s %s for run %s", request.dag_id, request.callback_name, request.run_id)
            callback(context)
        except Exception:
            ok = False
            log.exception("Error in %s of DAG %s (ignored)", request.callback_name, request.dag_id)
    return ok


class DagCallbackRunner:
    """Runs :class:`DagCallbackRequest`s in child processes; usable as the scheduler's
    ``callback_sink`` (``runner.submit`` or the runner itself, which is callable)."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._procs: list[tuple[DagCallbackRequest, subprocess.Popen[bytes]]] = []
        self._done = threading.Condition(self._lock)
        self._reaper: threading.Thread | None = None

    def __call__(self, request: DagCallbackRequest) -> None:
        self.submit(request)

    def submit(self, request: DagCallbackRequest) -> None:
        """Start the callback's process and return at once."""
        env = dict(os.environ)
        env.update(self.config.as_environ())
        proc = subprocess.Popen(
            [sys.executable, "-m", "tradewind.execute.callbacks", "--request", json.dumps(request.to_dict())],
            env=env, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        with self._lock:
            self._procs.append((request, proc))
            if self._reaper is None or not self._reaper.is_alive():
                self._reaper = threading.Thread(target=self._reap, name="tradewind-dag-callbacks", daemon=True)
                self._reaper.start()

    def _reap(self) -> None:
        while True:
            with self._lock:
                if not self._procs:
                    self._reaper = None
                    self._done.notify_all()
                    return
                request, proc = self._procs[0]
            code = proc.wait()
            if code != 0:
                log.warning("DAG %s %s for run %s exited with code %s", request.dag_id, request.callback_name,
                            request.run_id, code)
            with self._lock:
                self._procs.remove((request, proc))
                self._done.notify_all()

    def pending(self) -> int:
        with self._lock:
            return len(self._procs)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted callback finished; False on timeout."""
        with self._done:
            return self._done.wait_for(lambda: not self._procs, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Wait for running callbacks (up to ``timeout``), then kill the rest."""
        if not self.wait(timeout):
            with self._lock:
                for _request, proc in self._procs:
                    proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tradewind.execute.callbacks", description="Run a DAG callback.")
    parser.add_argument("--request", required=True, help="DagCallbackRequest as JSON")
    args = parser.parse_args(argv)
    try:
        request = DagCallbackRequest.from_dict(json.loads(args.request))
    except (ValueError, TypeError) as exc:
        print(f"--request is not a valid DagCallbackRequest JSON: {exc}", file=sys.stderr)
        return 2
    from tradewind.config import Config

    return 0 if run_dag_callback(request, config=Config.load()) else 1


if __name__ == "__main__":
    sys.exit(main())
