"""The preparation steps of a try on the worker side, kept apart from :mod:`tradewind.execute.runner`'s flow.

* :class:`ClaimedTry` / :class:`RunInfo` — what a claim answers (the store's ``claim``), with
  their JSON form for the execution API's wire.
* :func:`load_task` — import the DAG file in this process (or reuse it, see
  :func:`load_dag_file`) and find the task; every try gets its own copy of the operator.
* :func:`build_try_context` — the Airflow template context for the try.

This module runs wherever the try runs, so it imports no database code (the layer test checks
it): the claim itself — the SQL, the snapshot cache, the run reads — is the server side of the
try store, in :mod:`tradewind.execute.db_store`.
"""

from __future__ import annotations

import copy
import os
import sys
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tradewind.execute.runtime import RuntimeTaskInstance
from tradewind.execute.try_store import TryStore
from tradewind.workloads import TaskKey, Workload


class TaskNotFound(LookupError):
    """The DAG file no longer defines the DAG or the task of the try."""


@dataclass(frozen=True)
class RunInfo:
    """The DAG run fields the context needs (detached from the session); ``context["dag_run"]``."""

    dag_id: str
    run_id: str
    run_type: str
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime | None
    start_date: datetime | None
    conf: dict[str, Any]
    external_trigger: bool
    dag_version_id: int | None = None
    state: str = "running"
    end_date: datetime | None = None

    @classmethod
    def of(cls, run: Any) -> "RunInfo":
        """From a DagRun, or a row with the same column names."""
        return cls(
            dag_id=run.dag_id, run_id=run.run_id, run_type=run.run_type, logical_date=run.logical_date,
            data_interval_start=run.data_interval_start, data_interval_end=run.data_interval_end,
            run_after=run.run_after, start_date=run.start_date, conf=dict(run.conf or {}),
            external_trigger=bool(run.external_trigger), dag_version_id=run.dag_version_id,
            state=run.state, end_date=run.end_date,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (datetimes as ISO 8601), for the execution API's wire."""
        return {name: _iso_or_value(getattr(self, name)) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunInfo":
        values = dict(data)
        for name in _RUN_DATES:
            values[name] = _parse_dt(values.get(name))
        return cls(**values)


_RUN_DATES = ("logical_date", "data_interval_start", "data_interval_end", "run_after", "start_date", "end_date")


def _iso_or_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _parse_dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass(frozen=True)
class ClaimedTry:
    key: TaskKey
    max_tries: int
    start_date: datetime | None
    operator: str | None
    run: RunInfo
    #: The previous successful run of the DAG (by logical date), for ``prev_*_success``.
    prev_success: RunInfo | None
    #: The DAG version the instance runs (and its snapshot hash, when known).
    version_id: int | None = None
    snapshot_hash: str | None = None
    #: Set when the try resumes after a deferral: the method to call instead of ``execute``
    #: and its kwargs (storage form, with the trigger's ``event``); see ``resume_execution``.
    next_method: str | None = None
    next_kwargs: dict[str, Any] | None = None
    #: The asset events that triggered the run (asset-triggered runs only; read with the run).
    triggering_asset_events: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the execution API's wire (:meth:`from_dict` reverses it)."""
        from dataclasses import asdict

        return {
            "key": asdict(self.key), "max_tries": self.max_tries, "start_date": _iso_or_value(self.start_date),
            "operator": self.operator, "run": self.run.to_dict(),
            "prev_success": self.prev_success.to_dict() if self.prev_success is not None else None,
            "version_id": self.version_id, "snapshot_hash": self.snapshot_hash,
            "next_method": self.next_method, "next_kwargs": self.next_kwargs,
            "triggering_asset_events": [_asset_event_dict(e) for e in self.triggering_asset_events],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClaimedTry":
        prev = data.get("prev_success")
        return cls(
            key=TaskKey(**data["key"]), max_tries=data["max_tries"], start_date=_parse_dt(data.get("start_date")),
            operator=data.get("operator"), run=RunInfo.from_dict(data["run"]),
            prev_success=RunInfo.from_dict(prev) if prev is not None else None,
            version_id=data.get("version_id"), snapshot_hash=data.get("snapshot_hash"),
            next_method=data.get("next_method"), next_kwargs=data.get("next_kwargs"),
            triggering_asset_events=tuple(_asset_event_of(e) for e in data.get("triggering_asset_events") or ()),
        )


def _asset_event_dict(event: Any) -> dict[str, Any]:
    """A definition-layer ``AssetEvent`` as JSON."""
    return {"id": event.id, "asset": event.asset.to_dict(), "extra": dict(event.extra),
            "timestamp": _iso_or_value(event.timestamp), "source_dag_id": event.source_dag_id,
            "source_task_id": event.source_task_id, "source_run_id": event.source_run_id,
            "source_map_index": event.source_map_index,
            "source_aliases": [alias.to_dict() for alias in getattr(event, "source_aliases", ())]}


def _asset_event_of(data: dict[str, Any]) -> Any:
    from tradewind.definition.assets import Asset, AssetAlias, AssetEvent

    return AssetEvent(id=data["id"], asset=Asset.from_dict(data["asset"]), extra=dict(data.get("extra") or {}),
                      timestamp=_parse_dt(data.get("timestamp")), source_dag_id=data.get("source_dag_id"),
                      source_task_id=data.get("source_task_id"), source_run_id=data.get("source_run_id"),
                      source_map_index=data.get("source_map_index"),
                      source_aliases=tuple(AssetAlias.from_dict(a) for a in data.get("source_aliases") or ()))


def load_task(workload: Workload, config: Any) -> tuple[Any, Any]:
    """Import the workload's DAG file and return ``(dag, task)`` for this try.

    The task is a shallow copy of the DAG's operator: rendering sets template fields on
    it, and a cached DAG (:func:`load_dag_file`) must look the same to the next try.
    Raises ``DagFileError`` (bad file) or :class:`TaskNotFound` naming the file.
    """
    key = workload.key
    dags = load_dag_file(workload.fileloc, [str(p) for p in config.dag_folders()])
    dag = dags.get(key.dag_id)
    if dag is None:
        raise TaskNotFound(f"DAG {key.dag_id!r} is not defined in {workload.fileloc} (found: {sorted(dags)})")
    task = dag.task_dict.get(key.task_id)
    if task is None:
        raise TaskNotFound(f"DAG {key.dag_id!r} in {workload.fileloc} has no task {key.task_id!r}")
    # A mapped task stays the MappedOperator here: its concrete operator for the map index needs the
    # try's context (the upstream values), see definition.mapped.unmap_for_try.
    return dag, copy.copy(task)


# ------------------------------------------------------------------ DAG file cache
@dataclass
class _CachedFile:
    #: (mtime_ns, size, inode) of the DAG file and of each local module it imported.
    signatures: dict[str, tuple[int, int, int]]
    #: Local helper modules the import added to ``sys.modules`` (dropped on reload).
    modules: list[str]
    #: dag_id -> DAG; None when the import failed (a try then imports it itself).
    dags: dict[str, Any] | None


#: Imported DAG files by real path, least recently used first. A try forked from the fork
#: server inherits the entry the server made before forking (no import at all in the try);
#: ``dags test`` and the in-process executor reuse entries for the life of the process.
_DAG_FILES: "OrderedDict[str, _CachedFile]" = OrderedDict()
#: Most DAG files kept imported (each holds its module and DAG objects in memory).
MAX_CACHED_DAG_FILES = 64


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _still_valid(entry: _CachedFile) -> bool:
    return all(_signature(path) == sig for path, sig in entry.signatures.items())


def _local_modules(before: set[str], roots: list[str]) -> dict[str, str]:
    """Modules imported since ``before`` whose file lies under one of ``roots`` (the DAG
    folders): helper modules that may change while this process lives."""
    found = {}
    for name in set(sys.modules) - before:
        path = getattr(sys.modules.get(name), "__file__", None)
        if path and any(os.path.realpath(path).startswith(root) for root in roots):
            found[name] = os.path.realpath(path)
    return found


def load_dag_file(fileloc: str, sys_path: list[str], *, remember_failure: bool = False) -> dict[str, Any]:
    """The DAGs of ``fileloc`` by id, imported once per version of the file.

    An entry is reused while the file and every helper module it imported from the DAG
    folders keep their mtime, size and inode; otherwise the helpers are dropped from
    ``sys.modules`` and the file is imported again. A failed import raises
    ``DagFileError`` and is not cached, unless ``remember_failure`` (the fork server: it
    then leaves the import, and its error, to each try instead of retrying it per try).
    """
    from tradewind.parse.dagbag import load_dags_from_file

    full = os.path.realpath(fileloc)
    entry = _DAG_FILES.get(full)
    if entry is not None and _still_valid(entry):
        if entry.dags is not None:
            _DAG_FILES.move_to_end(full)
            return entry.dags
        if remember_failure:
            raise LookupError(f"importing {full} failed before; each try imports it itself")
    if entry is not None:
        _forget(full)
    signature = _signature(full)
    roots = [os.path.realpath(p) + os.sep for p in sys_path]
    before = set(sys.modules)
    try:
        dags = load_dags_from_file(full, sys_path=sys_path)
    except BaseException:
        helpers = _local_modules(before, roots)
        if remember_failure and signature is not None:
            _remember(full, _CachedFile({full: signature}, list(helpers), None))
        else:
            for name in helpers:
                sys.modules.pop(name, None)
        raise
    if signature is not None:
        helpers = _local_modules(before, roots)
        signatures = {full: signature}
        signatures.update((path, sig) for path in helpers.values() if (sig := _signature(path)) is not None)
        _remember(full, _CachedFile(signatures, list(helpers), dags))
    return dags


def _remember(full: str, entry: _CachedFile) -> None:
    _DAG_FILES[full] = entry
    _DAG_FILES.move_to_end(full)
    while len(_DAG_FILES) > MAX_CACHED_DAG_FILES:
        _forget(next(iter(_DAG_FILES)))


def _forget(full: str) -> None:
    entry = _DAG_FILES.pop(full, None)
    if entry is not None:
        for name in entry.modules:
            sys.modules.pop(name, None)


def preload_dags(fileloc: str, dags: dict[str, Any]) -> None:
    """Serve ``dags`` to in-process tries whose workload names ``fileloc``, without importing it.

    For DAG objects built in memory (the pytest plugin runs a DAG made inside a test): their
    ``fileloc`` is the test module, which must not be imported again as a DAG file.
    """
    full = os.path.realpath(fileloc)
    _remember(full, _CachedFile({full: _signature(full)}, [], dict(dags)))  # type: ignore[dict-item]


def forget_dags(fileloc: str) -> None:
    """Drop what :func:`preload_dags` (or an import) cached for ``fileloc``."""
    _forget(os.path.realpath(fileloc))


def build_try_context(
    dag: Any, task: Any, ti: RuntimeTaskInstance, claimed: ClaimedTry, config: Any, *, store: TryStore | None = None
) -> dict[str, Any]:
    """The template context of the try (Airflow names), via the definition layer's builder.

    ``store`` serves ``inlet_events`` (read when the task asks); without it they are empty.
    """
    context = build_run_context(dag, task, ti, claimed.run, claimed.prev_success, config=config)
    context.update(_asset_context(task, claimed.triggering_asset_events, store))
    if store is not None:  # Airflow 3.3's task_state_store / asset_state_store
        from tradewind.definition.state_store import state_store_context

        context.update(state_store_context(store, ti.key, _retention_days(config)))
    return context


def _retention_days(config: Any) -> int:
    """``[state_store] default_retention_days`` (a bad value fails the try, naming the setting)."""
    raw = config.get("state_store", "default_retention_days", "30") if config is not None else "30"
    try:
        days = int(str(raw).strip())
    except ValueError:
        days = -1
    if days < 0:
        raise ValueError(f"[state_store] default_retention_days must be a whole number of days >= 0, not {raw!r}")
    return days


def _asset_context(task: Any, triggering: tuple[Any, ...], store: TryStore | None) -> dict[str, Any]:
    """``triggering_asset_events`` (Airflow 2: ``triggering_dataset_events``), ``outlet_events``
    (the task sets each outlet event's ``extra`` there) and ``inlet_events`` (read on first use)."""
    from tradewind.definition.assets import (
        AssetEvent,
        InletEventAccessors,
        OutletEventAccessors,
        TriggeringAssetEvents,
    )

    def load_inlet_events(asset_or_alias: Any) -> list[Any]:
        if store is None:
            return []
        return [AssetEvent.from_dict(e) for e in store.asset_events(asset_or_alias.to_dict())]

    events = TriggeringAssetEvents(triggering)
    return {
        "triggering_asset_events": events,
        "triggering_dataset_events": events,
        "outlet_events": OutletEventAccessors(getattr(task, "outlets", None) or ()),
        "inlet_events": InletEventAccessors(getattr(task, "inlets", None) or (), load_inlet_events),
    }


def build_run_context(
    dag: Any, task: Any, ti: RuntimeTaskInstance | None, run: RunInfo, prev: RunInfo | None,
    *, config: Any = None,
) -> dict[str, Any]:
    """Template context for ``task``/``ti`` in ``run`` (also used for DAG-level callbacks).

    ``config`` becomes ``context["conf"]`` (Airflow: the configuration, ``conf.get(section, key)``).
    """
    from tradewind.definition.context import build_context

    return build_context(
        dag=dag,
        task=task,
        ti=ti,
        run_id=run.run_id,
        run_type=run.run_type,
        logical_date=run.logical_date,
        data_interval_start=run.data_interval_start,
        data_interval_end=run.data_interval_end,
        run_after=run.run_after,
        conf=run.conf,
        dag_run=run,
        map_index=ti.map_index if ti is not None else -1,
        try_number=ti.try_number if ti is not None else 0,
        prev_data_interval_start_success=prev.data_interval_start if prev else None,
        prev_data_interval_end_success=prev.data_interval_end if prev else None,
        prev_start_date_success=prev.start_date if prev else None,
        prev_end_date_success=prev.end_date if prev else None,
        extra={"conf": config} if config is not None else None,
    )
