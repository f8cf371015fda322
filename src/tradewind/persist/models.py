"""The metadata database schema: SQLAlchemy 2.0 typed models, columns only.

State logic lives in :mod:`tradewind.schedule.transitions`; queries live in
:mod:`tradewind.persist.queries`. These classes are records, not behaviour — the
author's ``DAG``/``BaseOperator`` classes (definition layer) never share a class
with them.

All datetimes are timezone-aware UTC in Python and stored as naive UTC
(see :class:`UtcDateTime`) so SQLite and PostgreSQL behave the same.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_LEN = 250  # dag_id, task_id, run_id, pool and variable key lengths, as in Airflow

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column; make it timezone-aware")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class DagModel(Base):
    """One row per DAG id the parser has ever seen; the live, mutable DAG record."""

    __tablename__ = "dag"

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    fileloc: Mapped[str] = mapped_column(Text)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    #: False once the file (or the DAG in it) is gone; the rows stay for history.
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    owners: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Human summary of the schedule ("@daily", "0 8 * * *", "None", ...).
    timetable_summary: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    max_active_runs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_active_tasks: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_parsed_time: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: The DagVersion the scheduler uses for new runs.
    latest_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Next run the timetable would create (logical date and interval), kept by the scheduler.
    next_dagrun: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    next_dagrun_data_interval_start: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    next_dagrun_data_interval_end: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    next_dagrun_create_after: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class DagVersion(Base):
    """An immutable snapshot of a DAG as parsed (JSON), identified by its content hash."""

    __tablename__ = "dag_version"
    __table_args__ = (UniqueConstraint("dag_id", "version_number"), Index(None, "dag_id", "snapshot_hash"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("dag.dag_id", ondelete="CASCADE"))
    version_number: Mapped[int] = mapped_column(Integer)
    snapshot_hash: Mapped[str] = mapped_column(String(64))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    fileloc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: The file's code as it was parsed for this version (a :class:`DagCode` row), when kept.
    source_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class DagCode(Base):
    """The code of a DAG file as it was parsed, once per content (Airflow's ``dag_code``): each
    :class:`DagVersion` points at its own, so an old version's code stays readable after the file
    changed."""

    __tablename__ = "dag_code"

    source_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    fileloc: Mapped[str] = mapped_column(Text)
    source_code: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DagRun(Base):
    __tablename__ = "dag_run"
    __table_args__ = (
        UniqueConstraint("dag_id", "run_id"),
        Index(None, "dag_id", "state"),
        # state first: "runs in state X" alone, and "finished since T" (the home page's last 24 h).
        Index(None, "state", "end_date"),
        Index(None, "dag_id", "logical_date"),
        # every DAG's runs newest first (the cross-DAG run list, ``~``), by either date it sorts on
        Index(None, "logical_date"),
        Index(None, "run_after"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("dag.dag_id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_type: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(50))
    logical_date: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    data_interval_start: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    data_interval_end: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: Earliest time the run may start (end of interval for CronDataIntervalTimetable).
    run_after: Mapped[datetime] = mapped_column(UtcDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    conf: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    external_trigger: Mapped[bool] = mapped_column(Boolean, default=False)
    triggered_by: Mapped[str | None] = mapped_column(String(50), nullable=True)
    dag_version_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("dag_version.id"), nullable=True)
    #: Bumped each time the run is cleared, so a try can tell it belongs to an older clearing.
    clear_number: Mapped[int] = mapped_column(Integer, default=0)
    last_scheduling_decision: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: The Backfill that created this run (None for every other run).
    backfill_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class TaskInstance(Base):
    """The current state of one task in one run (one map index). History is in TaskInstanceTry."""

    __tablename__ = "task_instance"
    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "task_id", "map_index"),
        Index(None, "state", "end_date"),
        Index(None, "dag_id", "run_id", "state"),
        Index(None, "pool", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    state: Mapped[str] = mapped_column(String(50), default="none")
    #: Number of the current (or last) try; 0 before the first try starts. Airflow 3 meaning.
    try_number: Mapped[int] = mapped_column(Integer, default=0)
    #: Highest try_number allowed = retries + 1 (bumped when cleared).
    max_tries: Mapped[int] = mapped_column(Integer, default=1)
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    queued_dttm: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: The scheduler job that queued the current try: a live scheduler resets the queued
    #: instances of one that stopped heartbeating (schedule/adoption.py).
    queued_by_job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    scheduled_dttm: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: When an up_for_retry / up_for_reschedule instance may run again.
    next_retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    hostname: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pool: Mapped[str] = mapped_column(String(ID_LEN), default="default_pool")
    pool_slots: Mapped[int] = mapped_column(Integer, default=1)
    queue: Mapped[str] = mapped_column(String(256), default="default")
    priority_weight: Mapped[int] = mapped_column(Integer, default=1)
    operator: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    dag_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Free-text reason recorded with the last state change (e.g. "heartbeat timeout").
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: A mapped instance's label from ``map_index_template``, rendered when its try ran.
    rendered_map_index: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    #: Deferral: the method to call when the trigger fires, and its kwargs (the event goes in ``event``).
    next_method: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    next_kwargs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: The Trigger row a deferred instance waits on, and when the wait times out.
    trigger_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    trigger_timeout: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class TaskInstanceTry(Base):
    """One row per try of a task instance: what ran, when, where, with which rendered fields."""

    __tablename__ = "task_instance_try"
    __table_args__ = (UniqueConstraint("dag_id", "run_id", "task_id", "map_index", "try_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    try_number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(50))
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    hostname: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    operator: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    rendered_fields: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: Why the try ended as it did (exception summary, "killed: execution_timeout", ...).
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class XCom(Base):
    __tablename__ = "xcom"
    __table_args__ = (UniqueConstraint("dag_id", "run_id", "task_id", "map_index", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    key: Mapped[str] = mapped_column(String(512))
    #: JSON text of the value (kept as text so any JSON value, including null, round-trips).
    value: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime)


class Variable(Base):
    __tablename__ = "variable"

    key: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    #: The value, a Fernet token when ``is_encrypted`` (Airflow's column names).
    val: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_encrypted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Connection(Base):
    """A stored connection (Airflow's ``connection`` table).

    ``password`` and ``extra`` hold Fernet tokens when ``is_encrypted`` / ``is_extra_encrypted``
    (always, for rows Tradewind writes); :mod:`tradewind.persist.queries.connections` encrypts and
    decrypts them, so no other code reads these columns directly.
    """

    __tablename__ = "connection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conn_id: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    conn_type: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    host: Mapped[str | None] = mapped_column(String(500), nullable=True)
    schema: Mapped[str | None] = mapped_column(String(500), nullable=True)
    login: Mapped[str | None] = mapped_column(Text, nullable=True)
    password: Mapped[str | None] = mapped_column(Text, nullable=True)
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    is_extra_encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    extra: Mapped[str | None] = mapped_column(Text, nullable=True)


class Pool(Base):
    __tablename__ = "slot_pool"

    pool: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    slots: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)


class ImportError_(Base):
    """A DAG file that failed to parse. Named with a trailing underscore to avoid the builtin."""

    __tablename__ = "import_error"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filename: Mapped[str] = mapped_column(Text)
    lineno: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    stacktrace: Mapped[str | None] = mapped_column(Text, nullable=True)
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime)


class ParsedFile(Base):
    """What the parser last saw of each DAG file, so unchanged files are not re-imported."""

    __tablename__ = "parsed_file"

    fileloc: Mapped[str] = mapped_column(Text, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    mtime: Mapped[float] = mapped_column(Float)
    dag_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_parsed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    parse_duration: Mapped[float | None] = mapped_column(Float, nullable=True)


class AuditLog(Base):
    """Manual actions (trigger, clear, mark, pause, variable changes...): who, what, when."""

    __tablename__ = "log"
    __table_args__ = (Index(None, "dag_id", "dttm"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dttm: Mapped[datetime] = mapped_column(UtcDateTime)
    event: Mapped[str] = mapped_column(String(60))
    owner: Mapped[str | None] = mapped_column(String(500), nullable=True)
    dag_id: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    map_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    try_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    extra: Mapped[str | None] = mapped_column(Text, nullable=True)


class Job(Base):
    """A running component (scheduler, parser, standalone) and its liveness heartbeat."""

    __tablename__ = "job"
    __table_args__ = (Index(None, "job_type", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_type: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(20))
    hostname: Mapped[str | None] = mapped_column(String(500), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    start_date: Mapped[datetime] = mapped_column(UtcDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    latest_heartbeat: Mapped[datetime] = mapped_column(UtcDateTime)
    #: What is wrong with the job's helper processes, one problem a line (a fork server or DAG
    #: processor that is down or crash-looping), as of its latest heartbeat; None while healthy.
    problems: Mapped[str | None] = mapped_column(Text, nullable=True)


class TaskReschedule(Base):
    """One row each time a sensor in ``reschedule`` mode gave its slot back: when the poke
    started and ended and when it asked to come back. The first row of a try tells the
    sensor how long it has been waiting (its ``timeout`` counts from there)."""

    __tablename__ = "task_reschedule"
    __table_args__ = (Index(None, "dag_id", "run_id", "task_id", "map_index", "try_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    try_number: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[datetime] = mapped_column(UtcDateTime)
    end_date: Mapped[datetime] = mapped_column(UtcDateTime)
    duration: Mapped[float] = mapped_column(Float)
    reschedule_date: Mapped[datetime] = mapped_column(UtcDateTime)


class Trigger(Base):
    """An async trigger a deferred task instance waits on; run by the triggerer."""

    __tablename__ = "trigger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: Import path of the trigger class ("tradewind.definition.triggers.temporal.DateTimeTrigger").
    classpath: Mapped[str] = mapped_column(String(1000))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_date: Mapped[datetime] = mapped_column(UtcDateTime)
    #: The triggerer Job running it (None: not picked up yet, or its triggerer died).
    triggerer_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class Backfill(Base):
    """A request to run a DAG over past logical dates, executed by the scheduler."""

    __tablename__ = "backfill"
    __table_args__ = (Index(None, "dag_id", "completed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("dag.dag_id", ondelete="CASCADE"))
    from_date: Mapped[datetime] = mapped_column(UtcDateTime)
    to_date: Mapped[datetime] = mapped_column(UtcDateTime)
    dag_run_conf: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: "none" | "failed" | "completed": which existing runs are run again.
    reprocess_behavior: Mapped[str] = mapped_column(String(30), default="none")
    max_active_runs: Mapped[int] = mapped_column(Integer, default=10)
    run_backwards: Mapped[bool] = mapped_column(Boolean, default=False)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    triggering_user_name: Mapped[str | None] = mapped_column(String(512), nullable=True)


class BackfillDagRun(Base):
    """One logical date of a backfill: the run it created, or why it created none."""

    __tablename__ = "backfill_dag_run"
    __table_args__ = (UniqueConstraint("backfill_id", "logical_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    backfill_id: Mapped[int] = mapped_column(Integer, ForeignKey("backfill.id", ondelete="CASCADE"))
    dag_run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    logical_date: Mapped[datetime] = mapped_column(UtcDateTime)
    #: Why no run was created for this date ("already exists", "in flight", ...).
    exception_reason: Mapped[str | None] = mapped_column(String(250), nullable=True)
    sort_ordinal: Mapped[int] = mapped_column(Integer)


class AssetModel(Base):
    """An asset (Airflow's Asset/Dataset) some DAG produces or is scheduled on."""

    __tablename__ = "asset"
    __table_args__ = (UniqueConstraint("name", "uri"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(1500))
    uri: Mapped[str] = mapped_column(String(1500))
    group: Mapped[str] = mapped_column(String(1500), default="asset")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: False when no active DAG references it any more (kept for its event history).
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class AssetEvent(Base):
    """An asset was updated: by a task's outlet, or by hand (CLI/API)."""

    __tablename__ = "asset_event"
    __table_args__ = (Index(None, "asset_id", "timestamp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(Integer, ForeignKey("asset.id", ondelete="CASCADE"))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_dag_id: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    source_task_id: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    source_run_id: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    source_map_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime)


class DagScheduleAssetReference(Base):
    """DAG ``dag_id`` is scheduled on (its schedule expression mentions) the asset."""

    __tablename__ = "dag_schedule_asset_reference"

    asset_id: Mapped[int] = mapped_column(Integer, ForeignKey("asset.id", ondelete="CASCADE"), primary_key=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("dag.dag_id", ondelete="CASCADE"),
                                        primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TaskOutletAssetReference(Base):
    """Task ``dag_id.task_id`` declares the asset as an outlet (it produces it)."""

    __tablename__ = "task_outlet_asset_reference"

    asset_id: Mapped[int] = mapped_column(Integer, ForeignKey("asset.id", ondelete="CASCADE"), primary_key=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("dag.dag_id", ondelete="CASCADE"),
                                        primary_key=True)
    task_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AssetDagRunQueue(Base):
    """An asset event not yet consumed by a run of ``target_dag_id`` (one row per pair)."""

    __tablename__ = "asset_dag_run_queue"

    asset_id: Mapped[int] = mapped_column(Integer, ForeignKey("asset.id", ondelete="CASCADE"), primary_key=True)
    target_dag_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("dag.dag_id", ondelete="CASCADE"),
                                               primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DagRunAssetEvent(Base):
    """The asset events that triggered an asset-triggered run (``triggering_asset_events``)."""

    __tablename__ = "dagrun_asset_event"

    dag_run_id: Mapped[int] = mapped_column(Integer, ForeignKey("dag_run.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer, ForeignKey("asset_event.id", ondelete="CASCADE"),
                                          primary_key=True)


class AssetAliasModel(Base):
    """An asset alias (Airflow's ``AssetAlias``): a name that tasks resolve to assets at run time."""

    __tablename__ = "asset_alias"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(1500))
    group: Mapped[str] = mapped_column(String(1500), default="asset")


class AssetAliasAsset(Base):
    """The asset was added through the alias at least once: what the alias resolves to."""

    __tablename__ = "asset_alias_asset"

    alias_id: Mapped[int] = mapped_column(Integer, ForeignKey("asset_alias.id", ondelete="CASCADE"),
                                          primary_key=True)
    asset_id: Mapped[int] = mapped_column(Integer, ForeignKey("asset.id", ondelete="CASCADE"), primary_key=True)


class AssetAliasAssetEvent(Base):
    """The asset event was emitted through the alias (its ``source_aliases``)."""

    __tablename__ = "asset_alias_asset_event"

    alias_id: Mapped[int] = mapped_column(Integer, ForeignKey("asset_alias.id", ondelete="CASCADE"),
                                          primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer, ForeignKey("asset_event.id", ondelete="CASCADE"),
                                          primary_key=True)


class DagScheduleAssetAliasReference(Base):
    """DAG ``dag_id`` is scheduled on (its schedule expression mentions) the alias."""

    __tablename__ = "dag_schedule_asset_alias_reference"

    alias_id: Mapped[int] = mapped_column(Integer, ForeignKey("asset_alias.id", ondelete="CASCADE"),
                                          primary_key=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("dag.dag_id", ondelete="CASCADE"),
                                        primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class User(Base):
    """A person who logs in to the API/UI (Airflow's FAB ``ab_user``; one role per user).

    ``role`` is one of ``viewer``, ``user``, ``op``, ``admin``; ``password_hash`` is an argon2id
    hash (never the password). ``active=False`` keeps the row but refuses logins and tokens.
    """

    __tablename__ = "ab_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(512), unique=True)
    email: Mapped[str | None] = mapped_column(String(512), nullable=True)
    first_name: Mapped[str] = mapped_column(String(256), default="")
    last_name: Mapped[str] = mapped_column(String(256), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_login: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    login_count: Mapped[int] = mapped_column(Integer, default=0)
    fail_login_count: Mapped[int] = mapped_column(Integer, default=0)


class HITLDetail(Base):
    """A human-in-the-loop request of one try of a task instance, and its response (Airflow's
    ``hitl_detail``). Written when the task defers; answered by a person (API, CLI, UI) or, past
    ``timeout_at``, by the request's defaults (``responded_by_user_id`` None). Rows go with their run."""

    __tablename__ = "hitl_detail"
    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "task_id", "map_index", "try_number"),
        ForeignKeyConstraint(["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"),
        Index(None, "responded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    try_number: Mapped[int] = mapped_column(Integer)
    #: The trigger the deferred instance waits on while the request is open (None once answered).
    trigger_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    options: Mapped[list[str]] = mapped_column(JSON)
    defaults: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Form fields: ``{name: {"value", "description", "schema"}}``.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: ``[{"id", "name"}]``; empty: anyone allowed to edit task instances may answer.
    assigned_users: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    timeout_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    responded_by_user_id: Mapped[str | None] = mapped_column(String(512), nullable=True)
    responded_by_user_name: Mapped[str | None] = mapped_column(String(512), nullable=True)
    chosen_options: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    params_input: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TaskStateStore(Base):
    """A key of a task instance's state store (Airflow 3.3's ``task_state_store``): JSON text kept
    across the instance's tries. ``expires_at`` None never expires; rows go with their run."""

    __tablename__ = "task_state_store"
    __table_args__ = (
        ForeignKeyConstraint(["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"),
        Index(None, "expires_at"),
    )

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    map_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AssetStateStore(Base):
    """A key of an asset's state store (Airflow 3.3's ``asset_state_store``): JSON text shared by
    every task that names the asset; never expires, goes with its asset."""

    __tablename__ = "asset_state_store"

    asset_id: Mapped[int] = mapped_column(Integer, ForeignKey("asset.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


#: Longest note a user may write on a run or task instance (Airflow's 1,000 characters).
NOTE_MAX_LEN = 1000


class DagRunNote(Base):
    """A user's note on a DAG run (Airflow's ``dag_run_note``); goes with its run."""

    __tablename__ = "dag_run_note"

    dag_run_id: Mapped[int] = mapped_column(Integer, ForeignKey("dag_run.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    content: Mapped[str | None] = mapped_column(String(NOTE_MAX_LEN), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TaskInstanceNote(Base):
    """A user's note on a task instance (Airflow's ``task_instance_note``), apart from the reason
    the scheduler records in ``task_instance.note``; goes with its instance."""

    __tablename__ = "task_instance_note"

    ti_id: Mapped[int] = mapped_column(Integer, ForeignKey("task_instance.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    content: Mapped[str | None] = mapped_column(String(NOTE_MAX_LEN), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
