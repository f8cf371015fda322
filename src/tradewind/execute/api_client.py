""":class:`ApiTryStore`: the :class:`~tradewind.execute.try_store.TryStore` of a remote try,
over HTTP to the API server's execution endpoints (``/execution/v1``,
:mod:`tradewind.observe.api.routes.execution`).

It starts with the workload token (claim only); the claim answers with a try token, and every
heartbeat answer carries a refreshed one (header ``Refreshed-API-Token``), so the token in use
is always short-lived. Answers map onto the protocol's errors:

* 403 -> :class:`~tradewind.execute.try_store.TryStoreRefused` (not this try's business);
* 409 -> ``heartbeat`` returns False (the try no longer runs); elsewhere ``TryStoreRefused``;
* 401 -> :class:`ExecutionApiError` saying the token is invalid or expired.

Connection errors and 502/503/504 are retried with backoff for up to ``retry_for`` seconds
(default 60), so restarting the API server does not kill the tries in flight. ``httpx`` is
imported lazily: the core install has no httpx (the ``celery`` extra brings it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tradewind.execute.try_store import (
    DeferRequest,
    FinishRequest,
    TriggeredRun,
    TriggerRunRequest,
    TryStoreRefused,
)
from tradewind.workloads import TaskKey
from tradewind.states import TaskInstanceState

if TYPE_CHECKING:
    from tradewind.definition.connection import Connection
    from tradewind.execute.prepare import ClaimedTry

log = logging.getLogger(__name__)

REFRESHED_TOKEN_HEADER = "Refreshed-API-Token"
API_PREFIX = "v1"
_RETRY_STATUSES = frozenset({502, 503, 504})
#: What :meth:`ApiTryStore._call` returns for a 409 the caller expects (``conflict_ok``).
_CONFLICT = object()


class ExecutionApiError(RuntimeError):
    """The execution API answered with an error that is not a refusal (bad token, bad request,
    server error); the message carries the server's ``detail``."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _iso_list(values: Iterable[datetime] | None) -> list[str] | None:
    return [v.isoformat() for v in values] if values is not None else None


def _list(values: Iterable[str] | None) -> list[str] | None:
    return list(values) if values is not None else None


_SSL_CONTEXT: Any = None


def shared_ssl_context() -> Any:
    """One TLS context per process (certifi's bundle, as httpx uses by default). Building it
    costs ~20 ms, so a remote fork server builds it once and every try forked from it reuses
    it, instead of each try's client loading the bundle again (even for an http:// URL)."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        import ssl

        import certifi

        _SSL_CONTEXT = ssl.create_default_context(cafile=certifi.where())
    return _SSL_CONTEXT


class ApiTryStore:
    """A :class:`TryStore` for one try, talking to ``base_url`` (``[core]
    execution_api_server_url``, e.g. ``http://api:8080/execution/``) with ``token``."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, retry_for: float = 60.0) -> None:
        import httpx

        if not token:
            raise ValueError("ApiTryStore needs the workload's token (Workload.token is empty: was the try "
                             "queued by a remote executor?)")
        self.base_url = base_url.rstrip("/") + "/" + API_PREFIX
        self.token = token
        self.retry_for = retry_for
        self._client = httpx.Client(timeout=timeout, verify=shared_ssl_context())
        self._httpx = httpx

    def close(self) -> None:
        self._client.close()

    # ----------------------------------------------------------------- HTTP
    def _call(self, method: str, path: str, *, json: Any = None, conflict_ok: bool = False) -> Any:
        """One request with retries of connection problems; returns the decoded JSON (None for
        an empty answer; :data:`_CONFLICT` for a 409 when ``conflict_ok``)."""
        url = self.base_url + path
        deadline = time.monotonic() + self.retry_for
        delay = 0.2
        while True:
            failure: str
            try:
                response = self._client.request(method, url, json=json,
                                                headers={"Authorization": f"Bearer {self.token}"})
            except (self._httpx.ConnectError, self._httpx.ConnectTimeout, self._httpx.RemoteProtocolError) as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code not in _RETRY_STATUSES:
                    return self._answer(response, method, path, conflict_ok)
                failure = f"HTTP {response.status_code}"
            if time.monotonic() + delay > deadline:
                raise ExecutionApiError(f"the execution API at {self.base_url} is unreachable for {self.retry_for:.0f}"
                                        f" s ({method} {path}: {failure}); check [core] execution_api_server_url")
            log.warning("execution API %s %s failed (%s); retrying in %.1f s", method, path, failure, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _answer(self, response: Any, method: str, path: str, conflict_ok: bool) -> Any:
        fresh = response.headers.get(REFRESHED_TOKEN_HEADER)
        if fresh:
            self.token = fresh
        status = response.status_code
        if status < 300:
            return response.json() if response.content else None
        detail = _detail(response)
        if status == 409 and conflict_ok:
            return _CONFLICT
        if status in (403, 409):
            raise TryStoreRefused(detail)
        if status == 401:
            raise ExecutionApiError(f"the execution API refused this try's token ({detail}); the workload token "
                                    f"may have expired or the API server uses another secret key", status)
        if status == 422 and path == "/runs/trigger":
            _raise_trigger_error(response, detail)
        raise ExecutionApiError(f"execution API {method} {path} failed with HTTP {status}: {detail}", status)

    # ----------------------------------------------------------------- the try itself
    def claim(self, key: TaskKey, *, hostname: str, pid: int) -> "ClaimedTry | None":
        from tradewind.execute.prepare import ClaimedTry

        data = self._call("POST", "/try/claim", json={"key": asdict(key), "hostname": hostname, "pid": pid})
        if not data or data.get("claimed") is None:
            return None
        self.token = data["token"]
        return ClaimedTry.from_dict(data["claimed"])

    def heartbeat(self, key: TaskKey) -> bool:
        return self._call("POST", "/try/heartbeat", json={"key": asdict(key)}, conflict_ok=True) is not _CONFLICT

    def finish(self, key: TaskKey, request: FinishRequest) -> TaskInstanceState:
        data = self._call("POST", "/try/finish", json={"key": asdict(key), "request": request.to_dict()})
        return TaskInstanceState(data["state"])

    def defer(self, key: TaskKey, request: DeferRequest) -> TaskInstanceState:
        data = self._call("POST", "/try/defer", json={"key": asdict(key), "request": request.to_dict()})
        return TaskInstanceState(data["state"])

    def skip_tasks(self, key: TaskKey, task_ids: Iterable[str]) -> list[str]:
        data = self._call("POST", "/try/skip", json={"key": asdict(key), "task_ids": list(task_ids)})
        return list(data["skipped"])

    def reschedule_summary(self, key: TaskKey) -> tuple[datetime | None, int]:
        data = self._call("POST", "/try/reschedule-summary", json={"key": asdict(key)})
        first = data.get("first_start")
        return (datetime.fromisoformat(first) if first else None, int(data["count"]))

    def report_lost(self, key: TaskKey, reason: str) -> bool:
        """Tell the server the try's process died without recording; True when that failed it."""
        data = self._call("POST", "/try/lost", json={"key": asdict(key), "reason": reason})
        return bool(data.get("failed"))

    def ship_log(self, key: TaskKey, offset: int, data: str) -> int:
        """Send a piece of the log file starting at byte ``offset``; returns the bytes the server holds."""
        answer = self._call("POST", "/try/logs", json={"key": asdict(key), "offset": offset, "data": data})
        return int(answer["size"])

    # ----------------------------------------------------------------- XCom
    def xcom_values(self, key: TaskKey, dag_id: str, run_id: str, task_ids: list[str], xcom_key: str, *,
                    include_prior_dates: bool = False) -> dict[str, dict[int, Any]]:
        data = self._call("POST", "/xcom/values", json={
            "key": asdict(key), "dag_id": dag_id, "run_id": run_id, "task_ids": list(task_ids),
            "xcom_key": xcom_key, "include_prior_dates": include_prior_dates})
        return {task_id: {int(mi): value for mi, value in by_index.items()}
                for task_id, by_index in data["values"].items()}

    # ----------------------------------------------------------------- other runs (sensors)
    def ti_count(self, dag_id: str, *, map_index: int | None = None, task_ids: Iterable[str] | None = None,
                 task_group_id: str | None = None, logical_dates: Iterable[datetime] | None = None,
                 run_ids: Iterable[str] | None = None, states: Iterable[str] | None = None) -> int:
        data = self._call("POST", "/runs/ti-count", json={
            "dag_id": dag_id, "map_index": map_index, "task_ids": _list(task_ids), "task_group_id": task_group_id,
            "logical_dates": _iso_list(logical_dates), "run_ids": _list(run_ids), "states": _list(states)})
        return int(data["count"])

    def task_states(self, dag_id: str, *, map_index: int | None = None, task_ids: Iterable[str] | None = None,
                    task_group_id: str | None = None, logical_dates: Iterable[datetime] | None = None,
                    run_ids: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
        data = self._call("POST", "/runs/task-states", json={
            "dag_id": dag_id, "map_index": map_index, "task_ids": _list(task_ids), "task_group_id": task_group_id,
            "logical_dates": _iso_list(logical_dates), "run_ids": _list(run_ids)})
        return data["states"]

    def dr_count(self, dag_id: str, *, logical_dates: Iterable[datetime] | None = None,
                 run_ids: Iterable[str] | None = None, states: Iterable[str] | None = None) -> int:
        data = self._call("POST", "/runs/dr-count", json={
            "dag_id": dag_id, "logical_dates": _iso_list(logical_dates), "run_ids": _list(run_ids),
            "states": _list(states)})
        return int(data["count"])

    def dagrun_state(self, dag_id: str, run_id: str) -> str | None:
        return self._call("POST", "/runs/state", json={"dag_id": dag_id, "run_id": run_id})["state"]

    def dag_task_ids(self, dag_id: str) -> set[str] | None:
        found = self._call("POST", "/dags/task-ids", json={"dag_id": dag_id})["task_ids"]
        return set(found) if found is not None else None

    def asset_events(self, asset: dict[str, Any]) -> list[dict[str, Any]]:
        # As the server's store gives them: JSON types, the timestamp an ISO 8601 string.
        return self._call("POST", "/assets/events", json={"asset": asset})["events"]

    def trigger_dag_run(self, key: TaskKey, request: TriggerRunRequest) -> TriggeredRun:
        data = self._call("POST", "/runs/trigger", json={"key": asdict(key), "request": request.to_dict()})
        run = dict(data["triggered"])
        run["logical_date"] = datetime.fromisoformat(run["logical_date"]) if run.get("logical_date") else None
        return TriggeredRun(**run)

    # ----------------------------------------------------------------- Variables, Connections
    def variable_get(self, key: TaskKey, name: str) -> str | None:
        return self._call("GET", f"/variables/{_quote(name)}")["value"]

    def variable_set(self, key: TaskKey, name: str, value: str, description: str | None) -> None:
        self._call("PUT", f"/variables/{_quote(name)}",
                   json={"key": asdict(key), "value": value, "description": description})

    def variable_delete(self, key: TaskKey, name: str) -> bool:
        return bool(self._call("DELETE", f"/variables/{_quote(name)}")["deleted"])

    def connection_get(self, key: TaskKey, conn_id: str) -> "Connection | None":
        from tradewind.definition.connection import Connection

        data = self._call("GET", f"/connections/{_quote(conn_id)}")["connection"]
        if data is None:
            return None
        extra = data.get("extra")
        fields = {k: v for k, v in data.items() if k not in ("conn_id", "extra")}
        return Connection(conn_id=data.get("conn_id") or conn_id, extra=extra, **fields)

    # ----------------------------------------------------------------- state stores (Airflow 3.3)
    # Task keys: the token's own task instance (the server takes it from the token).
    def task_state_get(self, key: TaskKey, state_key: str) -> str | None:
        return self._call("GET", f"/state/task/{_quote(state_key)}")["value"]

    def task_state_set(self, key: TaskKey, state_key: str, value: str, expires_at: datetime | None) -> None:
        self._call("PUT", f"/state/task/{_quote(state_key)}",
                   json={"key": asdict(key), "value": value,
                         "expires_at": expires_at.isoformat() if expires_at is not None else None})

    def task_state_delete(self, key: TaskKey, state_key: str) -> None:
        self._call("DELETE", f"/state/task/{_quote(state_key)}")

    def task_state_clear(self, key: TaskKey) -> None:
        self._call("DELETE", "/state/task")

    def asset_state_get(self, key: TaskKey, asset: dict[str, Any], state_key: str) -> str | None:
        return self._call("POST", "/state/asset/get", json={"asset": asset, "state_key": state_key})["value"]

    def asset_state_set(self, key: TaskKey, asset: dict[str, Any], state_key: str, value: str) -> None:
        self._call("POST", "/state/asset/set",
                   json={"key": asdict(key), "asset": asset, "state_key": state_key, "value": value})

    def asset_state_delete(self, key: TaskKey, asset: dict[str, Any], state_key: str) -> None:
        self._call("POST", "/state/asset/delete", json={"key": asdict(key), "asset": asset, "state_key": state_key})

    def asset_state_clear(self, key: TaskKey, asset: dict[str, Any]) -> None:
        self._call("POST", "/state/asset/clear", json={"key": asdict(key), "asset": asset})


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _detail(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict) and body.get("detail") is not None:
        return str(body["detail"])
    return str(body)[:500]


def _raise_trigger_error(response: Any, detail: str) -> None:
    """Raise again the ``TriggerDagRunOperator`` error the server met (its class is the title)."""
    from tradewind.definition import exceptions

    try:
        title = response.json().get("title")
    except ValueError:
        title = None
    if title in ("DagRunAlreadyExists", "TaskSkipped", "TradewindException"):
        raise getattr(exceptions, title)(detail)
