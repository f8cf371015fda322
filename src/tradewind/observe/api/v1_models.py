"""Pydantic response models of ``/api/v1``: what each route answers, for the OpenAPI document
and for FastAPI to check every answer against (``response_model=``).

Field names and shapes are those the routes have always returned (Airflow 2's stable REST API
names, plus the few fields Tradewind adds); a model lists every field of its answer, because
FastAPI drops fields a response model does not name. Timestamps stay the ISO 8601 strings the
routes build (``2024-01-01T00:00:00+00:00``): typed as strings with ``format: date-time`` so the
answer is byte-for-byte what it was (a ``datetime`` field would be re-serialised with ``Z``).
Values whose shape is the user's (run conf, XCom values, extras, rendered fields) are ``Any``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

#: An ISO 8601 timestamp with its UTC offset, as the routes write it.
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Out(BaseModel):
    """Base of the response models (no validation of field names beyond the declared ones)."""

    model_config = ConfigDict(populate_by_name=True)


class Collection(Out):
    total_entries: int = Field(description="Number of matching items (all pages).")


# ------------------------------------------------------------------------- monitor
class VersionInfo(Out):
    version: str
    git_version: str | None


class MetadatabaseStatus(Out):
    status: str


class SchedulerStatus(Out):
    status: str | None
    latest_scheduler_heartbeat: Timestamp | None
    problems: list[str]


class TriggererStatus(Out):
    status: str | None
    latest_triggerer_heartbeat: Timestamp | None
    problems: list[str]


class DagProcessorStatus(Out):
    status: str | None
    latest_dag_processor_heartbeat: Timestamp | None
    problems: list[str]


class HealthInfo(Out):
    """``healthy``/``unhealthy`` per component; ``null`` for a component that never ran."""

    metadatabase: MetadatabaseStatus
    scheduler: SchedulerStatus
    triggerer: TriggererStatus
    dag_processor: DagProcessorStatus


# ------------------------------------------------------------------------- connections, variables, pools
class ConnectionOut(Out):
    """A connection without its password; secret-looking values of ``extra`` are ``***``."""

    connection_id: str
    conn_type: str
    description: str | None
    host: str | None
    login: str | None
    schema_: str | None = Field(alias="schema", serialization_alias="schema")
    port: int | None
    extra: str | None = Field(description="JSON text of the extra fields.")


class ConnectionCollection(Collection):
    connections: list[ConnectionOut]


class ConnectionTest(Out):
    status: bool
    message: str


class VariableOut(Out):
    key: str
    value: str = Field(description="The value; ``***`` under a secret-looking key.")
    description: str | None


class VariableCollection(Collection):
    variables: list[VariableOut]


class PoolOut(Out):
    name: str
    slots: int
    description: str | None
    occupied_slots: int
    open_slots: int
    running_slots: int
    queued_slots: int
    scheduled_slots: int
    deferred_slots: int
    include_deferred: bool


class PoolCollection(Collection):
    pools: list[PoolOut]


# ------------------------------------------------------------------------- import errors, event logs
class ImportErrorOut(Out):
    import_error_id: int
    timestamp: Timestamp | None
    filename: str
    lineno: int | None
    message: str
    stack_trace: str | None


class ImportErrorCollection(Collection):
    import_errors: list[ImportErrorOut]


class EventLogOut(Out):
    event_log_id: int
    when: Timestamp | None
    event: str
    owner: str | None
    dag_id: str | None
    task_id: str | None
    run_id: str | None
    map_index: int | None
    try_number: int | None
    extra: str | None = Field(description="JSON text of the entry's details.")


class EventLogCollection(Collection):
    event_logs: list[EventLogOut]


# ------------------------------------------------------------------------- assets
class ProducingTask(Out):
    dag_id: str
    task_id: str
    created_at: Timestamp | None


class ConsumingDag(Out):
    dag_id: str
    created_at: Timestamp | None


class AssetOut(Out):
    id: int
    name: str
    uri: str
    group: str
    extra: dict[str, Any]
    is_active: bool
    created_at: Timestamp | None
    updated_at: Timestamp | None
    producing_tasks: list[ProducingTask]
    consuming_dags: list[ConsumingDag]


class AssetCollection(Collection):
    assets: list[AssetOut]


class SourceAlias(Out):
    id: int
    name: str
    group: str


class AssetEventOut(Out):
    id: int
    asset_id: int
    name: str
    uri: str
    group: str
    extra: dict[str, Any]
    source_dag_id: str | None
    source_task_id: str | None
    source_run_id: str | None
    source_map_index: int | None
    timestamp: Timestamp | None
    source_aliases: list[SourceAlias]


class AssetEventCollection(Collection):
    asset_events: list[AssetEventOut]


class AssetRef(Out):
    name: str
    uri: str


class AssetAliasOut(Out):
    id: int
    name: str
    group: str
    resolves_to: list[AssetRef] = Field(description="The assets the alias's events resolved to.")
    consuming_dags: list[str] = Field(description="DAGs scheduled on the alias.")


class AssetAliasCollection(Collection):
    asset_aliases: list[AssetAliasOut]


# ------------------------------------------------------------------------- extra links
class ClassRef(Out):
    class_name: str
    module_path: str


class ExtraLink(Out):
    """A link an operator adds to its task instances (Airflow 2's ExtraLink)."""

    class_ref: ClassRef
    name: str
    href: str


class ExtraLinkCollection(Collection):
    extra_links: list[ExtraLink]


# ------------------------------------------------------------------------- datasets (Airflow 2)
class DatasetConsumer(Out):
    dag_id: str
    created_at: Timestamp | None
    updated_at: Timestamp | None


class DatasetProducer(Out):
    dag_id: str
    task_id: str
    created_at: Timestamp | None
    updated_at: Timestamp | None


class DatasetOut(Out):
    """An asset under Airflow 2's Dataset names (a dataset is known by its URI)."""

    id: int
    uri: str
    extra: dict[str, Any]
    created_at: Timestamp | None
    updated_at: Timestamp | None
    consuming_dags: list[DatasetConsumer]
    producing_tasks: list[DatasetProducer]


class DatasetCollection(Collection):
    datasets: list[DatasetOut]


class CreatedDagRun(Out):
    """A run an event triggered (Airflow 2's BasicDAGRun)."""

    dag_id: str
    run_id: str
    state: str
    logical_date: Timestamp | None
    start_date: Timestamp | None
    end_date: Timestamp | None
    data_interval_start: Timestamp | None
    data_interval_end: Timestamp | None


class DatasetEventOut(Out):
    dataset_id: int
    dataset_uri: str
    extra: dict[str, Any]
    source_dag_id: str | None
    source_task_id: str | None
    source_run_id: str | None
    source_map_index: int | None
    timestamp: Timestamp | None
    created_dagruns: list[CreatedDagRun]


class DatasetEventCollection(Collection):
    dataset_events: list[DatasetEventOut]


class QueuedEventOut(Out):
    """A dataset event queued for an asset-scheduled DAG (one per DAG and dataset)."""

    dag_id: str
    uri: str
    created_at: Timestamp | None


class QueuedEventCollection(Collection):
    """Airflow 2 names this collection's list ``datasets``."""

    datasets: list[QueuedEventOut]


# ------------------------------------------------------------------------- users
class RoleName(Out):
    name: str


class UserOut(Out):
    """A user; the password is never returned. ``role`` is the one entry of ``roles``."""

    username: str
    email: str | None = Field(None, min_length=1, description="Left out when the user has none.")
    first_name: str
    last_name: str
    active: bool
    role: str
    roles: list[RoleName]
    created_on: Timestamp | None
    changed_on: Timestamp | None
    last_login: Timestamp | None
    login_count: int
    failed_login_count: int


class UserCollection(Collection):
    users: list[UserOut]


# ------------------------------------------------------------------------- DAG sources, logs, XCom
class DagSourceOut(Out):
    content: str
    dag_id: str
    version_number: int | None


class LogChunk(Out):
    content: str
    continuation_token: str = Field(description="Pass back as ``token`` to read what was written since.")
    end_of_log: bool


class XComEntryOut(Out):
    key: str
    timestamp: Timestamp | None
    logical_date: Timestamp | None
    execution_date: Timestamp | None
    map_index: int
    task_id: str
    dag_id: str
    dag_run_id: str


class XComEntryWithValue(XComEntryOut):
    value: Any = Field(description="Stored JSON text; with deserialize=true the value (a string unless "
                                   "stringify=false). Secret-looking keys inside show ***.")


class XComCollection(Collection):
    xcom_entries: list[XComEntryOut]



# ------------------------------------------------------------------------- errors
class ProblemFieldError(Out):
    loc: list[str | int] = Field(description="Where in the request, e.g. [\"body\", \"conf\", \"rows\"].")
    field: str
    msg: str
    type: str


class Problem(Out):
    """Every ``/api/v1`` error answer (``application/problem+json``, Airflow's problem format)."""

    detail: Any = Field(description="What went wrong (a message).")
    status: int
    title: str
    type: str
    field: str | None = Field(None, description="The input at fault (400/422), when one is.")
    errors: list[ProblemFieldError] | None = Field(None, description="Every input at fault (422), when known.")

#: ``responses=`` of routes answering JSON by default and the bare text for ``Accept: text/plain``.
def text_or_json(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "content": {"text/plain": {"schema": {"type": "string"}}}}}


# DAGs, tasks, runs, task instances, backfills and human-in-the-loop requests are in
# v1_run_models (one module would pass 600 lines); re-exported here so every route names its
# models as ``v1_models.X``. At the end: that module builds on the classes above.
from tradewind.observe.api.v1_run_models import *  # noqa: E402,F401,F403
