"""Asset aliases: asset_alias, what each resolves to, the events emitted through them, and the
DAGs scheduled on them.

New tables: asset_alias, asset_alias_asset, asset_alias_asset_event,
dag_schedule_asset_alias_reference. Nothing existing changes, so downgrading drops only these.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "asset_alias",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=1500), nullable=False),
        sa.Column("group", sa.String(length=1500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_alias")),
        sa.UniqueConstraint("name", name=op.f("uq_asset_alias_name")),
    )
    op.create_table(
        "asset_alias_asset",
        sa.Column("alias_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["alias_id"], ["asset_alias.id"], name=op.f("fk_asset_alias_asset_alias_id_asset_alias"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"], name=op.f("fk_asset_alias_asset_asset_id_asset"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alias_id", "asset_id", name=op.f("pk_asset_alias_asset")),
    )
    op.create_table(
        "asset_alias_asset_event",
        sa.Column("alias_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["alias_id"], ["asset_alias.id"],
                                name=op.f("fk_asset_alias_asset_event_alias_id_asset_alias"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["event_id"], ["asset_event.id"],
                                name=op.f("fk_asset_alias_asset_event_event_id_asset_event"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alias_id", "event_id", name=op.f("pk_asset_alias_asset_event")),
    )
    op.create_table(
        "dag_schedule_asset_alias_reference",
        sa.Column("alias_id", sa.Integer(), nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["alias_id"], ["asset_alias.id"],
                                name=op.f("fk_dag_schedule_asset_alias_reference_alias_id_asset_alias"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["dag_id"], ["dag.dag_id"],
                                name=op.f("fk_dag_schedule_asset_alias_reference_dag_id_dag"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alias_id", "dag_id", name=op.f("pk_dag_schedule_asset_alias_reference")),
    )


def downgrade() -> None:
    op.drop_table("dag_schedule_asset_alias_reference")
    op.drop_table("asset_alias_asset_event")
    op.drop_table("asset_alias_asset")
    op.drop_table("asset_alias")
