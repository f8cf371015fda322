"""Adoption: task_instance.queued_by_job_id, the scheduler job that queued an instance.

A live scheduler resets the queued instances of a scheduler whose job stopped heartbeating
(Airflow's ``queued_by_job_id``), instead of waiting out ``task_queued_timeout``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queued_by_job_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task_instance", schema=None) as batch_op:
        batch_op.drop_column("queued_by_job_id")
