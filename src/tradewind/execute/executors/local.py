"""LocalExecutor: every try in its own process (own process group), forked from a warm server.

The fork server (:mod:`tradewind.execute.executors.forkserver`) has already imported
Tradewind, SQLAlchemy and Jinja, so starting a try costs one ``fork()`` — milliseconds —
while still isolating user code from the scheduler. A reader thread here receives
"started"/"exited" messages from the server, turns exits into :class:`ExecutorEvent`s and
wakes the scheduler at once. The same thread is the ``execution_timeout`` backstop: a try
that outlives its timeout plus :attr:`LocalExecutor.timeout_grace` gets its process group
(and any descendant that left the group) SIGTERMed, then SIGKILLed.

Nothing a try started survives it, however it ends — including when its process is SIGKILLed
by someone else and its children (bash in its own session, ``setsid``/``nohup`` jobs) have
been re-parented: the fork server and every try are child subreapers, so such leftovers become
the server's children and it kills them (see :mod:`~tradewind.execute.executors.forkserver`
for why parentage, not process groups or environment markers). The executor's own kill adds
only the group/descendant signalling above; it needs no scan of the process table.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from tradewind.schedule.executor_interface import BaseExecutor, ExecutorEvent, TaskKey, Waker, Workload

log = logging.getLogger(__name__)

#: Exit codes of a try process (see :func:`tradewind.execute.runner.run_in_try_process`).
EXIT_RECORDED = 0
EXIT_NOT_CLAIMED = 3


@dataclass
class _Try:
    key: TaskKey
    workload: Workload
    queued_at: float
    pid: int | None = None
    started_at: float | None = None
    #: Monotonic time after which SIGKILL follows a SIGTERM already sent.
    kill_at: float | None = None
    kill_reason: str = ""
    descendants: list[psutil.Process] = field(default_factory=list)


class LocalExecutor(BaseExecutor):
    """Runs up to ``parallelism`` tries at once, each a forked child of a warm fork server."""

    name = "local"
    #: Seconds past ``execution_timeout`` before the executor kills a try itself
    #: (the runner's own SIGALRM timeout should have ended it by then).
    timeout_grace: float = 5.0
    #: Seconds between SIGTERM and SIGKILL.
    kill_grace: float = 5.0

    def __init__(self, parallelism: int, waker: Waker | None = None, *, config: Any, remote: bool = False) -> None:
        if parallelism < 1:
            raise ValueError(f"LocalExecutor parallelism must be >= 1, got {parallelism}")
        super().__init__(parallelism, waker)
        self.config = config
        #: The fork server runs tries through the execution API, without a database
        #: (``tradewind celery worker``), and its tries die with this process.
        self.remote = remote
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._tries: dict[TaskKey, _Try] = {}
        self._by_id: dict[int, TaskKey] = {}
        self._by_pid: dict[int, TaskKey] = {}
        self._events: list[ExecutorEvent] = []
        self._next_id = 0
        self._sock: socket.socket | None = None
        self._server: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._idle = threading.Condition(self._lock)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Launch the fork server and the thread that listens to it."""
        if self._server is not None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(os.environ)
        env.update(self.config.as_environ())
        argv = [sys.executable, "-m", "tradewind.execute.executors.forkserver", "--fd", str(theirs.fileno())]
        self._server = subprocess.Popen(
            argv + ["--remote"] if self.remote else argv,
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        theirs.close()
        self._sock = ours
        self._thread = threading.Thread(target=self._listen, name="tradewind-local-executor", daemon=True)
        self._thread.start()

    def end(self, *, wait: bool = True) -> None:
        """Stop. ``wait``: let running tries finish first; else kill them."""
        if self._server is None:
            return
        if not wait:
            for key in list(self.running_keys()):
                self.kill(key, reason="executor shutting down")
        with self._idle:
            self._idle.wait_for(lambda: not self._tries or self._thread is None or not self._thread.is_alive())
        self._stopping = True
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            self._server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._server.kill()
            self._server.wait()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
        self._server = None
        self._sock = None
        self._thread = None

    # ------------------------------------------------------------ scheduler side
    def queue_workload(self, workload: Workload) -> None:
        """Ask the fork server to start the try; returns at once."""
        if self._sock is None:
            raise RuntimeError("LocalExecutor.start() must be called before queue_workload()")
        with self._lock:
            if workload.key in self._tries:
                raise ValueError(f"try {workload.key.short()} is already running in this executor")
            self._next_id += 1
            request_id = self._next_id
            self._tries[workload.key] = _Try(workload.key, workload, time.monotonic())
            self._by_id[request_id] = workload.key
        self._send({"op": "run", "id": request_id, "workload": workload.to_dict()})

    def collect_events(self) -> list[ExecutorEvent]:
        with self._lock:
            events, self._events = self._events, []
        return events

    def slots_available(self) -> int:
        with self._lock:
            return max(self.parallelism - len(self._tries), 0)

    def running_keys(self) -> set[TaskKey]:
        with self._lock:
            return set(self._tries)

    def alive(self) -> bool:
        """True while the fork server runs (a Celery worker stops when it does not)."""
        return self._server is not None and self._server.poll() is None

    def pid_of(self, key: TaskKey) -> int | None:
        """Process id of a running try (None while it is still being forked)."""
        with self._lock:
            entry = self._tries.get(key)
            return entry.pid if entry else None

    def kill(self, key: TaskKey, reason: str = "killed") -> bool:
        """SIGTERM the try's process group and descendants; SIGKILL follows after ``kill_grace``."""
        with self._lock:
            entry = self._tries.get(key)
            if entry is None or entry.pid is None:
                return False
            if entry.kill_at is None:
                entry.kill_at = time.monotonic() + self.kill_grace
                entry.kill_reason = reason
            pid = entry.pid
        entry.descendants = _descendants(pid)
        log.warning("killing %s (pid %s): %s", key.short(), pid, reason)
        _signal_tree(pid, entry.descendants, signal.SIGTERM)
        return True

    # ------------------------------------------------------------- server side
    def _send(self, message: dict[str, Any]) -> None:
        assert self._sock is not None
        data = (json.dumps(message) + "\n").encode("utf-8")
        with self._send_lock:
            self._sock.sendall(data)

    def _listen(self) -> None:
        assert self._sock is not None
        selector = selectors.DefaultSelector()
        selector.register(self._sock, selectors.EVENT_READ)
        buffer = b""
        while True:
            ready = selector.select(timeout=0.5)
            if ready:
                try:
                    chunk = self._sock.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                *lines, buffer = (buffer + chunk).split(b"\n")
                for line in lines:
                    if line.strip():
                        self._on_message(json.loads(line))
            self._enforce_timeouts()
        selector.close()
        self._server_gone()

    def _on_message(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "started":
            with self._lock:
                key = self._by_id.pop(message["id"], None)
                if key is not None and key in self._tries:
                    entry = self._tries[key]
                    entry.pid = message["pid"]
                    entry.started_at = time.monotonic()
                    self._by_pid[entry.pid] = key
        elif op == "exited":
            with self._lock:
                key = self._by_pid.pop(message["pid"], None)
                entry = self._tries.pop(key, None) if key is not None else None
            if entry is not None:
                self._finish(entry, int(message["code"]))
        elif op == "error":
            with self._lock:
                key = self._by_id.pop(message.get("id"), None)
                entry = self._tries.pop(key, None) if key is not None else None
            if entry is not None:
                self._emit(ExecutorEvent(entry.key, None, False, f"could not start: {message.get('message')}"))

    def _finish(self, entry: _Try, code: int) -> None:
        # A try killed by its group's SIGTERM may leave descendants that ignored it.
        if entry.descendants:
            _signal_tree(None, entry.descendants, signal.SIGKILL)
        if code == EXIT_RECORDED:
            info = "recorded"
        elif code == EXIT_NOT_CLAIMED:
            info = "not claimed: the task instance was not queued for this try"
        elif code < 0:
            info = f"killed by signal {-code}" + (f" ({entry.kill_reason})" if entry.kill_reason else "")
        else:
            info = f"exited with code {code} without recording an outcome"
        self._emit(ExecutorEvent(entry.key, code, code == EXIT_RECORDED, info))

    def _emit(self, event: ExecutorEvent) -> None:
        with self._idle:
            self._events.append(event)
            self._idle.notify_all()
        self.waker.wake()

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        to_term: list[TaskKey] = []
        to_kill: list[_Try] = []
        with self._lock:
            for key, entry in self._tries.items():
                if entry.pid is None or entry.started_at is None:
                    continue
                if entry.kill_at is not None:
                    if now >= entry.kill_at:
                        to_kill.append(entry)
                    continue
                timeout = entry.workload.execution_timeout
                if timeout is not None and now - entry.started_at > timeout + self.timeout_grace:
                    to_term.append(key)
        for key in to_term:
            self.kill(key, reason="execution_timeout exceeded")
        for entry in to_kill:
            assert entry.pid is not None
            _signal_tree(entry.pid, entry.descendants + _descendants(entry.pid), signal.SIGKILL)

    def _server_gone(self) -> None:
        with self._lock:
            lost = list(self._tries.values())
            self._tries.clear()
            self._by_id.clear()
            self._by_pid.clear()
        for entry in lost:
            why = "executor stopped" if self._stopping else "fork server died"
            self._emit(ExecutorEvent(entry.key, None, False, why))
        with self._idle:
            self._idle.notify_all()


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _signal_tree(pid: int | None, descendants: list[psutil.Process], sig: int) -> None:
    """Signal the process group led by ``pid`` and every listed descendant (which may have
    started its own session, e.g. a subprocess run with ``start_new_session``)."""
    if pid is not None:
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
    for proc in descendants:
        try:
            proc.send_signal(sig)
        except psutil.Error:
            pass
