"""``tradewind standalone``: everything in one process, for a laptop or a small machine.

Start-up order is chosen for speed: create the home, migrate the database, bind
the HTTP port and serve ``/api/v1/health`` at once; only then build the executor
(its warm fork server), the scheduler and the DAG processor. The first parse
runs in the background, so the API answers before any DAG file is imported.
The full API/UI app (hundreds of milliseconds of route and schema building, more with
every router) and the first admin account (an argon2 hash) come last: until the app is
built, health is answered by a health-only app and other requests wait for the full one
(:class:`DeferredApp`).

Threads: uvicorn (HTTP), the scheduler loop (which hands DAG-level callbacks to
the callback runner thread) and, in ``standalone``, the triggerer (whose triggers run in
one more thread's asyncio event loop). The DAG processor is a child process
(``tradewind dag-processor``), as in Airflow: it forks a child per DAG file, and
forking is only safe from a process without other threads. A watcher thread replaces it when it
dies (:class:`DagProcessorProcess`); the triggerer thread is restarted when its loop fails; only
the scheduler loop failing stops the process (docs/supervision.md). The main thread only
waits for SIGINT/SIGTERM, then stops everything in reverse order: scheduler and
parser first (no new work), the executor (running tries finish), the HTTP server last.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tradewind.config import Config
from tradewind.execute.supervision import RestartBackoff, describe_exit
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


#: The only path answered before the full app is built.
HEALTH_PATH = "/api/v1/health"


class DeferredApp:
    """The ASGI app standalone serves: health at once, everything else once :meth:`build` ran.

    Before the full app exists, ``GET /api/v1/health`` is answered by a health-only app (same
    route, same ``app.state`` values, so the same answer) and any other request waits for the
    full app; if building it failed, they get a 503 naming the error.
    """

    def __init__(self, config: Config, db: Any) -> None:
        from fastapi import FastAPI

        from tradewind.observe.api.app import health_threshold
        from tradewind.observe.api.health import make_router

        self.config, self.db = config, db
        health = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
        health.state.config = config
        health.state.db = db
        health.state.health_threshold = health_threshold(config)
        health.include_router(make_router())
        self._health = health
        self._app: Any = None
        self._error: str | None = None
        self._ready = threading.Event()

    def build(self) -> None:
        """Build the full app and serve it from now on (re-raises a build error after
        releasing the waiting requests)."""
        from tradewind.observe.api.app import create_app

        try:
            self._app = create_app(self.config, self.db)
        except BaseException as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._ready.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        app = self._app
        if app is None:
            # Lifespan events too (uvicorn runs with lifespan="off" here; a test client sends them).
            if scope["type"] == "lifespan" or (scope["type"] == "http" and scope.get("path") == HEALTH_PATH):
                app = self._health
            else:
                import anyio.to_thread

                await anyio.to_thread.run_sync(self._ready.wait)
                app = self._app
        if app is None:
            from starlette.responses import PlainTextResponse

            app = PlainTextResponse(f"the API app could not be built: {self._error}", status_code=503)
        await app(scope, receive, send)


@dataclass
class ApiServer:
    """uvicorn serving the app on an already-bound socket, in a thread."""

    server: Any
    sock: socket.socket
    app: DeferredApp

    @classmethod
    def create(cls, config: Config, db: Any, sock: socket.socket) -> "ApiServer":
        """Serve health at once; the caller builds the full app with ``api.app.build()``."""
        import uvicorn

        app = DeferredApp(config, db)
        from tradewind.observe.api.limits import uvicorn_forwarded_allow_ips

        # X-Forwarded-For is believed from [api] trusted_proxies only (uvicorn's default trusts 127.0.0.1).
        uv_config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                                   forwarded_allow_ips=uvicorn_forwarded_allow_ips(config))
        return cls(server=uvicorn.Server(uv_config), sock=sock, app=app)

    def run(self, _stop: threading.Event) -> None:
        # Not the main thread: uvicorn leaves signal handling to us.
        self.server.run(sockets=[self.sock])

    def stop(self) -> None:
        self.server.should_exit = True


def _callback_runner(config: Config) -> Any:
    """Runs DAG-level callbacks (user code) in child processes; the scheduler's callback sink."""
    from tradewind.execute.callbacks import DagCallbackRunner

    return DagCallbackRunner(config)


class DagProcessorProcess:
    """``tradewind dag-processor`` as a supervised child process of this one, ending with it.

    :meth:`start` spawns it; :meth:`watch`, a service thread of its own, calls :meth:`poll`
    five times a second from then on (also while the main thread still builds the API app). A
    child that died is logged with how it ended and replaced (a new ``Popen``: fork and exec,
    safe beside the other threads): at once the first time, later after :class:`RestartBackoff`'s
    delay while it keeps dying. :meth:`problem` (down, crash-looping) is one of the scheduler's health probes,
    so it lands in the scheduler's job row. After :meth:`stop` nothing is restarted any more.
    """

    NAME = "DAG processor"

    def __init__(self, config: Config, *, backoff: RestartBackoff | None = None) -> None:
        self.config = config
        self.backoff = backoff or runtime.helper_backoff(config, self.NAME)
        self.proc: subprocess.Popen[bytes] | None = None
        self._stopping = False
        #: Monotonic time at which a replacement is due (None: nothing to restart).
        self._restart_at: float | None = None

    def start(self) -> None:
        env = dict(os.environ)
        env.update(self.config.as_environ())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tradewind.observe.cli.main", "dag-processor", "--parent-pid", str(os.getpid())],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        if self._stopping:  # a stop arrived (signal handler) while it was being spawned
            self.proc.terminate()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def poll(self) -> None:
        """Notice a dead child and start its replacement when due (the watcher thread only)."""
        if self._stopping or self.proc is None:
            return
        if self._restart_at is None:
            code = self.proc.poll()
            if code is None:
                return
            cause = describe_exit(code)
            delay = self.backoff.died(cause)
            log.warning("%s (pid %d) %s; starting a new one%s", self.NAME, self.proc.pid, cause,
                        f" in {delay:.1f}s" if delay else "")
            self._restart_at = time.monotonic() + delay
        if time.monotonic() < self._restart_at:
            return
        self._restart_at = None
        try:
            self.start()
        except OSError as exc:
            delay = self.backoff.died(f"could not be started: {exc}")
            log.error("%s could not be started: %s; trying again in %.1fs", self.NAME, exc, delay)
            self._restart_at = time.monotonic() + delay
            return
        if self._stopping:
            return
        self.backoff.started()
        log.warning("%s restarted (pid %d)", self.NAME, self.proc.pid)

    def watch(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Poll the child every ``interval`` seconds until ``stop`` is set (a service thread)."""
        while not stop.wait(interval):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - a bug here must not end the watching
                log.exception("watching the %s failed", self.NAME)

    def problem(self) -> str | None:
        """Down or crash-looping, or None while it runs (a health probe of the scheduler)."""
        if self._stopping:
            return None
        return self.backoff.problem()

    def stop(self) -> None:
        """Ask it to stop and never restart it (safe from a signal handler)."""
        self._stopping = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def wait(self, timeout: float) -> bool:
        """True once it has exited; kills it after ``timeout`` seconds."""
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return False
        return True


def start_services(
    services: runtime.Services, config: Config, db: Any, *, sock: socket.socket | None, executor_name: str,
    triggerer: bool = False,
) -> tuple[Any, Any, DagProcessorProcess, ApiServer | None]:
    """Start the API (if a socket is given), the scheduler (+executor, callbacks), the DAG processor
    and, with ``triggerer``, the triggerer (a thread running its asyncio loop thread).

    Each starts as soon as it is built, in that order: health answers first. The API server
    is returned with its full app still to build (``api.app.build()``).
    """
    api = None
    if sock is not None:
        api = ApiServer.create(config, db, sock)
        services.add("tradewind-api", api.run)
        services.on_stop.append(api.stop)
        services.start()
    executor = runtime.build_executor(config, db, executor_name)
    callbacks = _callback_runner(config)
    processor = DagProcessorProcess(config)
    probes = [processor.problem]
    triggerer_backoff = runtime.helper_backoff(config, "triggerer") if triggerer else None
    if triggerer_backoff is not None:
        probes.append(triggerer_backoff.problem)
    scheduler = runtime.build_scheduler(config, db, executor, callback_sink=callbacks.submit, health_probes=probes)
    services.on_stop.append(executor.waker.wake)
    services.add("tradewind-scheduler", runtime.scheduler_loop(scheduler))
    services.start()
    processor.start()
    services.on_stop.append(processor.stop)
    services.add("tradewind-dag-processor-watcher", processor.watch)
    services.start()
    if triggerer_backoff is not None:
        # After the parser child is spawned; the triggerer's threads never fork.
        from tradewind.execute.triggerer import TriggererRunner

        runner = TriggererRunner(config, db, health_probes=[triggerer_backoff.problem])
        services.on_stop.append(runner.wake)
        # A helper: restarted when its loop fails (the scheduler's failure stops the process).
        services.add("tradewind-triggerer", runner.run_forever, restart=triggerer_backoff)
        services.start()
    return executor, callbacks, processor, api


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
    executor, callbacks, processor, api = start_services(services, config, db, sock=sock,
                                                         executor_name=executor_name, triggerer=port is not None)
    admin = None
    if api is not None:
        try:
            api.app.build()
            # The API is served: make sure someone can log in.
            from tradewind.observe.admin_bootstrap import ensure_admin

            admin = ensure_admin(config, db)
        except BaseException:
            services.request_stop()
            _shutdown(services, executor, callbacks, processor, db, lambda _text: None)
            raise
    announce(banner(config, host, port, executor_name, time.monotonic() - started))
    if admin is not None:
        announce(admin.message())
    services.wait()
    return _shutdown(services, executor, callbacks, processor, db, announce)


def _shutdown(services: runtime.Services, executor: Any, callbacks: Any, processor: DagProcessorProcess,
              db: Any, announce: Callable[[str], None]) -> int:
    stuck = services.join(timeout=30)
    if not processor.wait(timeout=10):
        stuck.append("tradewind-dag-processor")
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


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGTERM this process when its parent dies (a killed standalone must not
    leave a parser behind); elsewhere rely on the parent's shutdown."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def run_dag_processor(config: Config, *, parent_pid: int | None = None,
                      announce: Callable[[str], None] = print) -> int:
    """Parse the DAG folders until SIGINT/SIGTERM (``tradewind dag-processor``).

    Single-threaded on purpose: every DAG file is imported in a forked child.
    """
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if parent_pid is not None:
        _die_with_parent(parent_pid)
    db = runtime.build_database(config)
    from tradewind.persist.migrate import revision_problem

    problem = revision_problem(db)
    if problem:
        raise StandaloneError(problem)
    # DAG files may read Variables at import time (Airflow allows it); forked parse children inherit this.
    runtime.install_variable_backend(db)
    processor = runtime.build_dag_processor(config, db)
    if parent_pid is None:
        announce(f"Tradewind DAG processor: parsing {', '.join(str(p) for p in config.dag_folders())}")
    processor.run_forever(stop)
    db.engine.dispose()
    return 0
