"""Run one try of one task instance: claim, load, render, execute, record.

Everything the try reads or writes outside its process goes through a
:class:`~tradewind.execute.try_store.TryStore`: :class:`~tradewind.execute.db_store.DbTryStore`
where the process may use the database (local executors, ``dags test``), the execution API's
client on a Celery worker. The flow below is the same for both.

:func:`run_try` is the whole life of a try, in the order Airflow users expect:

1. route logging/stdout/stderr into the try's log file (:mod:`tradewind.execute.logs`);
2. **claim** (``store.claim``): queued -> running for exactly this try number, clear the
   instance's old XComs, read the run (dates, conf) and the previous successful run.
   Not queued for this try -> log and stop;
3. import the DAG file, find the task, build the template context, resolve XComArgs,
   render template fields, run ``on_execute_callback``;
4. ``task.execute(context)`` under ``set_current_context``, with ``execution_timeout``
   enforced by SIGALRM (-> ``TaskTimeout``; the operator's ``on_kill`` cleans up);
5. **finish** (``store.finish``, one transaction): XComs (return value; every key with
   ``multiple_outputs``), rendered fields, the map-index label, the outlet asset events and
   the outcome (the store applies the retry policy and wakes the scheduler, so the next task
   starts without waiting for this process to exit);
6. the failure/retry email (``email`` with ``email_on_failure``/``email_on_retry``,
   :mod:`tradewind.execute.email`), then the ``on_success`` / ``on_failure`` / ``on_retry``
   / ``on_skipped`` callback (errors in either are logged and never change the outcome).

``TriggerDagRunOperator`` raises ``DagRunTriggerException`` from ``execute``; the run is
created through the store (and waited for) by :mod:`tradewind.execute.dagrun_trigger`,
under the same time limit.

The process's heartbeat thread (:mod:`tradewind.execute.heartbeat`) updates
``last_heartbeat_at`` through the store meanwhile. When the heartbeat finds the instance no longer running
this try (cleared or marked by hand) the try is terminated.

Process entry points (debugging, scripts)::

    python -m tradewind.execute.runner --workload '<Workload JSON>'      # through the execution API
    python -m tradewind.execute.local_try --workload '<Workload JSON>'   # with the database

This module is the worker side of ``execute``: it imports nothing of persist or schedule, nor
SQLAlchemy (``tests/unit/test_layers.py`` checks it), as Airflow 3's Task SDK stands apart from
its core. The store decides where the try's reads and writes go.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from tradewind.definition.exceptions import (
    DagRunTriggerException,
    RescheduleTry,
    TaskDeferred,
    TaskFailNoRetry,
    TaskSkipped,
    TaskTimeout,
    XComNotSerializable,
)
from tradewind.definition.assets import outlet_assets
from tradewind.definition.mapped import render_map_index, unmap_for_try
from tradewind.execute.alarm import raise_after
from tradewind.execute.heartbeat import Heartbeat
from tradewind.execute.logs import TASK_LOGGER, TryLogCapture, log_path
from tradewind.execute.prepare import ClaimedTry, build_try_context, load_task
from tradewind.execute.runtime import XCOM_RETURN_KEY, RuntimeTaskInstance
from tradewind.execute.try_store import DeferRequest, FinishRequest, TryStore, outlet_extra_key
from tradewind.workloads import EXIT_ERROR, EXIT_NOT_CLAIMED, EXIT_RECORDED, TaskKey, Workload
from tradewind.states import TaskInstanceState

log = logging.getLogger(TASK_LOGGER)

# The try process's exit codes belong to the workload contract (tradewind.workloads); re-exported here.
__all__ = ["EXIT_ERROR", "EXIT_NOT_CLAIMED", "EXIT_RECORDED", "TryResult", "run_in_try_process", "run_try"]


class TaskTerminated(Exception):
    """The try process received SIGTERM (killed by the executor, or the instance was cleared)."""


@dataclass
class TryResult:
    """How one call of :func:`run_try` ended."""

    key: TaskKey
    #: False when the instance was not queued for this try (nothing ran).
    claimed: bool
    #: True when the outcome was written to the database.
    recorded: bool = False
    #: The instance's state after the try (None if nothing was recorded).
    state: TaskInstanceState | None = None
    error: str | None = None
    log_path: Path | None = None

    @property
    def exit_code(self) -> int:
        if not self.claimed:
            return EXIT_NOT_CLAIMED
        return EXIT_RECORDED if self.recorded else EXIT_ERROR


@dataclass
class _Deferral:
    """A ``TaskDeferred`` in its storage form (checked before anything is written)."""

    classpath: str
    trigger_kwargs: dict[str, Any]
    next_method: str
    next_kwargs: dict[str, Any] | None
    timeout: Any  # timedelta | None

    @classmethod
    def of(cls, exc: TaskDeferred) -> "_Deferral":
        """Raise ``TypeError`` naming the problem when the trigger or a kwarg cannot be stored."""
        from tradewind.definition.triggers.base import BaseTrigger, encode_value

        if not isinstance(exc.trigger, BaseTrigger):
            raise TypeError(f"defer(trigger=...) needs a BaseTrigger instance, got {type(exc.trigger).__name__}")
        classpath, kwargs = exc.trigger.serialize()
        return cls(
            classpath=classpath,
            trigger_kwargs=encode_value(dict(kwargs), f"{classpath} kwargs"),
            next_method=exc.method_name,
            next_kwargs=encode_value(dict(exc.kwargs), "defer(kwargs=...)") if exc.kwargs is not None else None,
            timeout=exc.timeout,
        )

    def timeout_at(self, task: Any, claimed: ClaimedTry, now: Any) -> Any:
        """When the wait times out: ``now + timeout``, and never after the try's
        ``execution_timeout`` runs out (Airflow takes the earlier of the two)."""
        deadline = now + self.timeout if self.timeout is not None else None
        limit = getattr(task, "execution_timeout", None)
        if limit is not None and claimed.start_date is not None:
            deadline = min(deadline, claimed.start_date + limit) if deadline else claimed.start_date + limit
        return deadline


@dataclass
class _Outcome:
    outcome: str  # "success" | "failed" | "skipped" | "deferred" | "up_for_reschedule"
    error: str | None = None
    allow_retry: bool = True
    exception: BaseException | None = None
    rendered: dict[str, Any] = field(default_factory=dict)
    deferral: _Deferral | None = None
    #: A sensor in reschedule mode asked to be started again then (the try goes on later).
    reschedule_date: datetime | None = None


class StoreVariableBackend:
    """The definition layer's Variable backend for one try: every call goes to its store."""

    def __init__(self, store: TryStore, key: TaskKey) -> None:
        self.store = store
        self.key = key

    def get(self, key: str) -> str | None:
        return self.store.variable_get(self.key, key)

    def set(self, key: str, value: str, description: str | None = None) -> None:
        self.store.variable_set(self.key, key, value, description)

    def delete(self, key: str) -> bool:
        return self.store.variable_delete(self.key, key)


class StoreConnectionBackend:
    """The definition layer's Connection backend for one try (``BaseHook.get_connection``)."""

    def __init__(self, store: TryStore, key: TaskKey) -> None:
        self.store = store
        self.key = key

    def get(self, conn_id: str) -> Any:
        return self.store.connection_get(self.key, conn_id)


def run_try(
    workload: Workload,
    *,
    config: Any,
    store: TryStore,
    in_process: bool = False,
    echo: IO[str] | None = None,
) -> TryResult:
    """Run try ``workload.key`` to its end and record the outcome; never raises for task errors.

    ``store``: where the try's state, XComs, Variables and Connections live
    (:class:`~tradewind.execute.db_store.DbTryStore`, or the execution API's client).
    ``in_process``: the caller's process is not a dedicated try process (``dags test``,
    the in-process executor): file descriptors 1/2 and SIGTERM are left alone.
    ``echo``: also write the log lines to this stream.
    """
    key = workload.key
    path = log_path(config.logs_folder, key)
    level = config.get("logging", "logging_level", "INFO")
    from tradewind.definition.variable import set_variable_backend
    from tradewind.definition.connection import set_connection_backend

    from tradewind.definition.notifications import set_email_sender
    from tradewind.execute.email import ConfiguredEmailSender

    from tradewind.definition import masking

    masking.configure_from(config)  # [core] sensitive_var_conn_names for this try's Variable reads
    previous_backend = set_variable_backend(StoreVariableBackend(store, key))
    previous_connections = set_connection_backend(StoreConnectionBackend(store, key))  # BaseHook.get_connection
    previous_sender = set_email_sender(ConfiguredEmailSender(config))  # send_email() in tasks/callbacks
    try:
        with TryLogCapture(path, level=level, capture_fds=not in_process, echo=echo):
            result = _TryRun(workload, config, store, in_process).run()
    finally:
        set_variable_backend(previous_backend)
        set_connection_backend(previous_connections)
        set_email_sender(previous_sender)
    result.log_path = path
    return result


class _TryRun:
    """The steps of one try; :meth:`run` is the only entry."""

    def __init__(self, workload: Workload, config: Any, store: TryStore, in_process: bool) -> None:
        self.workload = workload
        self.key = workload.key
        self.config = config
        self.store = store
        self.in_process = in_process
        self.hostname = config.get("core", "hostname", "") or socket.gethostname()
        self.task: Any = None
        self.context: dict[str, Any] | None = None
        self.claimed: ClaimedTry | None = None

    def run(self) -> TryResult:
        key = self.key
        claimed = self.store.claim(key, hostname=self.hostname, pid=os.getpid())
        if claimed is None:
            log.warning("Task instance %s is not queued for try %d (already claimed, cleared or marked); "
                        "not running it.", key.short(), key.try_number)
            return TryResult(key, claimed=False)
        log.info("Starting attempt %d of %d: %s on host %s (pid %d)", key.try_number, claimed.max_tries,
                 key.short(), self.hostname, os.getpid())
        beat = Heartbeat(self.store, key, self.config.heartbeat_interval, terminate=not self.in_process)
        beat.start()
        try:
            result = self._run_claimed(claimed)
        finally:
            beat.stop()
        return result

    def _run_claimed(self, claimed: ClaimedTry) -> TryResult:
        self.claimed = claimed
        outcome = self._prepare_and_execute(claimed)
        if outcome.deferral is not None:
            return self._record_deferral(claimed, outcome)
        label = _map_index_label(self.task, self.context)
        ti = self.context["ti"] if self.context else None
        success = outcome.outcome == "success"
        outlets = outlet_assets(getattr(self.task, "outlets", None) or ()) if success else []
        alias_events = _outlet_alias_events(self.context) if success else []
        request = FinishRequest(
            outcome=outcome.outcome, error=outcome.error, allow_retry=outcome.allow_retry,
            rendered_fields=outcome.rendered or None, xcoms=ti.pending_xcoms if ti is not None else {},
            reschedule_date=outcome.reschedule_date, map_index_label=label,
            outlets=[asset.to_dict() for asset in outlets],
            outlet_extras=_outlet_extras(self.context) if outlets else {},
            outlet_alias_events=alias_events,
        )
        try:
            state = self.store.finish(self.key, request)
        except Exception as exc:  # the store is unreachable or refused: nothing recorded
            log.exception("Could not record the outcome of %s", self.key.short())
            return TryResult(self.key, claimed=True, recorded=False, error=f"{type(exc).__name__}: {exc}")
        log.info("Marking task as %s. dag_id=%s, task_id=%s, run_id=%s, map_index=%d, try_number=%d",
                 state.value.upper(), self.key.dag_id, self.key.task_id, self.key.run_id,
                 self.key.map_index, self.key.try_number)
        self._after_callbacks(state, outcome)
        return TryResult(self.key, claimed=True, recorded=True, state=state, error=outcome.error)

    def _record_deferral(self, claimed: ClaimedTry, outcome: _Outcome) -> TryResult:
        """The try waits for its trigger: store it, give the slot back (the process ends)."""
        deferral = outcome.deferral
        assert deferral is not None
        ti = self.context["ti"] if self.context else None
        request = DeferRequest(
            classpath=deferral.classpath, trigger_kwargs=deferral.trigger_kwargs, next_method=deferral.next_method,
            next_kwargs=deferral.next_kwargs, timeout_at=deferral.timeout_at(self.task, claimed, _utcnow()),
            xcoms=ti.pending_xcoms if ti is not None else {}, rendered_fields=outcome.rendered or None,
        )
        try:
            state = self.store.defer(self.key, request)
        except Exception as exc:
            log.exception("Could not record the deferral of %s", self.key.short())
            return TryResult(self.key, claimed=True, recorded=False, error=f"{type(exc).__name__}: {exc}")
        log.info("Pausing task as %s (waiting for %s, resuming in %s()). dag_id=%s, task_id=%s, run_id=%s, "
                 "map_index=%d, try_number=%d", state.value.upper(), deferral.classpath.rsplit(".", 1)[-1],
                 deferral.next_method, self.key.dag_id, self.key.task_id, self.key.run_id, self.key.map_index,
                 self.key.try_number)
        return TryResult(self.key, claimed=True, recorded=True, state=state)

    def _prepare_and_execute(self, claimed: ClaimedTry) -> _Outcome:
        rendered: dict[str, Any] = {}
        try:
            with _terminate_on_sigterm(enabled=not self.in_process):
                dag, self.task = load_task(self.workload, self.config)
                ti = RuntimeTaskInstance(
                    self.key, store=self.store, max_tries=claimed.max_tries, task=self.task,
                    logical_date=claimed.run.logical_date, start_date=claimed.start_date,
                    hostname=self.hostname, operator=claimed.operator,
                )
                self.context = build_try_context(dag, self.task, ti, claimed, self.config, store=self.store)
                self.task = unmap_for_try(self.task, self.context)  # a mapped task: this map index's operator
                rendered = _render(self.task, self.context, dag)
                # Airflow: context["templates_dict"] is the rendered one (also in callbacks).
                self.context["templates_dict"] = getattr(self.task, "templates_dict", None)
                _call_callbacks(self.task, "on_execute_callback", self.context)
                result = self._execute(self.context)
                _push_result(self.task, ti, result)
        except TaskDeferred as exc:
            try:
                deferral = _Deferral.of(exc)
            except (TypeError, ValueError) as bad:
                log.error("Task cannot defer: %s", bad)
                return _Outcome("failed", _describe(bad), exception=bad, rendered=rendered)
            return _Outcome("deferred", rendered=rendered, deferral=deferral)
        except RescheduleTry as exc:
            return _Outcome("up_for_reschedule", rendered=rendered, reschedule_date=exc.reschedule_date)
        except TaskSkipped as exc:
            log.info("Task skipped: %s", exc or "TaskSkipped raised")
            return _Outcome("skipped", rendered=rendered, exception=exc)
        except TaskFailNoRetry as exc:
            log.error("Task failed without retry: %s", exc, exc_info=True)
            return _Outcome("failed", _describe(exc), allow_retry=False, exception=exc, rendered=rendered)
        except BaseException as exc:  # noqa: BLE001 - user code may raise anything, even SystemExit
            if isinstance(exc, KeyboardInterrupt) and self.in_process:
                raise
            log.error("Task failed with exception", exc_info=True)
            return _Outcome("failed", _describe(exc), exception=exc, rendered=rendered)
        return _Outcome("success", rendered=rendered)

    def _execute(self, context: dict[str, Any]) -> Any:
        from tradewind.definition.context import set_current_context

        task = self.task
        timeout = _seconds(getattr(task, "execution_timeout", None))
        log.info("Executing %r", task)
        for note in [*getattr(getattr(task, "dag", None), "deprecation_notes", ()), *getattr(task, "deprecation_notes", ())]:
            log.warning("Deprecated: %s", note)
        with set_current_context(context):
            try:
                with _alarm(timeout, self.key):
                    try:
                        return self._call_task(task, context)
                    except DagRunTriggerException as request:  # TriggerDagRunOperator: the DB work is ours
                        from tradewind.execute.dagrun_trigger import trigger_dag_run

                        return trigger_dag_run(request, ti=context["ti"], store=self.store)
            except (TaskTimeout, TaskTerminated):
                _on_kill(task)
                raise

    def _call_task(self, task: Any, context: dict[str, Any]) -> Any:
        """``execute``, or for a try resuming after a deferral the method named at ``defer``."""
        claimed = self.claimed
        task.pre_execute(context)  # Airflow calls both hooks around execute (and a resumed method)
        if claimed is None or claimed.next_method is None:
            result = task.execute(context)
        else:
            from tradewind.definition.triggers.base import decode_value

            log.info("Resuming after deferral: calling %s()", claimed.next_method)
            result = task.resume_execution(claimed.next_method, decode_value(claimed.next_kwargs), context)
        task.post_execute(context, result)
        return result

    def _after_callbacks(self, state: TaskInstanceState, outcome: _Outcome) -> None:
        if self.task is None or self.context is None:
            return
        context = self.context
        context["ti"].state = state.value
        if outcome.exception is not None:
            context["exception"] = outcome.exception
        if state in (TaskInstanceState.FAILED, TaskInstanceState.UP_FOR_RETRY) and getattr(self.task, "email", None):
            from tradewind.execute.email import send_try_alert

            send_try_alert(self.task, context, state, outcome.exception, config=self.config,
                           log_location=str(log_path(self.config.logs_folder, self.key)))
        name = {
            TaskInstanceState.SUCCESS: "on_success_callback",
            TaskInstanceState.FAILED: "on_failure_callback",
            TaskInstanceState.UP_FOR_RETRY: "on_retry_callback",
            TaskInstanceState.SKIPPED: "on_skipped_callback",
        }.get(state)
        if name is not None:
            _call_callbacks(self.task, name, context)


# --------------------------------------------------------------------------- steps
def _render(task: Any, context: dict[str, Any], dag: Any) -> dict[str, Any]:
    """Render template fields in place, *then* resolve XComArgs in them; return the stored form.

    The order matters (Airflow): a value pulled from XCom is data, never a template, so a
    pulled string containing ``{{`` must reach the task as it was pushed.
    """
    from tradewind.definition.templating import make_jinja_env, render_task_fields

    env = make_jinja_env(dag, native=bool(getattr(dag, "render_template_as_native_obj", False)))
    render = getattr(task, "render_template_fields", None)
    if callable(render):
        return render(context, env) or {}
    return render_task_fields(task, context, env) or {}


def _map_index_label(task: Any, context: dict[str, Any] | None) -> str | None:
    """A mapped instance's ``map_index_template`` rendered after its try (None without one);
    a template error is logged and leaves the label unset, never changing the outcome."""
    if task is None or context is None:
        return None
    try:
        return render_map_index(task, context)
    except Exception:
        log.exception("Could not render map_index_template of %s", getattr(task, "task_id", "?"))
        return None


def _outlet_extras(context: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """What the task set through ``context["outlet_events"]``, keyed for :class:`FinishRequest`."""
    from tradewind.definition.assets import OutletEventAccessors
    accessors = context.get("outlet_events") if context else None
    if not isinstance(accessors, OutletEventAccessors):
        return {}
    return {outlet_extra_key(key.name, key.uri): extra for key, extra in accessors.extras().items()}


def _outlet_alias_events(context: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The assets the task added through its outlet aliases (``outlet_events[alias].add`` or a
    yielded ``Metadata(..., alias=...)``), for :class:`FinishRequest`."""
    from tradewind.definition.assets import OutletEventAccessors
    accessors = context.get("outlet_events") if context else None
    return accessors.alias_events() if isinstance(accessors, OutletEventAccessors) else []


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _push_result(task: Any, ti: RuntimeTaskInstance, result: Any) -> None:
    """Push the return value (Airflow: only when not None and ``do_xcom_push``)."""
    if result is None or not getattr(task, "do_xcom_push", True):
        return
    if getattr(task, "multiple_outputs", False):
        if not isinstance(result, Mapping):
            raise XComNotSerializable(
                f"task {ti.dag_id}.{ti.task_id} has multiple_outputs=True but returned "
                f"{type(result).__name__}, not a dict"
            )
        for xkey in result:
            if not isinstance(xkey, str):
                raise XComNotSerializable(
                    f"task {ti.dag_id}.{ti.task_id} has multiple_outputs=True but returned a dict key "
                    f"{xkey!r} of type {type(xkey).__name__}; keys must be strings"
                )
        for xkey, value in result.items():
            ti.xcom_push(xkey, value)
    ti.xcom_push(XCOM_RETURN_KEY, result)


def _callables(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [v for v in value if v is not None]
    return [value]


def _call_callbacks(task: Any, name: str, context: dict[str, Any]) -> None:
    """Call the task's callback(s) ``name``; an error in one is logged and ignored."""
    for callback in _callables(getattr(task, name, None)):
        try:
            log.info("Running %s %s", name, getattr(callback, "__name__", repr(callback)))
            callback(context)
        except Exception:
            log.exception("Error in %s of %s (ignored; the task's state is unchanged)", name,
                          getattr(task, "task_id", "?"))


def _on_kill(task: Any) -> None:
    on_kill = getattr(task, "on_kill", None)
    if callable(on_kill):
        try:
            on_kill()
        except Exception:
            log.exception("Error in on_kill of %s", getattr(task, "task_id", "?"))


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if hasattr(value, "total_seconds") else float(value)
    return seconds if seconds > 0 else None


@contextmanager
def _alarm(seconds: float | None, key: TaskKey) -> Iterator[None]:
    """Raise :class:`TaskTimeout` in the main thread after ``seconds`` (SIGALRM)."""
    if seconds is None:
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        log.warning("execution_timeout of %ss not enforced: the try is not in the main thread", seconds)
        yield
        return

    with raise_after(seconds, lambda: TaskTimeout(
            f"task {key.dag_id}.{key.task_id} timed out after {seconds:g}s (execution_timeout)")):
        yield


@contextmanager
def _terminate_on_sigterm(enabled: bool) -> Iterator[None]:
    """In a try process, SIGTERM raises :class:`TaskTerminated` so the try records 'failed'."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(_signum: int, _frame: Any) -> None:
        raise TaskTerminated("the task process received SIGTERM")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ----------------------------------------------------------------- process entry
def run_in_try_process(workload: dict[str, Any] | Workload, *, config: Any, store: TryStore) -> int:
    """Body of a dedicated try process (forked by the fork server or started by a worker).

    Applies the workload's environment, runs the try through ``store``, then kills whatever
    the task left running. Returns the process exit code.
    """
    wl = workload if isinstance(workload, Workload) else Workload.from_dict(workload)
    for name, value in wl.environ.items():
        os.environ.setdefault(name, value)
    try:
        result = run_try(wl, config=config, store=store)
    finally:
        _kill_leftover_children()
    return result.exit_code


def _kill_leftover_children() -> None:
    """A try must not leave processes behind (e.g. a bash child after a timeout)."""
    try:
        # Cheap check first: scanning /proc (psutil) costs ~2 ms, most tries have no children.
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return
    try:
        import psutil

        children = psutil.Process().children(recursive=True)
    except Exception:
        return
    for child in children:
        try:
            child.kill()
        except Exception:
            pass


def workload_from_argv(prog: str, argv: list[str] | None) -> Workload | int:
    """The ``--workload`` JSON of a try process's command line, its environment applied; or the
    exit code 2 after saying what is wrong with it."""
    parser = argparse.ArgumentParser(prog=prog, description="Run one task try.")
    parser.add_argument("--workload", required=True, help="the Workload as JSON")
    args = parser.parse_args(argv)
    try:
        workload = Workload.from_dict(json.loads(args.workload))
    except (ValueError, TypeError, KeyError) as exc:
        print(f"--workload is not a valid Workload JSON: {exc}", file=sys.stderr)
        return 2
    for name, value in workload.environ.items():
        os.environ.setdefault(name, value)
    return workload


def main(argv: list[str] | None = None) -> int:
    """A worker's try process: the try runs through the execution API with the workload's token
    (``[core] execution_api_server_url``); this process never opens the database. A try with
    database access runs with ``python -m tradewind.execute.local_try`` instead."""
    workload = workload_from_argv("python -m tradewind.execute.runner", argv)
    if isinstance(workload, int):
        return workload
    if not workload.token:
        print("the workload has no token, so it cannot run through the execution API; run a try with "
              "database access with: python -m tradewind.execute.local_try --workload ...", file=sys.stderr)
        return 2
    from tradewind.config import Config
    from tradewind.execute.remote import run_remote_try

    return run_remote_try(workload, config=Config.load())


if __name__ == "__main__":
    sys.exit(main())
