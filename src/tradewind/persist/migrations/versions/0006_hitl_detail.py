"""Human-in-the-loop: hitl_detail, the request of a waiting HITL task (one row per try) and its response.

New table only; its rows go with their DAG run (foreign key, ON DELETE CASCADE). Downgrading drops it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hitl_detail",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("trigger_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("defaults", sa.JSON(), nullable=True),
        sa.Column("multiple", sa.Boolean(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("assigned_users", sa.JSON(), nullable=False),
        sa.Column("timeout_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("responded_at", sa.DateTime(), nullable=True),
        sa.Column("responded_by_user_id", sa.String(length=512), nullable=True),
        sa.Column("responded_by_user_name", sa.String(length=512), nullable=True),
        sa.Column("chosen_options", sa.JSON(), nullable=True),
        sa.Column("params_input", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"],
                                name=op.f("fk_hitl_detail_dag_id_dag_run"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hitl_detail")),
        sa.UniqueConstraint("dag_id", "run_id", "task_id", "map_index", "try_number",
                            name=op.f("uq_hitl_detail_dag_id_run_id_task_id_map_index_try_number")),
    )
    with op.batch_alter_table("hitl_detail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hitl_detail_responded_at"), ["responded_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_hitl_detail_trigger_id"), ["trigger_id"], unique=False)


def downgrade() -> None:
    op.drop_table("hitl_detail")
