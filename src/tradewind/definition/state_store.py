"""What a running task sees of the state stores (Airflow 3.3): ``context["task_state_store"]``
and ``context["asset_state_store"][asset]``.

* :class:`TaskStateStoreAccessor` — keys of the running task instance (dag_id, run_id, task_id,
  map_index), kept across its tries: ``get(key, default=None)``, ``set(key, value,
  retention=None)``, ``delete(key)``, ``clear()`` and ``aget``/``aset``/``adelete``/``aclear``.
  A key expires ``retention`` (a ``timedelta``) after it is written; without one, after ``[state_store]
  default_retention_days`` (0: never); with :data:`NEVER_EXPIRE`, never.
* :class:`AssetStateStoreAccessors` — ``asset_state_store[asset]`` is an
  :class:`AssetStateStoreAccessor` with the same methods (no retention: asset keys never expire),
  shared by every task that names the asset.

Values are JSON values; they cross the try's store (:mod:`tradewind.execute.try_store`) as JSON
text, so reads and writes go to the database (or the execution API) at once — a value written
before a failure is there for the retry.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any


class _NeverExpire:
    """The type of :data:`NEVER_EXPIRE` (one instance)."""

    _instance: "_NeverExpire | None" = None

    def __new__(cls) -> "_NeverExpire":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NEVER_EXPIRE"

    def __reduce__(self) -> str:
        return "NEVER_EXPIRE"


#: ``task_state_store.set(key, value, retention=NEVER_EXPIRE)``: keep the key until deleted.
NEVER_EXPIRE = _NeverExpire()


def _encode(where: str, key: str, value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}.set({key!r}, ...): the value must be JSON-serialisable "
                        f"({type(value).__name__}: {exc})") from None


def _decode(text: str | None, default: Any) -> Any:
    return default if text is None else json.loads(text)


def _check_key(where: str, key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"{where}: a key must be a non-empty string, got {key!r}")
    return key


def expires_at_of(retention: Any, default_retention_days: int, now: datetime) -> datetime | None:
    """When a key written at ``now`` with ``retention`` expires (None: never)."""
    if retention is NEVER_EXPIRE:
        return None
    if retention is None:
        return now + timedelta(days=default_retention_days) if default_retention_days > 0 else None
    if not isinstance(retention, timedelta):
        raise TypeError(f"task_state_store.set(retention=...) takes a datetime.timedelta or NEVER_EXPIRE, "
                        f"got {type(retention).__name__} {retention!r}")
    if retention <= timedelta(0):
        raise ValueError(f"task_state_store.set(retention=...) must be positive, got {retention!r}; "
                         f"use NEVER_EXPIRE for a key that never expires")
    return now + retention


class TaskStateStoreAccessor:
    """``context["task_state_store"]``: the running task instance's keys (see the module docstring)."""

    def __init__(self, store: Any, key: Any, default_retention_days: int = 30) -> None:
        self._store = store
        self._key = key
        self._retention_days = default_retention_days

    def __repr__(self) -> str:
        return f"<TaskStateStoreAccessor {self._key.dag_id}.{self._key.task_id} map_index={self._key.map_index}>"

    def get(self, key: str, default: Any = None) -> Any:
        return _decode(self._store.task_state_get(self._key, _check_key("task_state_store.get", key)), default)

    def set(self, key: str, value: Any, retention: Any = None) -> None:
        _check_key("task_state_store.set", key)
        expires_at = expires_at_of(retention, self._retention_days, datetime.now(timezone.utc))
        self._store.task_state_set(self._key, key, _encode("task_state_store", key, value), expires_at)

    def delete(self, key: str) -> None:
        self._store.task_state_delete(self._key, _check_key("task_state_store.delete", key))

    def clear(self) -> None:
        self._store.task_state_clear(self._key)

    # The store is synchronous; the async variants run it off the event loop.
    async def aget(self, key: str, default: Any = None) -> Any:
        return await asyncio.to_thread(self.get, key, default)

    async def aset(self, key: str, value: Any, retention: Any = None) -> None:
        await asyncio.to_thread(self.set, key, value, retention)

    async def adelete(self, key: str) -> None:
        await asyncio.to_thread(self.delete, key)

    async def aclear(self) -> None:
        await asyncio.to_thread(self.clear)


def _asset_ref(asset: Any) -> dict[str, Any]:
    """``{"name", "uri"}`` of an Asset (or a name string)."""
    if isinstance(asset, str) and asset:
        return {"name": asset}
    name, uri = getattr(asset, "name", None), getattr(asset, "uri", None)
    if isinstance(name, str) or isinstance(uri, str):
        return {"name": name, "uri": uri}
    raise TypeError(f"asset_state_store[...] takes an Asset (or an asset's name), got {type(asset).__name__} {asset!r}")


class AssetStateStoreAccessor:
    """``asset_state_store[asset]``: the keys of one asset (see the module docstring)."""

    def __init__(self, store: Any, key: Any, asset: dict[str, Any]) -> None:
        self._store = store
        self._key = key
        self._asset = asset

    def __repr__(self) -> str:
        return f"<AssetStateStoreAccessor {self._asset!r}>"

    def get(self, key: str, default: Any = None) -> Any:
        text = self._store.asset_state_get(self._key, self._asset, _check_key("asset_state_store[...].get", key))
        return _decode(text, default)

    def set(self, key: str, value: Any) -> None:
        _check_key("asset_state_store[...].set", key)
        self._store.asset_state_set(self._key, self._asset, key, _encode("asset_state_store[...]", key, value))

    def delete(self, key: str) -> None:
        self._store.asset_state_delete(self._key, self._asset, _check_key("asset_state_store[...].delete", key))

    def clear(self) -> None:
        self._store.asset_state_clear(self._key, self._asset)

    async def aget(self, key: str, default: Any = None) -> Any:
        return await asyncio.to_thread(self.get, key, default)

    async def aset(self, key: str, value: Any) -> None:
        await asyncio.to_thread(self.set, key, value)

    async def adelete(self, key: str) -> None:
        await asyncio.to_thread(self.delete, key)

    async def aclear(self) -> None:
        await asyncio.to_thread(self.clear)


class AssetStateStoreAccessors:
    """``context["asset_state_store"]``: ``[asset]`` gives that asset's accessor."""

    def __init__(self, store: Any, key: Any) -> None:
        self._store = store
        self._key = key

    def __getitem__(self, asset: Any) -> AssetStateStoreAccessor:
        return AssetStateStoreAccessor(self._store, self._key, _asset_ref(asset))

    def __repr__(self) -> str:
        return "<AssetStateStoreAccessors>"


def state_store_context(store: Any, key: Any, default_retention_days: int) -> dict[str, Any]:
    """The two context entries of a try of task instance ``key``."""
    return {
        "task_state_store": TaskStateStoreAccessor(store, key, default_retention_days),
        "asset_state_store": AssetStateStoreAccessors(store, key),
    }
