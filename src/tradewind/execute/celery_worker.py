"""``tradewind celery worker``: takes workloads from the broker and runs each try on this host.

A Celery worker with the *threads* pool: each Celery task occupies one thread only to hand its
workload to a warm fork server in remote mode (a
:class:`~tradewind.execute.executors.local.LocalExecutor` with ``remote=True``) and wait for the
try process to end. The try itself runs in a forked child that talks to the API server's
execution endpoints with the workload's token
(:func:`~tradewind.execute.remote.run_remote_try`), so this process opens no database and
needs no database credentials.

What this process adds around the try:

* the try's ``hostname`` is the worker's ``--hostname`` (passed to the fork server as
  ``[core] hostname``), so the UI shows which worker ran it;
* a try process that ended without recording an outcome (a crash, the OOM killer, kill -9 of
  the child) is reported with :func:`~tradewind.execute.remote.report_lost`, which fails it
  through its retry policy at once instead of after the heartbeat timeout;
* a heartbeat thread keeps this worker's entry in the Redis registry
  (:mod:`tradewind.execute.celery_app`): hostname, queues, concurrency, pid, start time and
  the tries running now — what ``celery status`` and ``jobs check --job-type worker`` read.

If this process is killed (kill -9, host gone) its fork server sees the socket close and
SIGKILLs the tries, and the tries' own ``PR_SET_PDEATHSIG`` covers a killed fork server; the
tries stop heartbeating and the scheduler retries them elsewhere. A graceful stop (SIGTERM,
Ctrl-C: Celery's warm shutdown) takes no new messages and lets running tries finish.

The fork server is supervised by its executor: a dead one is replaced within moments (its
running tries died with it and are reported lost at once, as above). A message that arrives
while the server is down waits for the replacement (up to :attr:`CeleryWorker.server_wait`
seconds) instead of failing. Only a server that is *crash-looping* (it keeps dying; see
:class:`~tradewind.execute.supervision.RestartBackoff`) and is down stops the worker (Celery's
warm shutdown), so that its supervisor (systemd, Kubernetes) restarts it and it takes no
messages it cannot run meanwhile; the registry entry carries the problem while it lasts.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tradewind.execute import celery_app
from tradewind.execute.executors.local import LocalExecutor
from tradewind.schedule.executor_interface import (
    EXIT_NOT_CLAIMED,
    ExecutorEvent,
    ExecutorUnavailable,
    TaskKey,
    Waker,
    Workload,
)

log = logging.getLogger(__name__)


@dataclass
class _Waiting:
    done: threading.Event = field(default_factory=threading.Event)
    event: ExecutorEvent | None = None


class CeleryWorker:
    """One ``tradewind celery worker`` process; :meth:`run` blocks until Celery shuts down."""

    #: Seconds a message waits for a fork server being replaced before its try is reported lost.
    server_wait: float = 30.0

    def __init__(self, config: Any, *, hostname: str, queues: list[str], concurrency: int) -> None:
        from tradewind.config import Config

        if concurrency < 1:
            raise ValueError(f"--concurrency must be >= 1, got {concurrency}")
        if not queues:
            raise ValueError("--queues names no queue")
        self.hostname = hostname
        self.queues = queues
        self.concurrency = concurrency
        # The try processes record this host name on their task instances.
        self.config = Config.load(home=config.home, overrides={"core": {"hostname": hostname}})
        self.heartbeat_interval = max(self.config.getfloat("celery", "worker_heartbeat_interval"), 0.1)
        self.app = celery_app.make_celery_app(self.config)
        self.app.task(name=celery_app.TASK_NAME, ignore_result=True)(self.execute_workload)
        self.waker = Waker()
        self.executor = LocalExecutor(concurrency, self.waker, config=self.config, remote=True)
        self.started = datetime.now(timezone.utc)
        self._lock = threading.Lock()
        self._waiting: dict[TaskKey, _Waiting] = {}
        self._stop = threading.Event()
        self._closing = threading.Event()
        self._redis: Any = None
        #: Why the worker stopped on its own (its fork server crash-loops); None after a normal stop.
        self.failure: str | None = None

    # ----------------------------------------------------------------- lifecycle
    def check(self) -> None:
        """Raise :class:`~tradewind.execute.celery_app.CeleryUnavailable` unless the broker answers."""
        celery_app.ping_broker(self.app, self.config)
        self._redis = celery_app.redis_client(self.config)
        self._redis.ping()

    def run(self) -> None:
        """Start the fork server, the event and heartbeat threads, then Celery (blocks)."""
        if self._redis is None:
            self.check()
        self.executor.start()
        threads = [
            threading.Thread(target=self._dispatch_events, name="tradewind-worker-events", daemon=True),
            threading.Thread(target=self._heartbeat_loop, name="tradewind-worker-heartbeat", daemon=True),
        ]
        for thread in threads:
            thread.start()
        try:
            worker = self.app.Worker(
                hostname=self.hostname,
                queues=self.queues,
                concurrency=self.concurrency,
                pool_cls="threads",
                without_gossip=True,
                without_mingle=True,
                optimization="fair",
                loglevel="INFO",
            )
            worker.start()
        finally:
            # Celery's warm shutdown has waited for its task threads, so no try is running.
            self._closing.set()  # the executor stops now: not a fork server failure
            self.executor.end(wait=True)
            self._stop.set()
            self.waker.wake()
            for thread in threads:
                thread.join(timeout=5)
            try:
                celery_app.remove_worker(self._redis, self.hostname)
            except Exception:  # noqa: BLE001 - the entry expires by itself
                log.warning("could not remove worker %s from the registry", self.hostname)

    # --------------------------------------------------------------- the task body
    def execute_workload(self, workload_dict: dict[str, Any]) -> None:
        """Run one try in a forked child and wait for it; report it lost if it recorded nothing."""
        workload = Workload.from_dict(workload_dict)
        waiting = _Waiting()
        with self._lock:
            if workload.key in self._waiting:
                log.warning("%s is already running on this worker; ignoring a duplicate message",
                            workload.key.short())
                return
            self._waiting[workload.key] = waiting
        try:
            log.info("running %s", workload.key.short())
            unavailable = self._hand_over(workload)
            if unavailable is None:
                waiting.done.wait()
        finally:
            with self._lock:
                self._waiting.pop(workload.key, None)
        if unavailable is not None:
            event = ExecutorEvent(workload.key, None, False, f"not started: {unavailable}")
        else:
            event = waiting.event
        assert event is not None
        log.info("%s ended: %s", workload.key.short(), event.info)
        if event.recorded or event.return_code == EXIT_NOT_CLAIMED:
            return
        from tradewind.execute.remote import report_lost

        try:
            report_lost(workload, config=self.config, reason=f"the try process on worker {self.hostname} "
                                                                f"ended without recording an outcome: {event.info}")
        except Exception:  # noqa: BLE001 - the scheduler's heartbeat check remains the backstop
            log.exception("could not report %s lost", workload.key.short())

    def _hand_over(self, workload: Workload) -> ExecutorUnavailable | None:
        """Give the workload to the fork server, waiting for a replacement if it is down;
        the error if none came up within :attr:`server_wait` seconds."""
        deadline = time.monotonic() + self.server_wait
        while True:
            try:
                self.executor.queue_workload(workload)
                return None
            except ExecutorUnavailable as exc:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.executor.wait_until_up(remaining):
                    log.error("%s: no fork server within %gs: %s", workload.key.short(), self.server_wait, exc)
                    return exc

    def _dispatch_events(self) -> None:
        """Hand each try's end to the Celery thread waiting for it."""
        while not self._stop.is_set():
            self.waker.wait(1.0)
            for event in self.executor.collect_events():
                with self._lock:
                    waiting = self._waiting.get(event.key)
                if waiting is not None:
                    waiting.event = event
                    waiting.done.set()

    # ----------------------------------------------------------------- registry
    def info(self) -> dict[str, Any]:
        """This worker's registry entry."""
        running = sorted(self.executor.running_keys())
        return {
            "hostname": self.hostname,
            "queues": self.queues,
            "concurrency": self.concurrency,
            "pid": os.getpid(),
            "started": self.started.isoformat(),
            "heartbeat": datetime.now(timezone.utc).isoformat(),
            "problems": self.executor.helper_problems(),
            "running": [
                {"dag_id": k.dag_id, "run_id": k.run_id, "task_id": k.task_id, "map_index": k.map_index,
                 "try_number": k.try_number}
                for k in running
            ],
        }

    def _heartbeat_loop(self) -> None:
        """Refresh the registry entry every ``[celery] worker_heartbeat_interval`` (TTL: three).

        A worker whose fork server is down and crash-looping could take messages but run
        nothing, so instead of beating it stops (Celery's warm shutdown) and lets its supervisor
        restart it. A server that died once is being replaced: the worker keeps going.
        """
        while not self._stop.is_set():
            started = time.monotonic()
            if not self.executor.alive() and not self._closing.is_set():
                problems = "; ".join(self.executor.helper_problems()) or "it is not running"
                self.failure = f"the worker's fork server cannot be kept running ({problems}); stopping"
                log.error(self.failure)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            try:
                celery_app.publish_worker(self._redis, self.info(), ttl=3 * self.heartbeat_interval)
            except Exception as exc:  # noqa: BLE001 - Redis down: keep running tries, retry next beat
                log.warning("worker heartbeat to the broker failed: %s", exc)
            self._stop.wait(max(self.heartbeat_interval - (time.monotonic() - started), 0.0))
