"""Composition root: build Config -> Database -> executor -> Scheduler / DagProcessor.

The CLI's ``scheduler``, ``standalone`` and ``dags test`` commands assemble the
same pieces here, so wiring lives in one place. Nothing in this module makes
scheduling decisions; it only constructs objects, runs them in threads and stops
them in order.

Heavy modules are imported inside functions so building a CLI command stays fast.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from tradewind.config import Config
    from tradewind.execute.supervision import RestartBackoff
    from tradewind.schedule.executor_interface import BaseExecutor, Waker
    from tradewind.persist.db import Database

log = logging.getLogger(__name__)

class RuntimeSetupError(RuntimeError):
    """A component cannot be built from the configuration; the message says which and why."""


def build_database(config: "Config") -> "Database":
    from tradewind.persist.db import Database

    return Database.from_config(config)


def install_variable_backend(db: "Database") -> None:
    """Make ``Variable.get/set`` in DAG files and tasks use the metadata database."""
    from tradewind.definition.variable import set_variable_backend
    from tradewind.persist.queries.variables import DbVariableBackend

    set_variable_backend(DbVariableBackend(db))


def install_connection_backend(db: "Database", config: "Config") -> None:
    """Make ``BaseHook.get_connection`` / ``Connection.get`` find connections stored in the metadata database."""
    from tradewind.definition.connection import set_connection_backend
    from tradewind.persist.queries.connections import DbConnectionBackend

    set_connection_backend(DbConnectionBackend(db, config))


def build_executor(
    config: "Config", db: "Database", name: str | None = None, *, waker: "Waker | None" = None
) -> "BaseExecutor":
    """The executor(s) named by ``name`` (default ``[core] executor``; a comma list mixes them),
    not yet started. A bad name, or an executor that cannot work with this configuration (Celery
    with SQLite or an unreachable broker), raises :class:`RuntimeSetupError` before anything runs."""
    from tradewind.execute.executors import make_executor

    try:
        return make_executor(config, waker, name=name, db=db)
    except (ValueError, ImportError) as exc:
        raise RuntimeSetupError(str(exc)) from None


def build_scheduler(
    config: "Config",
    db: "Database",
    executor: "BaseExecutor",
    *,
    clock: Callable[[], Any] | None = None,
    callback_sink: Callable[[Any], None] | None = None,
    health_probes: list[Callable[[], str | None]] | None = None,
) -> Any:
    """``health_probes``: the problems of helpers this process supervises (its DAG processor
    child, the triggerer thread), written with every scheduler heartbeat."""
    from tradewind.schedule.scheduler import Scheduler

    return Scheduler(config, db, executor, clock=clock, callback_sink=callback_sink, health_probes=health_probes)


def build_dag_processor(config: "Config", db: "Database") -> Any:
    from tradewind.schedule.dag_processor import DagProcessor

    return DagProcessor(config, db)


def helper_backoff(config: "Config", name: str) -> "RestartBackoff":
    """The restart policy of one helper (:meth:`RestartBackoff.from_config`); a malformed setting
    is a :class:`RuntimeSetupError` naming it."""
    from tradewind.execute.supervision import RestartBackoff

    try:
        return RestartBackoff.from_config(config, name)
    except ValueError as exc:
        raise RuntimeSetupError(str(exc)) from None


# --------------------------------------------------------------------------- services
@dataclass
class _Service:
    name: str
    target: Callable[[threading.Event], None]
    thread: threading.Thread | None = None
    error: BaseException | None = None
    restart: "RestartBackoff | None" = None


@dataclass
class Services:
    """Long-running components, each in its own thread, sharing one stop event.

    ``start()`` launches them; ``request_stop()`` sets the event and calls every registered
    waker (so loops waiting on a deadline notice at once); ``join()`` waits for the threads.
    What happens when a service raises is decided per service: a *helper* added with a
    ``restart`` policy (the triggerer) is logged and restarted with that backoff, its problem
    reported through the policy; any other (the scheduler loop) stops all the others (a dead
    scheduler must not leave a healthy-looking process behind, and systemd or Kubernetes
    restarts the process); :attr:`failed` names it.
    """

    stop_event: threading.Event = field(default_factory=threading.Event)
    services: list[_Service] = field(default_factory=list)
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    failed: list[tuple[str, BaseException]] = field(default_factory=list)

    def add(self, name: str, target: Callable[[threading.Event], None], *,
            restart: "RestartBackoff | None" = None) -> None:
        """``restart``: restart ``target`` with this policy when it raises instead of stopping all."""
        self.services.append(_Service(name, target, restart=restart))

    def _run(self, service: _Service) -> None:
        try:
            if service.restart is not None:
                from tradewind.execute.supervision import run_restarting

                run_restarting(service.target, self.stop_event, service.restart)
            else:
                service.target(self.stop_event)
        except BaseException as exc:  # noqa: BLE001 - reported by the owner of Services
            log.exception("%s stopped with an error", service.name)
            service.error = exc
            self.failed.append((service.name, exc))
            self.request_stop()

    def start(self) -> None:
        """Start every service added since the last call (services may be added in stages)."""
        for service in self.services:
            if service.thread is not None:
                continue
            service.thread = threading.Thread(target=self._run, args=(service,), name=service.name, daemon=True)
            service.thread.start()

    def request_stop(self) -> None:
        """Ask every service to stop (safe from a signal handler: no locks held for long)."""
        self.stop_event.set()
        for hook in list(self.on_stop):
            try:
                hook()
            except Exception:  # noqa: BLE001 - stopping must go on
                log.exception("stop hook failed")

    def join(self, timeout: float = 30.0) -> list[str]:
        """Wait for the threads; return the names of those still alive after ``timeout``."""
        import time

        deadline = time.monotonic() + timeout
        alive = []
        for service in self.services:
            if service.thread is None:
                continue
            service.thread.join(max(deadline - time.monotonic(), 0.01))
            if service.thread.is_alive():
                alive.append(service.name)
        return alive

    def wait(self, poll: float = 0.5) -> None:
        """Block the calling (main) thread until a stop is requested. Signals interrupt the wait."""
        while not self.stop_event.wait(poll):
            pass


def install_signal_handlers(services: Services, *, announce: Callable[[str], None] | None = None) -> None:
    """SIGINT/SIGTERM request a graceful stop; a second SIGINT/SIGTERM exits at once."""
    import os
    import signal

    def handler(signum: int, _frame: Any) -> None:
        if services.stop_event.is_set():
            os._exit(128 + signum)
        if announce:
            announce(f"Received {signal.Signals(signum).name}; shutting down...")
        services.request_stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def scheduler_loop(scheduler: Any) -> Callable[[threading.Event], None]:
    def run(stop: threading.Event) -> None:
        scheduler.run_forever(stop)

    return run
