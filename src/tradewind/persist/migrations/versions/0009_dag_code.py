"""The code of each DAG version (Airflow 3's ``dag_code``): ``dag_code`` keeps a DAG file's text once
per content hash, and ``dag_version.source_hash`` names the text a version was parsed from, so the UI
and ``/api/v2/dagSources?version_number=`` show an old version's code after the file changed.
Versions stored before this revision have no code (their file is read from disk while they are the
latest). The ``state`` indexes of ``dag_run`` and ``task_instance`` become ``(state, end_date)``: the
same lookups by state, and "finished since" (the home page's last 24 hours) without reading every
finished row. Downgrading drops the kept code and restores the plain indexes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dag_code",
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("fileloc", sa.Text(), nullable=False),
        sa.Column("source_code", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source_hash", name=op.f("pk_dag_code")),
    )
    with op.batch_alter_table("dag_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_hash", sa.String(length=64), nullable=True))
    for table in ("dag_run", "task_instance"):
        op.drop_index(op.f(f"ix_{table}_state"), table_name=table)
        op.create_index(op.f(f"ix_{table}_state_end_date"), table, ["state", "end_date"], unique=False)


def downgrade() -> None:
    for table in ("dag_run", "task_instance"):
        op.drop_index(op.f(f"ix_{table}_state_end_date"), table_name=table)
        op.create_index(op.f(f"ix_{table}_state"), table, ["state"], unique=False)
    with op.batch_alter_table("dag_version", schema=None) as batch_op:
        batch_op.drop_column("source_hash")
    op.drop_table("dag_code")
