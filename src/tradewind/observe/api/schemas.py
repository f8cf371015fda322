"""Request bodies (pydantic) and response shapes of the REST API.

Field names are Airflow's stable REST API v1 names (``dag_run_id``, ``logical_date``,
``is_paused``, ``total_entries``, ...), so clients written for Airflow keep working. Request
bodies forbid unknown fields: a typo is a 422 naming the field instead of being ignored.
Responses are built by the ``*_dict`` functions from database rows and snapshots; run conf
and rendered fields pass through :func:`tradewind.definition.masking.redact` (secret-looking
keys show ``***``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tradewind.definition.masking import redact, redact_json_text
from tradewind.parse.snapshot import DagSnapshot, TaskSnapshot
from tradewind.persist.models import (
    AuditLog,
    Backfill,
    DagModel,
    DagRun,
    ImportError_,
    TaskInstance,
    TaskInstanceTry,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def time_delta(seconds: float | None) -> dict[str, Any] | None:
    """A duration in Airflow's ``TimeDelta`` form."""
    if seconds is None:
        return None
    whole = int(seconds)
    return {"__type": "TimeDelta", "days": whole // 86400, "seconds": whole % 86400,
            "microseconds": int(round((seconds - whole) * 1_000_000))}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------ request bodies
class DAGPatch(_Body):
    is_paused: bool


class DAGRunTrigger(_Body):
    """``POST /dags/{dag_id}/dagRuns``. ``execution_date`` is Airflow 2's name of ``logical_date``."""

    dag_run_id: str | None = Field(None, min_length=1, max_length=250)
    logical_date: datetime | None = None
    execution_date: datetime | None = None
    conf: dict[str, Any] | None = None
    note: str | None = None


class DAGRunPatch(_Body):
    state: Literal["success", "failed", "queued"]


class DAGRunClear(_Body):
    dry_run: bool = True
    only_failed: bool = False


class TaskInstancePatch(_Body):
    """``PATCH .../taskInstances/{task_id}``: mark success/failed/skipped (Airflow 2: dry run by default).
    ``include_past``/``include_future``: the same task in the DAG's earlier/later runs too."""

    new_state: Literal["success", "failed", "skipped"]
    dry_run: bool = True
    include_upstream: bool = False
    include_downstream: bool = False
    include_future: bool = False
    include_past: bool = False


class UpdateTaskInstancesState(_Body):
    """``POST /dags/{dag_id}/updateTaskInstancesState`` (Airflow 2): mark a task in a run given by
    ``dag_run_id`` or ``execution_date`` (one of them), dry run by default."""

    task_id: str = Field(min_length=1)
    new_state: Literal["success", "failed", "skipped"]
    dag_run_id: str | None = None
    execution_date: datetime | None = None
    dry_run: bool = True
    include_upstream: bool = False
    include_downstream: bool = False
    include_future: bool = False
    include_past: bool = False


class SetNoteBody(_Body):
    """``PATCH .../setNote`` (Airflow 2.5+): the user's note on a run or task instance; null or "" clears it.
    Its length (at most 1000 characters) is checked by the action, which names the limit."""

    note: str | None


class ClearTaskInstancesBody(_Body):
    """``POST /dags/{dag_id}/clearTaskInstances`` with Airflow's defaults (dry run, only failed)."""

    dry_run: bool = True
    #: Task ids, or [task_id, map_index] pairs for single mapped instances (Airflow 2.6+).
    task_ids: list[str | tuple[str, int]] | None = None
    dag_run_id: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    only_failed: bool = True
    only_running: bool = False
    reset_dag_runs: bool = True
    include_upstream: bool = False
    include_downstream: bool = False
    include_future: bool = False
    include_past: bool = False


class VariableBody(_Body):
    key: str = Field(min_length=1, max_length=250)
    value: str
    description: str | None = None


class VariablePatchBody(_Body):
    key: str | None = Field(None, min_length=1, max_length=250)
    value: str | None = None
    description: str | None = None


class PoolBody(_Body):
    name: str = Field(min_length=1, max_length=250)
    slots: int = Field(ge=0)
    description: str | None = None


class PoolPatchBody(_Body):
    name: str | None = Field(None, min_length=1, max_length=250)
    slots: int | None = Field(None, ge=0)
    description: str | None = None


class BackfillBody(_Body):
    dag_id: str = Field(min_length=1, max_length=250)
    from_date: datetime
    to_date: datetime
    run_backwards: bool = False
    dag_run_conf: dict[str, Any] = Field(default_factory=dict)
    reprocess_behavior: Literal["none", "failed", "completed"] = "none"
    max_active_runs: int = Field(10, ge=1)


class DAGRunsBatchBody(_Body):
    """``POST /dags/~/dagRuns/list``: runs of several DAGs (Airflow's ``ListDagRunsForm``)."""

    order_by: str | None = None
    page_offset: int = Field(0, ge=0)
    page_limit: int = Field(100, ge=1)
    dag_ids: list[str] | None = None
    states: list[str] | None = None
    logical_date_gte: datetime | None = None
    logical_date_lte: datetime | None = None
    execution_date_gte: datetime | None = None
    execution_date_lte: datetime | None = None
    start_date_gte: datetime | None = None
    start_date_lte: datetime | None = None
    end_date_gte: datetime | None = None
    end_date_lte: datetime | None = None


class TaskInstancesBatchBody(_Body):
    """``POST /dags/~/dagRuns/~/taskInstances/list`` (Airflow's ``ListTaskInstanceForm``)."""

    page_offset: int = Field(0, ge=0)
    page_limit: int = Field(100, ge=1)
    dag_ids: list[str] | None = None
    dag_run_ids: list[str] | None = None
    task_ids: list[str] | None = None
    state: list[str] | None = None
    pool: list[str] | None = None
    queue: list[str] | None = None
    start_date_gte: datetime | None = None
    start_date_lte: datetime | None = None
    end_date_gte: datetime | None = None
    end_date_lte: datetime | None = None
    duration_gte: float | None = None
    duration_lte: float | None = None


# ------------------------------------------------------------------------ responses
def dag_dict(dag: DagModel, *, display_name: str | None = None, has_import_errors: bool = False) -> dict[str, Any]:
    return {
        "dag_id": dag.dag_id,
        "dag_display_name": display_name or dag.dag_id,
        "is_paused": dag.is_paused,
        "is_active": dag.is_active,
        "last_parsed_time": _iso(dag.last_parsed_time),
        "fileloc": dag.fileloc,
        # Our dagSources endpoint takes the DAG id, so it is also the file token Airflow 2 clients pass.
        "file_token": dag.dag_id,
        "owners": [o.strip() for o in (dag.owners or "").split(",") if o.strip()],
        "description": dag.description,
        "timetable_summary": dag.timetable_summary,
        "timetable_description": dag.timetable_summary,
        "tags": [{"name": t, "dag_id": dag.dag_id} for t in (dag.tags or [])],
        "max_active_tasks": dag.max_active_tasks,
        "max_active_runs": dag.max_active_runs,
        "has_import_errors": has_import_errors,
        "next_dagrun": _iso(dag.next_dagrun),
        "next_dagrun_logical_date": _iso(dag.next_dagrun),
        "next_dagrun_data_interval_start": _iso(dag.next_dagrun_data_interval_start),
        "next_dagrun_data_interval_end": _iso(dag.next_dagrun_data_interval_end),
        "next_dagrun_create_after": _iso(dag.next_dagrun_create_after),
        "default_view": "grid",
    }


def _param_dict(param: dict[str, Any]) -> dict[str, Any]:
    """A stored param in Airflow's details form: ``{"__class", "value", "description", "schema"}``."""
    return {"__class": "tradewind.definition.params.Param", "value": param.get("default"),
            "description": param.get("description"), "schema": param.get("schema") or {}}


def dag_detail_dict(dag: DagModel, snapshot: DagSnapshot, *, version_number: int | None,
                    has_import_errors: bool) -> dict[str, Any]:
    out = dag_dict(dag, display_name=snapshot.dag_display_name, has_import_errors=has_import_errors)
    out.update({
        "timezone": snapshot.timezone,
        "catchup": snapshot.catchup,
        "orientation": "LR",
        "concurrency": snapshot.max_active_tasks,
        "start_date": snapshot.start_date,
        "end_date": snapshot.end_date,
        "dag_run_timeout": time_delta(snapshot.dagrun_timeout),
        "doc_md": snapshot.doc_md,
        "params": {name: _param_dict(p) for name, p in snapshot.params.items()},
        "is_paused_upon_creation": snapshot.is_paused_upon_creation,
        "last_parsed": _iso(dag.last_parsed_time),
        "has_task_concurrency_limits": any(
            t.max_active_tis_per_dag is not None or t.max_active_tis_per_dagrun is not None
            for t in snapshot.tasks.values()),
        "max_consecutive_failed_dag_runs": snapshot.max_consecutive_failed_dag_runs,
        "version_number": version_number,
    })
    return out


def class_ref(task: TaskSnapshot) -> dict[str, str]:
    """``{"class_name", "module_path"}`` of the task's operator class, as recorded at parse time
    (``@task`` tasks name their decorated operator's class): Airflow 2's client requires both."""
    module, _, name = str(task.extra.get("operator_class") or "").rpartition(".")
    if not module:
        return {"class_name": name or task.operator, "module_path": "tradewind.definition.operators"}
    return {"class_name": name, "module_path": module}


def task_dict(task: TaskSnapshot) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "task_display_name": task.task_display_name or task.task_id,
        "class_ref": class_ref(task),
        "owner": task.owner,
        "start_date": task.start_date,
        "end_date": task.end_date,
        "trigger_rule": task.trigger_rule,
        "extra_links": [],
        "depends_on_past": task.depends_on_past,
        "wait_for_downstream": task.wait_for_downstream,
        "is_mapped": bool(task.extra.get("is_mapped")),
        "retries": task.retries,
        "queue": task.queue,
        "pool": task.pool,
        "pool_slots": task.pool_slots,
        "execution_timeout": time_delta(task.execution_timeout),
        "retry_delay": time_delta(task.retry_delay),
        "retry_exponential_backoff": task.retry_exponential_backoff,
        "priority_weight": task.priority_weight,
        "weight_rule": task.weight_rule,
        "template_fields": list(task.template_fields),
        "downstream_task_ids": sorted(task.downstream),
        "upstream_task_ids": sorted(task.upstream),
        "task_group": task.task_group,
        "is_setup": task.is_setup,
        "is_teardown": task.is_teardown,
        "doc_md": task.doc_md,
    }


def run_dict(run: DagRun, *, note: str | None = None) -> dict[str, Any]:
    """A run; ``note`` is the user's note on it (``dag_run_note``)."""
    return {
        "dag_run_id": run.run_id,
        "dag_id": run.dag_id,
        "logical_date": _iso(run.logical_date),
        "execution_date": _iso(run.logical_date),
        "run_after": _iso(run.run_after),
        "queued_at": _iso(run.queued_at),
        "start_date": _iso(run.start_date),
        "end_date": _iso(run.end_date),
        "data_interval_start": _iso(run.data_interval_start),
        "data_interval_end": _iso(run.data_interval_end),
        "last_scheduling_decision": _iso(run.last_scheduling_decision),
        "run_type": run.run_type,
        "state": run.state,
        "external_trigger": run.external_trigger,
        "triggered_by": run.triggered_by,
        "conf": redact(run.conf or {}),
        "note": note,
        "backfill_id": run.backfill_id,
    }


def ti_dict(ti: TaskInstance, *, logical_date: datetime | None = None,
            rendered_fields: dict[str, Any] | None = None, task_display_name: str | None = None,
            note: str | None = None) -> dict[str, Any]:
    """A task instance; ``note`` is the user's note on it (``task_instance_note``), not the reason
    the scheduler recorded with its last state change."""
    return {
        "task_id": ti.task_id,
        "task_display_name": task_display_name or ti.task_id,
        "dag_id": ti.dag_id,
        "dag_run_id": ti.run_id,
        "map_index": ti.map_index,
        "rendered_map_index": ti.rendered_map_index,
        "logical_date": _iso(logical_date),
        "execution_date": _iso(logical_date),
        "start_date": _iso(ti.start_date),
        "end_date": _iso(ti.end_date),
        "duration": ti.duration,
        "state": None if ti.state == "none" else ti.state,
        "try_number": ti.try_number,
        "max_tries": ti.max_tries,
        "hostname": ti.hostname or "",
        "pid": ti.pid,
        "pool": ti.pool,
        "pool_slots": ti.pool_slots,
        "queue": ti.queue,
        "priority_weight": ti.priority_weight,
        "operator": ti.operator,
        "queued_when": _iso(ti.queued_dttm),
        "scheduled_when": _iso(ti.scheduled_dttm),
        "next_retry_at": _iso(ti.next_retry_at),
        "note": note,
        "trigger_id": ti.trigger_id,
        "rendered_fields": redact(rendered_fields or {}),
    }


def try_dict(row: TaskInstanceTry, *, max_tries: int | None = None) -> dict[str, Any]:
    return {
        "task_id": row.task_id,
        "dag_id": row.dag_id,
        "dag_run_id": row.run_id,
        "map_index": row.map_index,
        "try_number": row.try_number,
        "state": row.state,
        "start_date": _iso(row.start_date),
        "end_date": _iso(row.end_date),
        "duration": row.duration,
        "hostname": row.hostname or "",
        "pid": row.pid,
        "operator": row.operator,
        "max_tries": max_tries,
        "error": row.error,
        "rendered_fields": redact(row.rendered_fields or {}),
    }


def import_error_dict(row: ImportError_) -> dict[str, Any]:
    return {
        "import_error_id": row.id,
        "timestamp": _iso(row.timestamp),
        "filename": row.filename,
        "lineno": row.lineno,
        "message": row.message,
        "stack_trace": row.stacktrace or row.message,
    }


def event_log_dict(row: AuditLog) -> dict[str, Any]:
    return {
        "event_log_id": row.id,
        "when": _iso(row.dttm),
        "event": row.event,
        "owner": row.owner,
        "dag_id": row.dag_id,
        "task_id": row.task_id,
        "run_id": row.run_id,
        "map_index": row.map_index,
        "try_number": row.try_number,
        "extra": redact_json_text(row.extra),
    }


def backfill_dict(row: Backfill) -> dict[str, Any]:
    return {
        "id": row.id,
        "dag_id": row.dag_id,
        "from_date": _iso(row.from_date),
        "to_date": _iso(row.to_date),
        "dag_run_conf": redact(row.dag_run_conf or {}),
        "is_paused": row.is_paused,
        "reprocess_behavior": row.reprocess_behavior,
        "max_active_runs": row.max_active_runs,
        "run_backwards": row.run_backwards,
        "created_at": _iso(row.created_at),
        "completed_at": _iso(row.completed_at),
        "triggering_user_name": row.triggering_user_name,
    }


def json_text(value: Any) -> str:
    """JSON text of a value (for stringified XCom values)."""
    return json.dumps(value, default=str)
