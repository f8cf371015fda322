"""Response models of ``/api/v1`` for DAGs, tasks, DAG runs, task instances and their tries,
backfills and human-in-the-loop requests (the rest, and the conventions, are in
:mod:`tradewind.observe.api.v1_models`, which re-exports these: import them from there).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tradewind.observe.api.v1_models import ClassRef, Collection, Out, Timestamp


# ------------------------------------------------------------------------- task instances
class TaskInstanceOut(Out):
    """A task instance; ``rendered_fields`` are its rendered template fields (secrets ``***``)."""

    task_id: str
    task_display_name: str
    dag_id: str
    dag_run_id: str
    map_index: int
    rendered_map_index: str | None
    logical_date: Timestamp | None
    execution_date: Timestamp | None
    start_date: Timestamp | None
    end_date: Timestamp | None
    duration: float | None
    state: str | None
    try_number: int
    max_tries: int
    hostname: str
    pid: int | None
    pool: str
    pool_slots: int
    queue: str | None
    priority_weight: int | None
    operator: str | None
    queued_when: Timestamp | None
    scheduled_when: Timestamp | None
    next_retry_at: Timestamp | None
    note: str | None
    trigger_id: int | None
    rendered_fields: dict[str, Any]


class TaskInstanceCollection(Collection):
    task_instances: list[TaskInstanceOut]


class TaskInstanceRef(Out):
    task_id: str
    dag_id: str
    dag_run_id: str
    execution_date: Timestamp | None


class TaskInstanceRefCollection(Out):
    """The instances a state change touched (or would touch, on a dry run)."""

    task_instances: list[TaskInstanceRef]


class TaskInstancesMarked(TaskInstanceCollection):
    """The answer to a mark: Airflow 2's ``TaskInstanceReference`` of the addressed instance (absent
    when the mark touched none of it), then every instance marked (or that would be, on a dry run)."""

    task_id: str | None = None
    dag_id: str | None = None
    dag_run_id: str | None = None
    execution_date: Timestamp | None = None


class TaskInstanceTryOut(Out):
    """One try of a task instance, from its history."""

    task_id: str
    dag_id: str
    dag_run_id: str
    map_index: int
    try_number: int
    state: str | None
    start_date: Timestamp | None
    end_date: Timestamp | None
    duration: float | None
    hostname: str
    pid: int | None
    operator: str | None
    max_tries: int | None
    error: str | None
    rendered_fields: dict[str, Any]


class TaskInstanceTryCollection(Collection):
    task_instances: list[TaskInstanceTryOut]


class Dependency(Out):
    name: str
    reason: str


class DependencyCollection(Out):
    """Why the instance is not running now (empty when nothing holds it back)."""

    dependencies: list[Dependency]


# ------------------------------------------------------------------------- DAGs, tasks, runs, backfills
class TimeDelta(Out):
    type_: str = Field("TimeDelta", alias="__type", serialization_alias="__type")
    days: int
    seconds: int
    microseconds: int


class DagTag(Out):
    name: str
    dag_id: str


class DagOut(Out):
    dag_id: str
    dag_display_name: str
    is_paused: bool
    is_active: bool
    last_parsed_time: Timestamp | None
    fileloc: str
    file_token: str
    owners: list[str]
    description: str | None
    timetable_summary: str | None
    timetable_description: str | None
    tags: list[DagTag]
    max_active_tasks: int | None
    max_active_runs: int | None
    has_import_errors: bool
    next_dagrun: Timestamp | None
    next_dagrun_logical_date: Timestamp | None
    next_dagrun_data_interval_start: Timestamp | None
    next_dagrun_data_interval_end: Timestamp | None
    next_dagrun_create_after: Timestamp | None
    default_view: str


class DagCollection(Collection):
    dags: list[DagOut]


class DagDetailOut(DagOut):
    timezone: str | None
    catchup: bool
    orientation: str
    concurrency: int | None
    start_date: Timestamp | None
    end_date: Timestamp | None
    dag_run_timeout: TimeDelta | None
    doc_md: str | None
    params: dict[str, Any] = Field(description="name -> {__class, value, description, schema}")
    is_paused_upon_creation: bool | None
    last_parsed: Timestamp | None
    has_task_concurrency_limits: bool
    max_consecutive_failed_dag_runs: int | None
    version_number: int | None


class TaskOut(Out):
    task_id: str
    task_display_name: str
    class_ref: ClassRef
    owner: str | None
    start_date: Timestamp | None
    end_date: Timestamp | None
    trigger_rule: str | None
    extra_links: list[Any]
    depends_on_past: bool
    wait_for_downstream: bool
    is_mapped: bool
    retries: int | None
    queue: str | None
    pool: str | None
    pool_slots: int | None
    execution_timeout: TimeDelta | None
    retry_delay: TimeDelta | None
    retry_exponential_backoff: bool
    priority_weight: int | None
    weight_rule: str | None
    template_fields: list[str]
    downstream_task_ids: list[str]
    upstream_task_ids: list[str]
    task_group: str | None
    is_setup: bool
    is_teardown: bool
    doc_md: str | None


class TaskCollection(Collection):
    tasks: list[TaskOut]


class DagRunOut(Out):
    """A DAG run; ``conf`` with secret-looking keys shown as ``***``, ``note`` the user's note."""

    dag_run_id: str
    dag_id: str
    logical_date: Timestamp | None
    execution_date: Timestamp | None
    run_after: Timestamp | None
    queued_at: Timestamp | None
    start_date: Timestamp | None
    end_date: Timestamp | None
    data_interval_start: Timestamp | None
    data_interval_end: Timestamp | None
    last_scheduling_decision: Timestamp | None
    run_type: str
    state: str | None
    external_trigger: bool | None
    triggered_by: str | None
    conf: dict[str, Any]
    note: str | None
    backfill_id: int | None


class DagRunCollection(Collection):
    dag_runs: list[DagRunOut]


class BackfillOut(Out):
    id: int
    dag_id: str
    from_date: Timestamp | None
    to_date: Timestamp | None
    dag_run_conf: dict[str, Any]
    is_paused: bool
    reprocess_behavior: str
    max_active_runs: int
    run_backwards: bool
    created_at: Timestamp | None
    completed_at: Timestamp | None
    triggering_user_name: str | None


class BackfillCollection(Collection):
    backfills: list[BackfillOut]


class PlannedRun(Out):
    """One logical date a backfill would run, and what it would do there."""

    logical_date: Timestamp
    action: str
    reason: str | None
    existing_run_id: str | None


class PlannedRunCollection(Collection):
    backfills: list[PlannedRun]


# ------------------------------------------------------------------------- human in the loop
class HITLUser(Out):
    id: str
    name: str


class HITLDetailOut(Out):
    """A human-in-the-loop request with its answer (Airflow's ``HITLDetail``), plus ``try_number``,
    ``timeout_at`` and ``pending``."""

    task_instance: TaskInstanceOut | None
    options: list[str]
    subject: str
    body: str | None
    defaults: list[str] | None
    multiple: bool
    params: dict[str, Any]
    assigned_users: list[HITLUser]
    created_at: Timestamp | None
    responded_by_user: HITLUser | None
    responded_at: Timestamp | None
    chosen_options: list[str] | None
    params_input: dict[str, Any]
    response_received: bool
    try_number: int | None
    timeout_at: Timestamp | None
    pending: bool


class HITLDetailCollection(Collection):
    hitl_details: list[HITLDetailOut]


class HITLDetailResponse(Out):
    """The answer just recorded."""

    responded_by: HITLUser
    responded_at: Timestamp | None
    chosen_options: list[str]
    params_input: dict[str, Any]
