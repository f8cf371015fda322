"""The code of each DAG version (Airflow 3's ``dag_code``): ``dag_code`` keeps a DAG file's text once
per content hash, and ``dag_version.source_hash`` names the text a version was parsed from, so the UI
and ``/api/v2/dagSources?version_number=`` show an old version's code after the file changed.
Versions stored before this revision have no code (their file is read from disk while they are the
latest). Downgrading drops the kept code.

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


def downgrade() -> None:
    with op.batch_alter_table("dag_version", schema=None) as batch_op:
        batch_op.drop_column("source_hash")
    op.drop_table("dag_code")
