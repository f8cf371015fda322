"""Notes on runs and task instances (Airflow's ``dag_run_note`` and ``task_instance_note``), and
variables encrypted at rest (``variable.is_encrypted``, as Airflow's).

A note is one row per run / task instance, written by a user through the API, UI or CLI and kept
apart from the reason the scheduler records with a state change (``task_instance.note``). Notes go
with their run or instance (ON DELETE CASCADE). Existing variables stay readable: they are marked
not encrypted, and ``rotate-fernet-key`` encrypts them. Downgrading drops the notes and the flag.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dag_run_note",
        sa.Column("dag_run_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=250), nullable=True),
        sa.Column("content", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dag_run_id"], ["dag_run.id"], name=op.f("fk_dag_run_note_dag_run_id_dag_run"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("dag_run_id", name=op.f("pk_dag_run_note")),
    )
    op.create_table(
        "task_instance_note",
        sa.Column("ti_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=250), nullable=True),
        sa.Column("content", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ti_id"], ["task_instance.id"],
                                name=op.f("fk_task_instance_note_ti_id_task_instance"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ti_id", name=op.f("pk_task_instance_note")),
    )
    with op.batch_alter_table("variable", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_encrypted", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("variable", schema=None) as batch_op:
        batch_op.drop_column("is_encrypted")
    op.drop_table("task_instance_note")
    op.drop_table("dag_run_note")
