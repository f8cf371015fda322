"""LocalExecutor: every try in its own process (own process group), forked from a warm server.

The fork server (:mod:`tradewind.execute.executors.forkserver`) has already imported
Tradewind, SQLAlchemy and Jinja, so starting a try costs one ``fork()`` — milliseconds —
while still isolating user code from the scheduler. A listener thread here receives
"started"/"exited" messages from the server, turns exits into :class:`ExecutorEvent`s and
wakes the scheduler at once. The same thread is the ``execution_timeout`` backstop: a try
that outlives its timeout plus :attr:`LocalExecutor.timeout_grace` gets its process group
(and any descendant that left the group) SIGTERMed, then SIGKILLed.

The fork server is supervised
-----------------------------
The listener thread also watches the server: its socket reaching end-of-file (or, should a
process the server forked still hold the socket open, the server process exiting) means it
died. The executor then logs what died and how (:func:`~tradewind.execute.supervision.describe_exit`)
and starts a replacement at once; a server that keeps dying is restarted with a growing delay
(:class:`~tradewind.execute.supervision.RestartBackoff`), and :meth:`LocalExecutor.helper_problems`
reports the crash loop. While no server runs, :meth:`LocalExecutor.queue_workload` raises
:class:`ExecutorUnavailable` (the scheduler queues the try again later with its try number kept);
a hand-over that fails for any reason takes no executor slot.

What a death means for the tries it had:

* a try the server had not forked yet (each try reports its own start before the server can
  read another request's end-of-file, so at end-of-file the executor knows exactly which) is
  handed to the replacement — it never ran, so running it there is the same try;
* a try already running survives: it runs in its own session, talks to the database itself and
  records its own outcome. The executor keeps it as an *orphan* — still counting against
  ``parallelism``, listed by :meth:`~LocalExecutor.running_keys`, killable by
  :meth:`~LocalExecutor.kill` and subject to ``execution_timeout`` — and watches its pid (a
  pidfd where the kernel has them, else a psutil poll every half second, since it is no longer
  our child). Only when it has ended does it emit ``ExecutorEvent(return_code=None,
  recorded=False)``; the scheduler then fails the try only if it recorded no outcome;
* in remote mode (a Celery worker's server) a try dies with its server (``PR_SET_PDEATHSIG``),
  so its end is reported at once.

Nothing a try started survives it, however it ends — including when its process is SIGKILLed
by someone else and its children (bash in its own session, ``setsid``/``nohup`` jobs) have
been re-parented: the fork server and every try are child subreapers, so such leftovers become
the server's children and it kills them (see :mod:`~tradewind.execute.executors.forkserver`
for why parentage, not process groups or environment markers). One exception: an orphan's
leftovers. With its fork server dead, whatever an orphaned try leaves behind when it ends is
re-parented to init, not to the replacement server (a process cannot adopt another's
descendants), so only the runner's own end-of-try cleanup and this executor's group/descendant
kill apply to it.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from tradewind.execute.supervision import RestartBackoff, describe_exit
from tradewind.schedule.executor_interface import (
    BaseExecutor,
    ExecutorEvent,
    ExecutorUnavailable,
    TaskKey,
    Waker,
    Workload,
)

from tradewind.workloads import EXIT_NOT_CLAIMED, EXIT_RECORDED

log = logging.getLogger(__name__)

#: Seconds the listener waits at most between two looks at timeouts, orphans and restarts.
_TICK = 0.5
#: Seconds after the server process exited within which its socket should reach end-of-file;
#: longer means something the server forked still holds the socket, and the death is declared.
_EOF_GRACE = 1.0


@dataclass
class _Try:
    key: TaskKey
    workload: Workload
    queued_at: float
    #: Id of the "run" request that handed it to the current server (None: not sent yet).
    request_id: int | None = None
    pid: int | None = None
    started_at: float | None = None
    #: Monotonic time after which SIGKILL follows a SIGTERM already sent.
    kill_at: float | None = None
    kill_reason: str = ""
    descendants: list[psutil.Process] = field(default_factory=list)
    #: Its fork server died while it ran; watched through ``pidfd`` (or psutil) instead.
    orphan: bool = False
    pidfd: int | None = None


@dataclass
class _ServerProcess:
    """One fork server and our end of its socket."""

    popen: subprocess.Popen[bytes]
    sock: socket.socket
    buffer: bytes = b""
    #: Monotonic time at which the process was first seen exited (its socket may lag).
    exited_at: float | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid


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
        #: (``tradewind celery worker``), and its tries die with it.
        self.remote = remote
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._tries: dict[TaskKey, _Try] = {}
        self._by_id: dict[int, TaskKey] = {}
        self._by_pid: dict[int, TaskKey] = {}
        self._events: list[ExecutorEvent] = []
        self._next_id = 0
        #: The fork server now running (None: down, restart pending, or not started).
        self._server: _ServerProcess | None = None
        self._thread: threading.Thread | None = None
        self._started = False
        self._stopping = False
        self._idle = threading.Condition(self._lock)
        #: When the next fork server is due (monotonic; None: none due).
        self._restart_at: float | None = None
        what = "the Celery worker's fork server" if remote else "the local executor's fork server"
        #: Restart policy; tests may shorten its ``window``.
        self.restart_policy = RestartBackoff.from_config(config, what)
        #: Seconds the last restart waited (0 for the first in a window; grows in a crash loop).
        self.last_restart_delay: float = 0.0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Launch the fork server and the thread that listens to it (and replaces it)."""
        if self._started:
            return
        self._server = self._spawn()
        self._started = True
        self._thread = threading.Thread(target=self._listen, name="tradewind-local-executor", daemon=True)
        self._thread.start()

    def _spawn(self) -> _ServerProcess:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            env = dict(os.environ)
            env.update(self.config.as_environ())
            argv = [sys.executable, "-m", "tradewind.execute.executors.forkserver", "--fd", str(theirs.fileno())]
            popen = subprocess.Popen(
                argv + ["--remote"] if self.remote else argv,
                pass_fds=(theirs.fileno(),),
                env=env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return _ServerProcess(popen, ours)

    def end(self, *, wait: bool = True) -> None:
        """Stop. ``wait``: let running tries (orphans included) finish first; else kill them."""
        if not self._started:
            return
        thread = self._thread
        while True:
            if not wait:
                for key in list(self.running_keys()):
                    entry = self._tries.get(key)
                    if entry is not None and entry.kill_at is None:
                        self.kill(key, reason="executor shutting down")
            with self._idle:
                if not self._tries or thread is None or not thread.is_alive():
                    break
                if self._server is None and all(e.pid is None for e in self._tries.values()):
                    break  # no server now to start the tries not yet started; they are dropped
                self._idle.wait(0.2)
        with self._lock:
            self._stopping = True
            server = self._server
            unstarted = [e for e in self._tries.values() if e.pid is None]
        if server is not None:
            try:
                server.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                server.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.popen.kill()
                server.popen.wait()
        if thread is not None:
            thread.join(timeout=5)
        with self._lock:
            for entry in unstarted:
                self._forget(entry)
            self._server = None
            self._thread = None
            self._started = False
        for entry in unstarted:
            self._emit(ExecutorEvent(entry.key, None, False, "executor stopped before the try started"))
        if server is not None:
            server.sock.close()

    # ------------------------------------------------------------ scheduler side
    def queue_workload(self, workload: Workload) -> None:
        """Ask the fork server to start the try; returns at once.

        Raises :class:`ExecutorUnavailable` while no fork server runs (it died and its
        replacement is not started yet) or when the hand-over fails; the try then holds no slot.
        """
        if not self._started:
            raise RuntimeError("LocalExecutor.start() must be called before queue_workload()")
        with self._lock:
            if workload.key in self._tries:
                raise ValueError(f"try {workload.key.short()} is already running in this executor")
            server = self._server
            if server is None or self._stopping:
                raise ExecutorUnavailable(self._down_reason())
            entry = _Try(workload.key, workload, time.monotonic())
            self._tries[workload.key] = entry
            request_id = self._assign_request(entry)
        try:
            self._send(server, {"op": "run", "id": request_id, "workload": workload.to_dict()})
        except BaseException as exc:
            with self._idle:
                if entry.request_id != request_id or entry.pid is not None:
                    return  # the listener already handed it to a replacement server
                self._forget(entry)
                self._idle.notify_all()
            if isinstance(exc, OSError):
                raise ExecutorUnavailable(
                    f"the fork server (pid {server.pid}) is gone ({exc}); {workload.key.short()} was not started"
                ) from exc
            raise

    def collect_events(self) -> list[ExecutorEvent]:
        with self._lock:
            events, self._events = self._events, []
        return events

    def slots_available(self) -> int:
        with self._lock:
            return max(self.parallelism - len(self._tries), 0)

    def running_keys(self) -> set[TaskKey]:
        """Tries holding a slot: handed over, running, or orphaned by a dead fork server."""
        with self._lock:
            return set(self._tries)

    def helper_problems(self) -> list[str]:
        problem = self.restart_policy.problem()
        return [problem] if problem else []

    def alive(self) -> bool:
        """False once stopped, or while the fork server is down *and* crash-looping (a Celery
        worker stops then, see :mod:`tradewind.execute.celery_worker`); a single death whose
        replacement is on its way still counts as alive."""
        if not self._started or self._stopping:
            return False
        with self._lock:
            up = self._server is not None
        return up or not self.restart_policy.crash_looping

    def server_pid(self) -> int | None:
        """Process id of the fork server now running (None while it is down)."""
        with self._lock:
            return self._server.pid if self._server is not None else None

    def wait_until_up(self, timeout: float) -> bool:
        """Block until a fork server runs (True) or ``timeout`` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._server is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping or not self._started:
                    return False
                self._idle.wait(min(remaining, _TICK))
        return True

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

    # ------------------------------------------------------------ bookkeeping
    def _assign_request(self, entry: _Try) -> int:
        """Give ``entry`` a fresh request id for the current server (lock held)."""
        self._next_id += 1
        entry.request_id = self._next_id
        self._by_id[self._next_id] = entry.key
        return self._next_id

    def _forget(self, entry: _Try) -> None:
        """Drop every reference to ``entry`` (lock held); it no longer holds a slot."""
        if self._tries.get(entry.key) is entry:
            del self._tries[entry.key]
        if entry.request_id is not None and self._by_id.get(entry.request_id) == entry.key:
            del self._by_id[entry.request_id]
        if entry.pid is not None and self._by_pid.get(entry.pid) == entry.key:
            del self._by_pid[entry.pid]
        if entry.pidfd is not None:
            os.close(entry.pidfd)
            entry.pidfd = None

    def _down_reason(self) -> str:
        if self._stopping:
            return "the local executor is stopping"
        problem = self.restart_policy.problem()
        return problem or "the fork server is not running"

    # ------------------------------------------------------------- server side
    def _send(self, server: _ServerProcess, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode("utf-8")
        with self._send_lock:
            server.sock.sendall(data)

    def _listen(self) -> None:
        """One thread for the executor's life: read the server, watch orphans, restart servers."""
        while True:
            with self._lock:
                server = self._server
                orphans = [e for e in self._tries.values() if e.orphan]
                if server is None and (self._stopping or not self._started) and not orphans:
                    break
                restart_at = None if self._stopping else self._restart_at
            if server is None and restart_at is not None and time.monotonic() >= restart_at:
                self._restart()
                continue
            poller = select.poll()
            if server is not None:
                poller.register(server.sock, select.POLLIN)
            watched = {e.pidfd: e for e in orphans if e.pidfd is not None}
            for fd in watched:
                poller.register(fd, select.POLLIN)
            timeout = _TICK
            if server is None and restart_at is not None:
                timeout = min(timeout, max(restart_at - time.monotonic(), 0.0))
            for fd, _ in poller.poll(timeout * 1000):
                if server is not None and fd == server.sock.fileno():
                    if not self._read(server):
                        self._server_died(server)
                        server = None
                elif fd in watched:
                    self._orphan_ended(watched[fd])
            if server is not None and self._server_exited_without_eof(server):
                self._server_died(server)
            self._poll_orphans_without_pidfd(orphans)
            self._enforce_timeouts()

    def _read(self, server: _ServerProcess) -> bool:
        """Handle what the server sent; False at end-of-file (it is gone)."""
        try:
            chunk = server.sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            return False
        *lines, server.buffer = (server.buffer + chunk).split(b"\n")
        for line in lines:
            if line.strip():
                self._on_message(json.loads(line))
        return True

    def _drain(self, server: _ServerProcess) -> None:
        """Handle whatever the server's socket still holds (its tries' "started" messages)."""
        while True:
            try:
                chunk = server.sock.recv(65536, socket.MSG_DONTWAIT)
            except OSError:
                return
            if not chunk:
                return
            *lines, server.buffer = (server.buffer + chunk).split(b"\n")
            for line in lines:
                if line.strip():
                    self._on_message(json.loads(line))

    def _server_exited_without_eof(self, server: _ServerProcess) -> bool:
        """True when the server process has exited for a while but its socket stays open (a
        process it forked kept a copy): its death is declared without the end-of-file."""
        if server.popen.poll() is None:
            return False
        now = time.monotonic()
        if server.exited_at is None:
            server.exited_at = now
        return now - server.exited_at >= _EOF_GRACE

    def _server_died(self, server: _ServerProcess) -> None:
        self._drain(server)
        try:
            code = server.popen.wait(timeout=10.0 if self._stopping else _EOF_GRACE)
        except subprocess.TimeoutExpired:
            # Its socket closed, yet it runs: it cannot serve; make sure it is gone.
            server.popen.kill()
            code = server.popen.wait()
        server.sock.close()
        cause = describe_exit(code)
        lost: list[_Try] = []
        with self._idle:
            if self._server is server:
                self._server = None
            self._by_id.clear()
            self._by_pid.clear()
            stopping = self._stopping
            unstarted = 0
            for entry in list(self._tries.values()):
                if entry.orphan:
                    continue
                if entry.pid is None:
                    entry.request_id = None  # never forked: the replacement runs it
                    unstarted += 1
                elif self.remote or stopping:
                    self._forget(entry)
                    lost.append(entry)
                else:
                    entry.orphan = True
                    entry.pidfd = _pidfd_open(entry.pid)
            orphans = sum(1 for e in self._tries.values() if e.orphan)
            if not stopping:
                delay = self.restart_policy.died(f"pid {server.pid} {cause}")
                self.last_restart_delay = delay
                self._restart_at = time.monotonic() + delay
            self._idle.notify_all()
        if stopping:
            why = "executor stopped"
        elif self.remote:
            why = f"its fork server (pid {server.pid}) {cause}; the try died with it"
        else:
            why = f"its fork server (pid {server.pid}) {cause}"
        for entry in lost:
            self._emit(ExecutorEvent(entry.key, None, False, why))
        if stopping:
            return
        log.error(
            "%s (pid %d) %s; %s, %d try(s) not yet started wait for its replacement, %s",
            self.restart_policy.name, server.pid, cause,
            (f"{len(lost)} running try(s) died with it" if self.remote
             else f"{orphans} running try(s) continue and are watched until they end"),
            unstarted,
            "starting one now" if delay == 0 else f"starting one in {delay:g}s (it keeps dying)",
        )

    def _restart(self) -> None:
        """Start the next fork server and hand it the tries the dead one never started."""
        try:
            server = self._spawn()
        except Exception as exc:  # noqa: BLE001 - e.g. out of memory: try again later
            with self._lock:
                delay = self.restart_policy.died(f"could not be started: {exc}")
                self.last_restart_delay = delay
                self._restart_at = time.monotonic() + delay
            log.error("%s could not be started (%s); next attempt in %gs", self.restart_policy.name, exc, delay)
            return
        with self._idle:
            self._server = server
            self._restart_at = None
            self.restart_policy.started()
            resend = [(self._assign_request(e), e) for e in self._tries.values() if e.pid is None and not e.orphan]
            self._idle.notify_all()
        log.warning("%s replaced: new pid %d", self.restart_policy.name, server.pid)
        for request_id, entry in resend:
            try:
                self._send(server, {"op": "run", "id": request_id, "workload": entry.workload.to_dict()})
            except OSError:
                break  # this one died too; its death handler keeps them for the next
        self.waker.wake()

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

    def _orphan_ended(self, entry: _Try) -> None:
        with self._lock:
            if self._tries.get(entry.key) is not entry:
                return
            self._forget(entry)
        if entry.descendants:
            _signal_tree(None, entry.descendants, signal.SIGKILL)
        info = f"the try process (pid {entry.pid}) ended after its fork server died"
        if entry.kill_reason:
            info += f" ({entry.kill_reason})"
        self._emit(ExecutorEvent(entry.key, None, False, info))

    def _poll_orphans_without_pidfd(self, orphans: list[_Try]) -> None:
        for entry in orphans:
            if entry.pidfd is None and entry.pid is not None and _pid_gone(entry.pid):
                self._orphan_ended(entry)

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


def _pidfd_open(pid: int) -> int | None:
    """A pidfd of ``pid`` (readable once it exits), or None where unsupported or already gone
    (then :func:`_pid_gone` is polled, and says at once that it is gone)."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError:
        return None


def _pid_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


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
