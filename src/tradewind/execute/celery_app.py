"""The Celery application shared by the scheduler (which sends) and ``tradewind celery worker``
(which runs), built from ``[celery]`` settings; plus the worker registry kept in Redis.

One Celery task exists, :data:`TASK_NAME`, whose only argument is a
:class:`~tradewind.schedule.executor_interface.Workload` as a dict. The scheduler sends it by
name (it never imports the worker's task body); the worker registers the body
(:mod:`tradewind.execute.celery_worker`). No result backend: a try's outcome travels through
the execution API into the database, never through Celery.

Settings chosen for tries, not for short Celery jobs:

* ``task_acks_late=False`` — the message is acknowledged when a worker takes it. A try must not
  run twice because a worker died after starting it; a lost try is the scheduler's business
  (heartbeat timeout, then retry per the task's policy).
* ``worker_prefetch_multiplier=1`` — a busy worker does not hoard messages another could run.
* JSON only — a workload is plain data, and nothing is unpickled from the broker.

Workers register themselves in Redis (``tradewind:worker:<hostname>``, a JSON value with a TTL
of three heartbeat intervals), so ``celery status`` and ``jobs check --job-type worker`` see the
live ones without a database and without broadcasting to the workers.

Celery is optional (``pip install 'tradewind[celery]'``); it is imported only here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: The one Celery task: run one try (argument: ``Workload.to_dict()``).
TASK_NAME = "tradewind.execute_workload"
#: Redis key prefix of the worker registry.
WORKER_KEY_PREFIX = "tradewind:worker:"


class CeleryUnavailable(RuntimeError):
    """Celery is not installed, or the broker cannot be reached; the message says which setting."""


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def broker_url(config: Any) -> str:
    return config.get("celery", "broker_url").strip()


def operation_timeout(config: Any) -> float:
    return max(config.getfloat("celery", "operation_timeout"), 0.1)


def default_queue(config: Any) -> str:
    return config.get("celery", "default_queue").strip() or "default"


def make_celery_app(config: Any) -> Any:
    """A Celery app for ``[celery] broker_url`` (not connected until used)."""
    try:
        from celery import Celery
    except ImportError as exc:
        raise CeleryUnavailable(
            "[core] executor = celery needs Celery: pip install 'tradewind[celery]'"
        ) from exc
    timeout = operation_timeout(config)
    app = Celery("tradewind", broker=broker_url(config), set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        task_default_queue=default_queue(config),
        broker_connection_timeout=timeout,
        broker_connection_retry_on_startup=True,
        # Bound every socket operation, so a dead broker makes a send (one retry) fail within
        # operation_timeout instead of hanging the scheduler.
        broker_transport_options={"socket_timeout": timeout / 2, "socket_connect_timeout": timeout / 2},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    return app


def ping_broker(app: Any, config: Any) -> None:
    """Connect to the broker within ``[celery] operation_timeout``, or raise :class:`CeleryUnavailable`."""
    timeout = operation_timeout(config)
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, interval_max=0.5,
                                   timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - kombu raises many kinds; all mean "unreachable"
        raise CeleryUnavailable(
            f"cannot reach the Celery broker [celery] broker_url = {redact_url(broker_url(config))} "
            f"within {timeout:g}s ([celery] operation_timeout): {exc}"
        ) from None


# --------------------------------------------------------------------------- worker registry
def redis_client(config: Any) -> Any:
    """A redis-py client for the broker (the registry lives next to the queues)."""
    url = broker_url(config)
    if urlsplit(url).scheme not in ("redis", "rediss"):
        raise CeleryUnavailable(
            f"[celery] broker_url = {redact_url(url)} is not a Redis URL (redis:// or rediss://); "
            "the worker registry (celery status, jobs check) needs Redis"
        )
    import redis

    timeout = operation_timeout(config)
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def worker_key(hostname: str) -> str:
    return f"{WORKER_KEY_PREFIX}{hostname}"


def publish_worker(client: Any, info: dict[str, Any], ttl: float) -> None:
    """Record (or refresh) one worker's entry; it disappears ``ttl`` seconds after the last refresh."""
    client.set(worker_key(info["hostname"]), json.dumps(info), px=max(int(ttl * 1000), 1))


def remove_worker(client: Any, hostname: str) -> None:
    client.delete(worker_key(hostname))


def live_workers(client: Any) -> list[dict[str, Any]]:
    """Every registered worker whose entry has not expired, by hostname."""
    out = []
    for key in _scan(client):
        raw = client.get(key)
        if raw is None:
            continue  # expired between the scan and the read
        try:
            out.append(json.loads(raw))
        except ValueError:
            continue
    return sorted(out, key=lambda info: str(info.get("hostname")))


def _scan(client: Any) -> Iterator[bytes]:
    yield from client.scan_iter(match=f"{WORKER_KEY_PREFIX}*", count=500)
