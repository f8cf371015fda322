"""Initial schema: every table of tradewind.persist.models at the first release.

Datetimes are plain DateTime columns holding naive UTC (the models' UtcDateTime
converts). Written with autogenerate, then reviewed by hand; keep it stable —
later changes go into new revisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dag",
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("fileloc", sa.Text(), nullable=False),
        sa.Column("is_paused", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owners", sa.String(length=2000), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("timetable_summary", sa.String(length=1000), nullable=True),
        sa.Column("max_active_runs", sa.Integer(), nullable=True),
        sa.Column("max_active_tasks", sa.Integer(), nullable=True),
        sa.Column("last_parsed_time", sa.DateTime(), nullable=True),
        sa.Column("latest_version_id", sa.Integer(), nullable=True),
        sa.Column("next_dagrun", sa.DateTime(), nullable=True),
        sa.Column("next_dagrun_data_interval_start", sa.DateTime(), nullable=True),
        sa.Column("next_dagrun_data_interval_end", sa.DateTime(), nullable=True),
        sa.Column("next_dagrun_create_after", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("dag_id", name=op.f("pk_dag")),
    )
    op.create_table(
        "import_error",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("lineno", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("stacktrace", sa.Text(), nullable=True),
        sa.Column("timestamp", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_error")),
    )
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_type", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("hostname", sa.String(length=500), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("start_date", sa.DateTime(), nullable=False),
        sa.Column("end_date", sa.DateTime(), nullable=True),
        sa.Column("latest_heartbeat", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    op.create_index(op.f("ix_job_job_type_state"), "job", ["job_type", "state"], unique=False)
    op.create_table(
        "log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dttm", sa.DateTime(), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("owner", sa.String(length=500), nullable=True),
        sa.Column("dag_id", sa.String(length=250), nullable=True),
        sa.Column("task_id", sa.String(length=250), nullable=True),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.Column("map_index", sa.Integer(), nullable=True),
        sa.Column("try_number", sa.Integer(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log")),
    )
    op.create_index(op.f("ix_log_dag_id_dttm"), "log", ["dag_id", "dttm"], unique=False)
    op.create_table(
        "parsed_file",
        sa.Column("fileloc", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("mtime", sa.Float(), nullable=False),
        sa.Column("dag_ids", sa.JSON(), nullable=False),
        sa.Column("last_parsed_at", sa.DateTime(), nullable=False),
        sa.Column("parse_duration", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("fileloc", name=op.f("pk_parsed_file")),
    )
    op.create_table(
        "slot_pool",
        sa.Column("pool", sa.String(length=250), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("pool", name=op.f("pk_slot_pool")),
    )
    op.create_table(
        "task_instance",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=50), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("max_tries", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.DateTime(), nullable=True),
        sa.Column("end_date", sa.DateTime(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("queued_dttm", sa.DateTime(), nullable=True),
        sa.Column("scheduled_dttm", sa.DateTime(), nullable=True),
        sa.Column("next_retry_at", sa.DateTime(), nullable=True),
        sa.Column("last_heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("hostname", sa.String(length=1000), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("pool", sa.String(length=250), nullable=False),
        sa.Column("pool_slots", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=256), nullable=False),
        sa.Column("priority_weight", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=1000), nullable=True),
        sa.Column("dag_version_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_instance")),
        sa.UniqueConstraint("dag_id", "run_id", "task_id", "map_index", name=op.f("uq_task_instance_dag_id_run_id_task_id_map_index")),
    )
    op.create_index(op.f("ix_task_instance_dag_id_run_id_state"), "task_instance", ["dag_id", "run_id", "state"], unique=False)
    op.create_index(op.f("ix_task_instance_pool_state"), "task_instance", ["pool", "state"], unique=False)
    op.create_index(op.f("ix_task_instance_state"), "task_instance", ["state"], unique=False)
    op.create_table(
        "task_instance_try",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=50), nullable=False),
        sa.Column("start_date", sa.DateTime(), nullable=True),
        sa.Column("end_date", sa.DateTime(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("hostname", sa.String(length=1000), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("operator", sa.String(length=1000), nullable=True),
        sa.Column("rendered_fields", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_instance_try")),
        sa.UniqueConstraint("dag_id", "run_id", "task_id", "map_index", "try_number", name=op.f("uq_task_instance_try_dag_id_run_id_task_id_map_index_try_number")),
    )
    op.create_table(
        "variable",
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("val", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_variable")),
    )
    op.create_table(
        "xcom",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xcom")),
        sa.UniqueConstraint("dag_id", "run_id", "task_id", "map_index", "key", name=op.f("uq_xcom_dag_id_run_id_task_id_map_index_key")),
    )
    op.create_table(
        "dag_version",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("snapshot_hash", sa.String(length=64), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("fileloc", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dag_id"], ["dag.dag_id"], name=op.f("fk_dag_version_dag_id_dag"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dag_version")),
        sa.UniqueConstraint("dag_id", "version_number", name=op.f("uq_dag_version_dag_id_version_number")),
    )
    op.create_index(op.f("ix_dag_version_dag_id_snapshot_hash"), "dag_version", ["dag_id", "snapshot_hash"], unique=False)
    op.create_table(
        "dag_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("run_type", sa.String(length=50), nullable=False),
        sa.Column("state", sa.String(length=50), nullable=False),
        sa.Column("logical_date", sa.DateTime(), nullable=True),
        sa.Column("data_interval_start", sa.DateTime(), nullable=True),
        sa.Column("data_interval_end", sa.DateTime(), nullable=True),
        sa.Column("run_after", sa.DateTime(), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=True),
        sa.Column("start_date", sa.DateTime(), nullable=True),
        sa.Column("end_date", sa.DateTime(), nullable=True),
        sa.Column("conf", sa.JSON(), nullable=False),
        sa.Column("external_trigger", sa.Boolean(), nullable=False),
        sa.Column("triggered_by", sa.String(length=50), nullable=True),
        sa.Column("dag_version_id", sa.Integer(), nullable=True),
        sa.Column("clear_number", sa.Integer(), nullable=False),
        sa.Column("last_scheduling_decision", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["dag_id"], ["dag.dag_id"], name=op.f("fk_dag_run_dag_id_dag"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["dag_version_id"], ["dag_version.id"], name=op.f("fk_dag_run_dag_version_id_dag_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dag_run")),
        sa.UniqueConstraint("dag_id", "run_id", name=op.f("uq_dag_run_dag_id_run_id")),
    )
    op.create_index(op.f("ix_dag_run_dag_id_logical_date"), "dag_run", ["dag_id", "logical_date"], unique=False)
    op.create_index(op.f("ix_dag_run_dag_id_state"), "dag_run", ["dag_id", "state"], unique=False)
    op.create_index(op.f("ix_dag_run_state"), "dag_run", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dag_run_state"), table_name="dag_run")
    op.drop_index(op.f("ix_dag_run_dag_id_state"), table_name="dag_run")
    op.drop_index(op.f("ix_dag_run_dag_id_logical_date"), table_name="dag_run")
    op.drop_table("dag_run")
    op.drop_index(op.f("ix_dag_version_dag_id_snapshot_hash"), table_name="dag_version")
    op.drop_table("dag_version")
    op.drop_table("xcom")
    op.drop_table("variable")
    op.drop_table("task_instance_try")
    op.drop_index(op.f("ix_task_instance_state"), table_name="task_instance")
    op.drop_index(op.f("ix_task_instance_pool_state"), table_name="task_instance")
    op.drop_index(op.f("ix_task_instance_dag_id_run_id_state"), table_name="task_instance")
    op.drop_table("task_instance")
    op.drop_table("slot_pool")
    op.drop_table("parsed_file")
    op.drop_index(op.f("ix_log_dag_id_dttm"), table_name="log")
    op.drop_table("log")
    op.drop_index(op.f("ix_job_job_type_state"), table_name="job")
    op.drop_table("job")
    op.drop_table("import_error")
    op.drop_table("dag")
