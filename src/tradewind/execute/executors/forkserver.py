"""A warm fork server: one long-lived process that has imported Tradewind, SQLAlchemy and
Jinja once, and forks a fresh child for each try — isolation in milliseconds instead of a
new interpreter per task.

Started by :class:`~tradewind.execute.executors.local.LocalExecutor` as
``python -m tradewind.execute.executors.forkserver --fd N`` in its own session (so a
Ctrl-C at the scheduler's terminal does not reach it); it talks over one Unix stream
socket with newline-delimited JSON:

executor -> server
    ``{"op": "run", "id": 7, "workload": {...}}``
server -> executor
    ``{"op": "started", "id": 7, "pid": 1234}``  (or ``{"op": "error", "id": 7, "message": ...}``)
    ``{"op": "exited", "pid": 1234, "code": -9}`` (``code`` as ``subprocess``: negative = signal)

"started" is sent by the forked try itself, before it closes its copy of the socket: so when the
executor reads end-of-file (every copy closed: the server died), it has read the "started" of
every try the server forked, and knows that the others never ran (it hands them to the
server's replacement, see :mod:`~tradewind.execute.executors.local`).

The server itself runs no threads (forking a threaded process is unsafe); it multiplexes
the socket and a SIGCHLD wake-up pipe with ``selectors``. When the socket closes (the
executor went away) it exits once its last try has ended; tries still running finish and
record their own outcomes. Nothing the executor's disappearance breaks may kill it: a message
to the closed socket (a try's end, a request read from the socket's buffer after the
executor's kill -9) is dropped, and its own warnings go to a stderr whose reader may be gone
with the scheduler (a pipe), so a failed write is ignored as well.

Before forking a try, the server imports the try's DAG file once per version of the file
(:func:`tradewind.execute.prepare.load_dag_file`), so the child starts with the DAG already
built instead of re-running the file (~10 ms for a 100-task DAG). That runs the DAG file's
top-level code in the server, so it is guarded: any exception, ``sys.exit`` or a hang past
``[core] dagbag_import_timeout`` is caught, remembered for that version of the file, and the
tries import the file themselves (reporting the error as usual).

No process a try started outlives the try
-----------------------------------------
A try's descendants can leave its process group and session (``BashOperator`` runs bash with
``start_new_session`` so it can kill the bash subtree; user code may ``setsid``, ``nohup`` or
double-fork), and when the try process dies (kill -9, a crash) its children are re-parented
away from it — so neither "kill the process group" nor "kill the try's descendants" finds them
once the try is gone, and an environment marker is lost by any command run with a replaced
environment (``BashOperator(env=...)``, ``env -i``) and costs a scan of every process. Instead
Linux's *child subreaper* flag (``prctl(PR_SET_CHILD_SUBREAPER)``) makes parentage itself the
record of ownership, which no session, group or environment change escapes:

* each **try process** is a subreaper, so while it runs, descendants orphaned by their own
  parent (a background job of a bash that exited) become its children — the runner's end-of-try
  cleanup (``run_in_try_process``) sees and kills them even though they left its group;
* the **server** is a subreaper, so when a try process ends by any means, whatever it still had
  (its children, and through them every descendant) is re-parented here. While a try lives its
  orphans go to it, not here, so *every child of the server that is not a live try is a leftover
  of a try that ended*: after reaping, the server SIGKILLs those (a killed leftover's own children
  arrive next, and are killed on the following SIGCHLD). Killing only its own unreaped children
  is race-free (their pids cannot be reused) and costs one read of ``/proc/self/task/*/children``
  per reap — nothing at all while no process exits;
* the server outlives the executor's socket (a scheduler killed with SIGKILL) until its last try
  has ended, so this also holds for tries that outlive their scheduler.

A process that is started on the try's behalf by another daemon (``systemd-run``, ``docker run``,
``ssh``) is not its descendant and is out of reach; so is everything if the server itself is
SIGKILLed: its executor starts a replacement, but the tries still running (they survive, and
record their outcomes) are nobody's children any more, so what they leave behind goes to init
— only the runner's own end-of-try cleanup and the executor's kill of an orphaned try's group
and descendants still apply to them. Without ``prctl`` (not Linux) only the executor's process-group/descendant kill and
the runner's cleanup apply.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
import traceback
from typing import Any

from tradewind.execute.alarm import raise_after

#: Modules imported once in every server, so a forked try finds them already loaded: the
#: worker side of a try (no database code) and what common DAG files use.
PRELOAD = (
    "tradewind",
    "tradewind.definition",
    "tradewind.execute.runner",
    "jinja2",
    "jinja2.ext",
    "jinja2.sandbox",
    "jinja2.nativetypes",
    "subprocess",
    "json",
    "logging",
)

#: Optional modules that help common DAG files (imported if present).
PRELOAD_OPTIONAL = (
    "tradewind.parse.dagbag",
    "tradewind.definition.operators.bash",
    "tradewind.definition.operators.python",
    "tradewind.definition.operators.empty",
    "tradewind.definition.baseoperator",
    "tradewind.definition.dag",
    "tradewind.execute.prepare",
    "tradewind.definition.context",
    "tradewind.definition.templating",
    "tradewind.definition.state_store",  # every try's context has task_state_store
    # Every try installs the email sender, the Variable and Connection backends and applies
    # the masking settings before its claim.
    "tradewind.definition.notifications",
    "tradewind.definition.masking",
    "tradewind.definition.connection",
    "tradewind.execute.email",
    "pendulum",
)

#: Imported once in a local-mode server: its tries read and write the database themselves.
PRELOAD_LOCAL = (
    "tradewind.execute.db_store",
    "tradewind.schedule.transitions",
    "tradewind.persist.models",
    "tradewind.persist.queries.dags",
    "tradewind.persist.queries.variables",
    "tradewind.persist.queries.xcom",
    "tradewind.persist.queries.connections",
    "sqlalchemy",
    "sqlalchemy.dialects.sqlite",
)

#: Imported once in a remote-mode server (no database): the HTTP client a worker's try talks through.
PRELOAD_REMOTE = ("tradewind.execute.remote", "tradewind.execute.api_client", "httpx")


def _preload_remote() -> None:
    for name in PRELOAD_REMOTE:
        importlib.import_module(name)
    from tradewind.execute.api_client import shared_ssl_context

    shared_ssl_context()  # built once here, reused by every forked try's HTTP client


def _preload(*, remote: bool = False) -> None:
    required = PRELOAD if remote else PRELOAD + PRELOAD_LOCAL
    for name in required + PRELOAD_OPTIONAL:
        try:
            importlib.import_module(name)
        except Exception:  # a missing optional module must not stop the server
            if name in required:
                _print_exc()


#: ``prctl`` option numbers of ``PR_SET_CHILD_SUBREAPER`` and ``PR_SET_PDEATHSIG`` (linux/prctl.h).
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Any:
    """libc's ``prctl`` (loaded once in the server, so a forked try calls it without a dlopen)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.restype = ctypes.c_int
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return prctl


_PRCTL = _load_prctl()

#: Benchmarking aid (bench/try_cost.py): when set, each forked try writes a cProfile of itself
#: to ``<dir>/<pid>.prof``. Read once when the server starts, so a try pays nothing without it.
_PROFILE_DIR = os.environ.get("TRADEWIND_PROFILE_TRY_DIR") or None


def become_subreaper() -> bool:
    """Make this process a child subreaper: orphaned descendants are re-parented to it (not
    to init). Not inherited across ``fork``. Returns False where unsupported (not Linux)."""
    if _PRCTL is None:
        return False
    return _PRCTL(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def child_pids() -> list[int]:
    """Pids of this process's children (zombies included), without scanning every process."""
    me = os.getpid()
    pids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{me}/task"):
            with open(f"/proc/{me}/task/{tid}/children") as fh:
                pids.extend(int(p) for p in fh.read().split())
        return pids
    except FileNotFoundError:
        pass  # kernel without CONFIG_PROC_CHILDREN (or a thread just ended): ask psutil
    except OSError:
        pass
    import psutil

    try:
        return [child.pid for child in psutil.Process(me).children()]
    except psutil.Error:
        return []


def _send(sock: socket.socket, message: dict[str, Any]) -> bool:
    """Send one message; False if the executor is gone (its socket closed: EPIPE, ECONNRESET)."""
    try:
        sock.sendall((json.dumps(message) + "\n").encode("utf-8"))
        return True
    except OSError:
        return False


def _warn(text: str) -> None:
    """Print a warning to stderr, which may be a pipe whose reader (the scheduler, or what read
    its output) is gone: a failed write must not end the server."""
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _print_exc() -> None:
    try:
        traceback.print_exc()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _run_child(request_id: Any, sock: socket.socket, workload: dict[str, Any], close_fds: list[int],
               config: Any, db: Any, server_pid: int) -> None:
    """In the forked child: report the start, become a process group leader, reset signals, run
    the try, exit.

    ``db`` None: remote mode (a Celery worker) — the try runs through the execution API.
    """
    code = 1
    # Everything inherited from the server (its imports and the preloaded DAG files) outlives
    # the try: out of the collector's reach, a collection in the try neither scans it (a
    # 1,000-task DAG costs ~50 ms per full collection) nor copies its pages to write GC bits.
    # The server itself keeps its DAG modules collectable (a changed file replaces them). It
    # forked with the collector disabled, so no collection ran before this line.
    gc.freeze()
    gc.enable()
    try:
        # Before closing our copy of the socket (see the module docstring for why here).
        _send(sock, {"op": "started", "id": request_id, "pid": os.getpid()})
        # First, before the try can start anything: orphans of its descendants come back to
        # it (see the module docstring), so its end-of-try cleanup finds them.
        become_subreaper()
        if db is None and _PRCTL is not None:
            # Remote mode: a try must not outlive a SIGKILLed server (the worker's children
            # are its only record of what runs there).
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != server_pid:
                return  # the server died before that took effect: the executor reported us ended
        os.setsid()
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        for fd in close_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        if db is None:
            from tradewind.execute.remote import run_remote_try
            from tradewind.workloads import Workload

            code = run_remote_try(Workload.from_dict(workload), config=config)
        else:
            from tradewind.execute.db_store import DbTryStore
            from tradewind.execute.runner import run_in_try_process

            store = DbTryStore(db, config)
            if _PROFILE_DIR is None:
                code = run_in_try_process(workload, config=config, store=store)
            else:
                code = _profiled(run_in_try_process, workload, config=config, store=store)
    except BaseException:  # noqa: BLE001 - whatever happens, the child must exit here
        _print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _profiled(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``func`` under cProfile (CPU time) and dump the profile to ``_PROFILE_DIR/<pid>.prof``."""
    import cProfile
    import time

    profile = cProfile.Profile(time.process_time)  # CPU time, not time spent waiting
    try:
        return profile.runcall(func, *args, **kwargs)
    finally:
        profile.dump_stats(os.path.join(str(_PROFILE_DIR), f"{os.getpid()}.prof"))


class _Server:
    def __init__(self, sock: socket.socket, *, remote: bool = False) -> None:
        from tradewind.config import Config

        self.sock = sock
        self.config = Config.load()
        #: Remote mode (``tradewind celery worker``): no database at all; tries run through the
        #: execution API, and they die with the worker (see :meth:`serve`).
        self.remote = remote
        self.db: Any = None
        if not remote:
            from tradewind.persist.db import Database
            from tradewind.execute.warmup import warm_up

            # Engine only: warm_up() disposes its connections, so nothing is shared across fork.
            self.db = Database.from_config(self.config)
            warm_up(self.db)
        self._set_try_log_levels()
        # The imported modules live as long as the server: move them out of the GC's reach,
        # so a collection in a forked try does not touch (and copy) their pages. DAG files
        # imported later stay collectable (a changed file replaces its old module).
        gc.collect()
        gc.freeze()
        self.sys_path = [str(p) for p in self.config.dag_folders()]
        self.import_timeout = self.config.getfloat("core", "dagbag_import_timeout")
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.buffer = b""
        #: Pids of the live try processes this server forked (all its other children are
        #: leftovers of ended tries, see the module docstring).
        self.tries: set[int] = set()
        self.subreaper = become_subreaper()

    def _set_try_log_levels(self) -> None:
        """Give the root and task loggers the level every try sets (``[logging] logging_level``)
        here, once: a try then finds it set and skips ``setLevel``, which writes to every
        logger (copying its page in each forked try). The server logs nothing below warnings."""
        import logging

        from tradewind.execute.logs import TASK_LOGGER, task_log_level

        try:
            level = task_log_level(self.config)
        except ValueError:
            return  # each try reports the bad setting in its own log
        logging.getLogger().setLevel(level)
        logging.getLogger(TASK_LOGGER).setLevel(level)

    def serve(self) -> None:
        """Serve until the executor's socket closes and the last running try has ended."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ, "sock")
        selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        connected = True
        # After the executor went away (its scheduler was killed), stay until the tries still
        # running have ended, so their leftovers are still re-parented here and killed.
        while connected or self.tries:
            for key, _ in selector.select(timeout=5.0):
                if key.data == "wake":
                    self._drain_wake()
                elif not self._read_requests():
                    connected = False
                    selector.unregister(self.sock)
                    if self.remote:
                        # The worker is gone (a graceful stop waits for its tries first, so
                        # this is a crash or kill -9): its tries go with it, and the scheduler
                        # retries them elsewhere once their heartbeats stop.
                        self._kill_tries()
            self._reap()
        selector.close()
        self._drain_leftovers()

    def _drain_leftovers(self) -> None:
        """Before exiting: kill and reap leftovers down to the last descendant (each killed one's
        children are re-parented here), so none is left to init when the server is gone."""
        if not self.subreaper:
            return
        while True:
            self._kill_leftovers()
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return

    def _drain_wake(self) -> None:
        try:
            while os.read(self.wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _read_requests(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except OSError:  # ECONNRESET and the like: the executor is gone
            return False
        if not chunk:
            return False
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self._handle(json.loads(line))
        return True

    def _handle(self, request: dict[str, Any]) -> None:
        if request.get("op") != "run":
            _send(self.sock, {"op": "error", "id": request.get("id"), "message": f"unknown op {request.get('op')!r}"})
            return
        # A request read after the executor's kill -9 (still in the socket's buffer) is run all
        # the same: the instance is queued for it, and a claim is atomic, so it runs at most once.
        self._preload_dag_file(request["workload"].get("fileloc"))
        server_pid = os.getpid()
        gc.disable()  # the child enables it after freezing what it inherited (see _run_child)
        try:
            pid = os.fork()
        except OSError as exc:
            gc.enable()
            _send(self.sock, {"op": "error", "id": request["id"], "message": f"fork failed: {exc}"})
            return
        if pid != 0:
            gc.enable()
        if pid == 0:
            _run_child(request["id"], self.sock, request["workload"], [self.sock.fileno(), self.wake_r, self.wake_w],
                       self.config, self.db, server_pid)
        self.tries.add(pid)  # the child itself reports "started"

    def _preload_dag_file(self, fileloc: str | None) -> None:
        """Import the DAG file here (once per version) so the forked try inherits it; never raises."""
        if not fileloc:
            return
        from tradewind.definition.variable import set_variable_backend
        from tradewind.execute.prepare import load_dag_file

        threads = threading.active_count()
        # A file reading Variables at import time must see their values at each try's
        # start, so it is not kept imported here: the refusing backend fails its import.
        previous = set_variable_backend(_RefuseVariables())
        try:
            with raise_after(self.import_timeout, lambda: _ImportTimeout(
                    f"DAG file import took longer than {self.import_timeout:g}s")):
                dags = load_dag_file(fileloc, self.sys_path, remember_failure=True)
            if self.remote:  # the tries' snapshot-hash check (execute/remote.py) finds it computed
                from tradewind.execute.remote import remember_snapshot_hashes

                remember_snapshot_hashes(dags)
        except BaseException:  # noqa: BLE001 - user code may raise anything; the try imports it itself
            pass
        finally:
            set_variable_backend(previous)
        if threading.active_count() > threads:
            _warn(f"tradewind fork server: importing {fileloc} started threads; forking a threaded "
                  "process is unsafe, so DAG files should not start threads at import time")

    def _reap(self) -> None:
        """Collect exited children: report tries to the executor, then kill try leftovers."""
        reaped = False
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            reaped = True
            if pid not in self.tries:
                continue  # a leftover of an ended try, killed by _kill_leftovers
            self.tries.discard(pid)
            # False when the executor is gone; keep reaping all the same so no zombies pile up.
            _send(self.sock, {"op": "exited", "pid": pid, "code": os.waitstatus_to_exitcode(status)})
        # Leftovers only arrive when a child of ours exits (a try, or a leftover whose own
        # children are then re-parented here), so a quiet server never looks.
        if reaped and self.subreaper:
            self._kill_leftovers()

    def _kill_tries(self) -> None:
        """SIGKILL every live try's process group (their leftovers then come here and die)."""
        for pid in list(self.tries):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def _kill_leftovers(self) -> None:
        """SIGKILL every child that is not a live try: with this server and every try being
        subreapers, such a child can only be something an ended try left running."""
        for pid in child_pids():
            if pid in self.tries:
                continue
            try:
                os.kill(pid, signal.SIGKILL)  # an unreaped child: its pid cannot be reused
            except ProcessLookupError:
                pass


class _NotPreloadable(BaseException):
    """Raised into a DAG file's import in the server (not an ``Exception``: user code's
    ``except Exception`` must not turn it into a cached fallback value)."""


class _RefuseVariables:
    """Variable backend of the server while it imports DAG files."""

    def get(self, key: str) -> str | None:
        raise _NotPreloadable(f"Variable {key!r} read at import time")

    def set(self, key: str, value: str, description: str | None) -> None:
        raise _NotPreloadable(f"Variable {key!r} written at import time")

    def delete(self, key: str) -> bool:
        raise _NotPreloadable(f"Variable {key!r} deleted at import time")


class _ImportTimeout(BaseException):
    """The DAG file's import in the server took longer than ``dagbag_import_timeout``."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tradewind fork server (started by the local executor)")
    parser.add_argument("--fd", type=int, required=True, help="inherited Unix socket to the executor")
    parser.add_argument("--remote", action="store_true",
                        help="no database: tries run through the execution API (Celery worker)")
    args = parser.parse_args(argv)
    _preload(remote=args.remote)
    if args.remote:
        _preload_remote()
    sock = socket.socket(fileno=args.fd)
    _Server(sock, remote=args.remote).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
