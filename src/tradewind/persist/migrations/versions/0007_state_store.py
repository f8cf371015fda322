"""State stores (Airflow 3.3): task_state_store (keys of one task instance, kept across its tries)
and asset_state_store (keys shared per asset).

New tables only; task keys go with their DAG run, asset keys with their asset (ON DELETE
CASCADE). Downgrading drops both.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_state_store",
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"],
                                name=op.f("fk_task_state_store_dag_id_dag_run"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("dag_id", "run_id", "task_id", "map_index", "key", name=op.f("pk_task_state_store")),
    )
    with op.batch_alter_table("task_state_store", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_state_store_expires_at"), ["expires_at"], unique=False)
    op.create_table(
        "asset_state_store",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"], name=op.f("fk_asset_state_store_asset_id_asset"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("asset_id", "key", name=op.f("pk_asset_state_store")),
    )


def downgrade() -> None:
    op.drop_table("asset_state_store")
    op.drop_table("task_state_store")
