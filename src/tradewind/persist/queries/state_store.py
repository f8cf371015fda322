"""State stores (Airflow 3.3's task and asset state store): JSON text per key.

* Task keys belong to one task instance (dag_id, run_id, task_id, map_index) and outlive its
  tries. Each carries ``expires_at`` (None: never expires). An expired key reads as absent;
  every write also deletes the expired keys of all instances (:func:`purge_expired_task_state`),
  so cleanup needs no separate job.
* Asset keys belong to one active asset and never expire (Airflow: ``default_retention_days``
  does not apply to them).

Values are stored as the JSON text the caller gives; these functions do not decode it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tradewind.persist.models import AssetModel, AssetStateStore, TaskStateStore

#: Longest key (the column's length).
MAX_KEY_LEN = 512


class StateStoreError(ValueError):
    """Bad input to a state store (an empty or too long key, an unknown asset); says which."""


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise StateStoreError(f"a state store key must be a non-empty string, got {key!r}")
    if len(key) > MAX_KEY_LEN:
        raise StateStoreError(f"state store key {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY_LEN}")
    return key


def _ti_filter(dag_id: str, run_id: str, task_id: str, map_index: int) -> tuple[Any, ...]:
    return (TaskStateStore.dag_id == dag_id, TaskStateStore.run_id == run_id,
            TaskStateStore.task_id == task_id, TaskStateStore.map_index == map_index)


# --------------------------------------------------------------------------- task state
def get_task_state(session: Session, ti: tuple[str, str, str, int], key: str, now: datetime) -> str | None:
    """The JSON text under ``key`` of task instance ``ti`` (dag_id, run_id, task_id, map_index);
    None when absent or expired at ``now``."""
    row = session.execute(
        select(TaskStateStore.value, TaskStateStore.expires_at).where(*_ti_filter(*ti), TaskStateStore.key == check_key(key))
    ).first()
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return row.value


def set_task_state(session: Session, ti: tuple[str, str, str, int], key: str, value: str,
                   expires_at: datetime | None, now: datetime) -> None:
    """Write (or overwrite) ``key``; ``expires_at`` None keeps it until deleted."""
    check_key(key)
    purge_expired_task_state(session, now)
    row = session.get(TaskStateStore, (*ti, key))
    if row is None:
        dag_id, run_id, task_id, map_index = ti
        session.add(TaskStateStore(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index, key=key,
                                   value=value, updated_at=now, expires_at=expires_at))
    else:
        row.value, row.updated_at, row.expires_at = value, now, expires_at
    session.flush()


def delete_task_state(session: Session, ti: tuple[str, str, str, int], key: str) -> None:
    """Delete ``key`` (nothing when absent)."""
    session.execute(delete(TaskStateStore).where(*_ti_filter(*ti), TaskStateStore.key == check_key(key)))


def clear_task_state(session: Session, ti: tuple[str, str, str, int], *, all_map_indices: bool = False) -> int:
    """Delete every key of the instance (``all_map_indices``: of every mapped instance of the
    task in the run); returns how many went."""
    where = _ti_filter(*ti)[:3] if all_map_indices else _ti_filter(*ti)
    return session.execute(delete(TaskStateStore).where(*where)).rowcount or 0


def purge_expired_task_state(session: Session, now: datetime) -> int:
    """Delete the task keys expired at ``now`` (any instance); returns how many went."""
    stmt = delete(TaskStateStore).where(TaskStateStore.expires_at.is_not(None), TaskStateStore.expires_at <= now)
    return session.execute(stmt).rowcount or 0


# --------------------------------------------------------------------------- asset state
def asset_id_of(session: Session, asset: Any) -> int:
    """The id of the active asset ``{"name", "uri"}`` (either may be missing, not both);
    :class:`StateStoreError` when there is none or the name alone is ambiguous."""
    name = asset.get("name") if isinstance(asset, dict) else None
    uri = asset.get("uri") if isinstance(asset, dict) else None
    if not (isinstance(name, str) and name) and not (isinstance(uri, str) and uri):
        raise StateStoreError(f"asset_state_store needs an asset as {{'name': ..., 'uri': ...}}, got {asset!r}")
    stmt = select(AssetModel.id).where(AssetModel.is_active.is_(True))
    if name:
        stmt = stmt.where(AssetModel.name == name)
    if uri:
        stmt = stmt.where(AssetModel.uri == uri)
    ids = session.execute(stmt.limit(2)).scalars().all()
    if not ids:
        raise StateStoreError(f"no active asset with name={name!r} uri={uri!r}: an asset's state store exists "
                              f"once a parsed DAG names the asset (schedule, inlets or outlets)")
    if len(ids) > 1:
        raise StateStoreError(f"several active assets match name={name!r} uri={uri!r}; give both name and uri")
    return ids[0]


def get_asset_state(session: Session, asset_id: int, key: str) -> str | None:
    return session.execute(
        select(AssetStateStore.value).where(AssetStateStore.asset_id == asset_id, AssetStateStore.key == check_key(key))
    ).scalar_one_or_none()


def set_asset_state(session: Session, asset_id: int, key: str, value: str, now: datetime) -> None:
    check_key(key)
    row = session.get(AssetStateStore, (asset_id, key))
    if row is None:
        session.add(AssetStateStore(asset_id=asset_id, key=key, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now
    session.flush()


def delete_asset_state(session: Session, asset_id: int, key: str) -> None:
    session.execute(delete(AssetStateStore).where(AssetStateStore.asset_id == asset_id,
                                                  AssetStateStore.key == check_key(key)))


def clear_asset_state(session: Session, asset_id: int) -> int:
    return session.execute(delete(AssetStateStore).where(AssetStateStore.asset_id == asset_id)).rowcount or 0
