"""CeleryExecutor: tries run on ``tradewind celery worker`` processes, reached through a broker.

The scheduler sends each workload as one Celery message (:data:`~tradewind.execute.celery_app.TASK_NAME`)
to the task's ``queue`` (default ``[celery] default_queue``). What leaves the scheduler's host
holds no database credential: ``environ`` is emptied (it carries the scheduler's
``TRADEWIND__DATABASE__URL``) and ``token`` is a fresh workload token that can only claim that
one try, or report it lost, through the API server's execution endpoints.

Nothing comes back through Celery: the try records its outcome through the execution API, the
worker reports a child that died without recording, and a worker that vanished is noticed by
the scheduler's heartbeat check. So this executor emits no events and reports no running keys.

Misconfiguration fails before the scheduler starts anything: the constructor refuses SQLite
(workers on other hosts cannot share a SQLite file, and the execution API plus several
schedulers need a server database) and a broker it cannot reach within
``[celery] operation_timeout``. Later, a send that fails within that bound raises
:class:`~tradewind.schedule.executor_interface.ExecutorUnavailable`, so the scheduler keeps the
instance for later instead of blocking its loop on a dead broker.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from tradewind.execute import celery_app
from tradewind.schedule.executor_interface import (
    BaseExecutor,
    ExecutorEvent,
    ExecutorUnavailable,
    Waker,
    Workload,
)

log = logging.getLogger(__name__)


class CeleryExecutor(BaseExecutor):
    """Sends workloads to Celery workers; see the module docstring."""

    name = "celery"

    def __init__(self, parallelism: int, waker: Waker | None = None, *, config: Any) -> None:
        super().__init__(parallelism, waker)
        self.config = config
        db_url = config.database_url
        if db_url.startswith("sqlite"):
            raise ValueError(
                f"[core] executor = celery cannot use SQLite ([database] url = {db_url}): workers on "
                "other hosts reach the metadata database through the API server, which with the "
                "scheduler needs a server database; set [database] url to PostgreSQL or MySQL"
            )
        self.app = celery_app.make_celery_app(config)
        self.default_queue = celery_app.default_queue(config)
        self.timeout = celery_app.operation_timeout(config)
        try:
            celery_app.ping_broker(self.app, config)
        except celery_app.CeleryUnavailable as exc:
            raise ValueError(str(exc)) from None
        from tradewind.execute.tokens import load_secret_key

        # Read once: every workload is signed with it, and the scheduler loop must not read a file per try.
        self._secret = load_secret_key(config)

    def start(self) -> None:
        """Nothing to start: the broker was checked at construction, and sending connects lazily."""

    def queue_workload(self, workload: Workload) -> None:
        """Send the workload to its queue, retrying briefly; raise ExecutorUnavailable on failure."""
        from tradewind.execute.tokens import issue_workload_token

        token = issue_workload_token(self.config, workload.key, secret=self._secret)
        remote = dataclasses.replace(workload, environ={}, token=token)
        # "default" is the queue of every task that names none (BaseOperator's default, as Airflow).
        queue = self.default_queue if workload.queue in (None, "", "default") else workload.queue
        try:
            self.app.send_task(
                celery_app.TASK_NAME,
                args=[remote.to_dict()],
                queue=queue,
                retry=True,
                # One retry; each attempt's socket operations are bounded by half of
                # [celery] operation_timeout (see make_celery_app), so a send ends within it.
                retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0},
            )
        except Exception as exc:  # noqa: BLE001 - any broker error means "not sent"
            raise ExecutorUnavailable(
                f"could not send {workload.key.short()} to queue {queue!r} of the broker "
                f"{celery_app.redact_url(celery_app.broker_url(self.config))}: {exc}"
            ) from exc

    def collect_events(self) -> list[ExecutorEvent]:
        return []

    def slots_available(self) -> int:
        """The workers' concurrency bounds what runs; the scheduler's parallelism bounds what is queued."""
        return self.parallelism

    def end(self, *, wait: bool = True) -> None:
        """Close the broker connections (tries on workers are not the scheduler's to stop)."""
        self.app.close()
