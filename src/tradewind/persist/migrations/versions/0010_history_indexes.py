"""Indexes for a long history: ``dag_run (logical_date)`` and ``dag_run (run_after)``.

Listing the runs of every DAG newest first (``/api/v2/dags/~/dagRuns?order_by=-logical_date`` or
``-run_after``, the way Airflow 3's UI lists runs) sorted the whole ``dag_run`` table for each page:
with 100,000 runs that was a top-N sort of every row. With an index led by the sort column the
page is read from the end of the index. The per-DAG orders keep using ``(dag_id, logical_date)``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_dag_run_logical_date"), "dag_run", ["logical_date"], unique=False)
    op.create_index(op.f("ix_dag_run_run_after"), "dag_run", ["run_after"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dag_run_run_after"), table_name="dag_run")
    op.drop_index(op.f("ix_dag_run_logical_date"), table_name="dag_run")
