"""Running a try on a machine without database access (a Celery worker).

:func:`run_remote_try` is the body of a worker's try process. It runs the same runner as a
local try (:func:`~tradewind.execute.runner.run_in_try_process`), with an
:class:`~tradewind.execute.api_client.ApiTryStore` as its store: the claim, heartbeats,
XCom, Variables, Connections and the outcome go to the API server's execution endpoints
(``[core] execution_api_server_url``) with the workload's token. The worker's environment
needs no ``[database]`` settings at all.

Before anything runs, the DAG file on this host is checked against the version the scheduler
queued (``Workload.snapshot_hash``): DAG files reach workers by a shared or synced DAGs folder
at the same path, and a worker whose copy differs would run other code than the version the
run belongs to. A mismatch claims the try and fails it (the retry policy applies) with an
error naming both hashes and the file.

While the try runs, its log file is shipped to the API server (:mod:`.log_shipping`).
:func:`report_lost` is for the worker's supervisor: the try's process died without recording.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import weakref
from typing import Any

from tradewind.execute.logs import TASK_LOGGER, TryLogCapture, log_path
from tradewind.workloads import EXIT_NOT_CLAIMED, EXIT_RECORDED, Workload

log = logging.getLogger(__name__)


def execution_api_url(config: Any) -> str:
    """``[core] execution_api_server_url``; a clear error when it is empty."""
    url = config.get("core", "execution_api_server_url").strip()
    if not url:
        raise ValueError("[core] execution_api_server_url is empty: a remote try reaches the API server's "
                         "execution endpoints there (e.g. http://api-host:8080/execution/)")
    return url


def _store_for(workload: Workload, config: Any) -> Any:
    from tradewind.execute.api_client import ApiTryStore

    return ApiTryStore(execution_api_url(config), workload.token or "")


#: id(dag) -> (a weak reference to the DAG, its snapshot hash). A remote fork server fills it for
#: the DAG files it preloads (:func:`remember_snapshot_hashes`), so the tries forked from it find
#: their DAG's hash computed once per file version instead of serialising the DAG every try.
_HASHES: dict[int, tuple[Any, str]] = {}


def dag_snapshot_hash(dag: Any) -> str:
    """The snapshot hash of a loaded DAG, as the DAG processor stores it (same JSON round trip)."""
    entry = _HASHES.get(id(dag))
    if entry is not None and entry[0]() is dag:
        return entry[1]
    from tradewind.parse.snapshot import serialize_dag, snapshot_hash

    digest = snapshot_hash(json.loads(json.dumps(serialize_dag(dag))))
    _HASHES[id(dag)] = (weakref.ref(dag), digest)
    return digest


def remember_snapshot_hashes(dags: dict[str, Any]) -> None:
    """Compute and keep the hashes of ``dags`` (a fork server, before forking tries); never raises."""
    for dag in dags.values():
        try:
            dag_snapshot_hash(dag)
        except Exception:  # noqa: BLE001 - the try computes (and reports) it itself
            pass


def snapshot_mismatch(workload: Workload, config: Any) -> str | None:
    """Why this host must not run the workload's DAG file (its snapshot hashes differently from
    the version queued), or None when it matches or cannot be checked here.

    A file that fails to import or lacks the DAG is left to the runner, which fails the try
    with that error.
    """
    if not workload.snapshot_hash:
        return None
    from tradewind.execute.prepare import load_dag_file

    try:
        dags = load_dag_file(workload.fileloc, [str(p) for p in config.dag_folders()])
    except Exception:  # noqa: BLE001 - the runner reports the import error itself
        return None
    dag = dags.get(workload.key.dag_id)
    if dag is None:
        return None
    local = dag_snapshot_hash(dag)
    if local == workload.snapshot_hash:
        return None
    host = socket.gethostname()
    return (f"the DAGs folder on worker {host} differs from the version the scheduler queued; sync it: "
            f"{workload.fileloc} serializes DAG {workload.key.dag_id!r} to snapshot {local[:12]} here, "
            f"the queued version is {workload.snapshot_hash[:12]}")


def run_remote_try(workload: Workload, *, config: Any) -> int:
    """Run one try through the execution API; the exit code of
    :func:`~tradewind.execute.runner.run_in_try_process` (0 recorded, 1 error, 3 not claimed)."""
    from tradewind.execute.log_shipping import LogShipper
    from tradewind.execute.runner import run_in_try_process

    store = _store_for(workload, config)
    key = workload.key
    shipper = LogShipper(store, key, log_path(config.logs_folder, key), config.getfloat("celery", "log_ship_interval"))
    shipper.start()
    try:
        mismatch = snapshot_mismatch(workload, config)
        if mismatch is not None:
            return _fail_mismatch(store, workload, config, mismatch)
        return run_in_try_process(workload, config=config, store=store)
    finally:
        shipper.stop()
        store.close()


def _fail_mismatch(store: Any, workload: Workload, config: Any, reason: str) -> int:
    """Claim the try and record it failed with ``reason`` (retries apply); nothing of it runs."""
    from tradewind.execute.try_store import FinishRequest

    key = workload.key
    hostname = config.get("core", "hostname", "") or socket.gethostname()
    with TryLogCapture(log_path(config.logs_folder, key), level=config.get("logging", "logging_level", "INFO")):
        task_log = logging.getLogger(TASK_LOGGER)
        claimed = store.claim(key, hostname=hostname, pid=os.getpid())
        if claimed is None:
            task_log.warning("Task instance %s is not queued for try %d; not running it.", key.short(),
                             key.try_number)
            return EXIT_NOT_CLAIMED
        task_log.error("Not running %s: %s", key.short(), reason)
        state = store.finish(key, FinishRequest(outcome="failed", error=reason))
        task_log.info("Marked %s as %s.", key.short(), getattr(state, "value", state))
    return EXIT_RECORDED


def report_lost(workload: Workload, *, config: Any, reason: str) -> bool:
    """Tell the API server that the try's process died without recording an outcome; the
    server fails it through the retry policy if it is still queued/running that try. True
    when that happened (False: an outcome was recorded after all, or the try moved on)."""
    store = _store_for(workload, config)
    try:
        return store.report_lost(workload.key, reason)
    finally:
        store.close()
