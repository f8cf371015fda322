"""``tradewind standalone``: everything in one process, for a laptop or a small machine.

Start-up order is chosen for speed: create the home, migrate the database, bind
the HTTP port and serve ``/api/v1/health`` at once; only then build the executor
(its warm fork server), the scheduler and the DAG processor. The first parse
runs in the background, so the API answers before any DAG file is imported.

Threads: uvicorn (HTTP), the DAG processor loop, the scheduler loop (which
hands DAG-level callbacks to the callback runner thread). The main thread only
waits for SIGINT/SIGTERM, then stops everything in reverse order: scheduler and
parser first (no new work), the executor (running tries finish), the HTTP server last.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tradewind.config import Config
from tradewind.observe import runtime

log = logging.getLogger(__name__)


class StandaloneError(RuntimeError):
    """Standalone cannot start; the message says what to fix."""


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the API port up front so 'port in use' is a clear error, not a thread's traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StandaloneError(f"port {port} on {host} is already in use; choose another with --port") from None
        raise StandaloneError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


@dataclass
class ApiServer:
    """uvicorn serving the app on an already-bound socket, in a thread."""

    server: Any
    sock: socket.socket

    @classmethod
    def create(cls, config: Config, db: Any, sock: socket.socket) -> "ApiServer":
        import uvicorn

        from tradewind.observe.api.app import create_app

        app = create_app(config, db)
        uv_config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        return cls(server=uvicorn.Server(uv_config), sock=sock)

    def run(self, _stop: threading.Event) -> None:
        # Not the main thread: uvicorn leaves signal handling to us.
        self.server.run(sockets=[self.sock])

    def stop(self) -> None:
        self.server.should_exit = True


def _callback_runner(config: Config) -> Any:
    """Runs DAG-level callbacks (user code) in child processes; the scheduler's callback sink."""
    from tradewind.execute.callbacks import DagCallbackRunner

    return DagCallbackRunner(config)


def _processor_service(config: Config, db: Any, scheduler: Any) -> Callable[[threading.Event], None]:
    """The DAG processor loop, built inside its own thread once the scheduler is up.

    Building it imports the authoring API (pre-imported for forked parse children);
    deferring that keeps it off the start-up path, so health turns green sooner.
    """

    def run(stop: threading.Event) -> None:
        deadline = time.monotonic() + 5.0
        while scheduler.job_id is None and time.monotonic() < deadline and not stop.is_set():
            stop.wait(0.02)
        if stop.is_set():
            return
        runtime.processor_loop(runtime.build_dag_processor(config, db))(stop)

    return run


def start_services(
    services: runtime.Services, config: Config, db: Any, *, sock: socket.socket | None, executor_name: str
) -> tuple[Any, Any]:
    """Start the API (if a socket is given), the scheduler (+executor, callbacks) and the DAG processor.

    Each starts as soon as it is built, in that order: health answers first.
    """
    if sock is not None:
        api = ApiServer.create(config, db, sock)
        services.add("tradewind-api", api.run)
        services.on_stop.append(api.stop)
        services.start()
    executor = runtime.build_executor(config, db, executor_name)
    callbacks = _callback_runner(config)
    scheduler = runtime.build_scheduler(config, db, executor, callback_sink=callbacks.submit)
    services.on_stop.append(executor.waker.wake)
    services.add("tradewind-scheduler", runtime.scheduler_loop(scheduler))
    services.add("tradewind-dag-processor", _processor_service(config, db, scheduler))
    services.start()
    return executor, callbacks


def banner(config: Config, host: str, port: int | None, executor_name: str, seconds: float) -> str:
    shown_host = "localhost" if host in ("0.0.0.0", "::", "") else host
    lines = [
        "Tradewind standalone" if port is not None else "Tradewind scheduler",
        f"  home        {config.home}",
        f"  database    {config.database_url}",
        f"  dags        {', '.join(str(p) for p in config.dag_folders())}",
        f"  executor    {executor_name}",
    ]
    if port is not None:
        lines.append(f"  health      http://{shown_host}:{port}/api/v1/health")
    lines.append(f"  ready in {seconds:.2f}s — press Ctrl-C to stop")
    return "\n".join(lines)


def run(
    config: Config,
    *,
    port: int | None,
    host: str | None = None,
    executor_name: str | None = None,
    announce: Callable[[str], None] = print,
    migrate: bool = True,
) -> int:
    """Run until SIGINT/SIGTERM; return the process exit code (0 on a clean stop).

    ``port=None`` runs without the HTTP server (the ``tradewind scheduler`` command).
    """
    started = time.monotonic()
    config.ensure_home()
    db = runtime.build_database(config)
    if migrate:
        from tradewind.persist.migrate import upgrade

        upgrade(db, default_pool_slots=config.getint("core", "default_pool_slots"))
    else:
        from tradewind.persist.migrate import check

        problem = check(db)
        if problem:
            raise StandaloneError(problem)
    runtime.install_variable_backend(db)
    host = host or config.get("api", "host")
    sock = bind_socket(host, port) if port is not None else None
    executor_name = executor_name or config.get("core", "executor")
    services = runtime.Services()
    # Handlers first: a SIGTERM during start-up still shuts down in order.
    runtime.install_signal_handlers(services, announce=announce)
    executor, callbacks = start_services(services, config, db, sock=sock, executor_name=executor_name)
    announce(banner(config, host, port, executor_name, time.monotonic() - started))
    services.wait()
    return _shutdown(services, executor, callbacks, db, announce)


def _shutdown(services: runtime.Services, executor: Any, callbacks: Any, db: Any,
              announce: Callable[[str], None]) -> int:
    stuck = services.join(timeout=30)
    callbacks.close(timeout=10)
    try:
        # Scheduler.run_forever may already have ended the executor; end() is idempotent.
        executor.end(wait=True)
    except Exception:  # noqa: BLE001 - report, keep shutting down
        log.exception("executor did not stop cleanly")
    db.engine.dispose()
    if stuck:
        announce(f"Stopped, but these did not finish in time: {', '.join(stuck)}")
        return 1
    if services.failed:
        name, exc = services.failed[0]
        announce(f"Stopped because {name} failed: {type(exc).__name__}: {exc}")
        return 1
    announce("Stopped.")
    return 0
