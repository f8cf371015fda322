"""Workflow semantics: mapping labels, sensor reschedules, deferral triggers, backfills, assets.

New tables: task_reschedule, trigger, backfill, backfill_dag_run, asset, asset_event,
dag_schedule_asset_reference, task_outlet_asset_reference, asset_dag_run_queue,
dagrun_asset_event, ab_user (API/UI users), connection (encrypted at rest). New columns: task_instance.rendered_map_index / next_method /
next_kwargs / trigger_id / trigger_timeout, dag_run.backfill_id. Datetimes are naive UTC.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('asset',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=1500), nullable=False),
    sa.Column('uri', sa.String(length=1500), nullable=False),
    sa.Column('group', sa.String(length=1500), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_asset')),
    sa.UniqueConstraint('name', 'uri', name=op.f('uq_asset_name_uri'))
    )
    op.create_table('task_reschedule',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=False),
    sa.Column('task_id', sa.String(length=250), nullable=False),
    sa.Column('map_index', sa.Integer(), nullable=False),
    sa.Column('try_number', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.DateTime(), nullable=False),
    sa.Column('end_date', sa.DateTime(), nullable=False),
    sa.Column('duration', sa.Float(), nullable=False),
    sa.Column('reschedule_date', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_reschedule'))
    )
    with op.batch_alter_table('task_reschedule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_reschedule_dag_id_run_id_task_id_map_index_try_number'), ['dag_id', 'run_id', 'task_id', 'map_index', 'try_number'], unique=False)

    op.create_table('trigger',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('classpath', sa.String(length=1000), nullable=False),
    sa.Column('kwargs', sa.JSON(), nullable=False),
    sa.Column('created_date', sa.DateTime(), nullable=False),
    sa.Column('triggerer_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trigger'))
    )
    with op.batch_alter_table('trigger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trigger_triggerer_id'), ['triggerer_id'], unique=False)

    op.create_table('asset_dag_run_queue',
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('target_dag_id', sa.String(length=250), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_asset_dag_run_queue_asset_id_asset'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_dag_id'], ['dag.dag_id'], name=op.f('fk_asset_dag_run_queue_target_dag_id_dag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id', 'target_dag_id', name=op.f('pk_asset_dag_run_queue'))
    )
    op.create_table('asset_event',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('source_dag_id', sa.String(length=250), nullable=True),
    sa.Column('source_task_id', sa.String(length=250), nullable=True),
    sa.Column('source_run_id', sa.String(length=250), nullable=True),
    sa.Column('source_map_index', sa.Integer(), nullable=True),
    sa.Column('timestamp', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_asset_event_asset_id_asset'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_asset_event'))
    )
    with op.batch_alter_table('asset_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_event_asset_id_timestamp'), ['asset_id', 'timestamp'], unique=False)

    op.create_table('backfill',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('from_date', sa.DateTime(), nullable=False),
    sa.Column('to_date', sa.DateTime(), nullable=False),
    sa.Column('dag_run_conf', sa.JSON(), nullable=False),
    sa.Column('reprocess_behavior', sa.String(length=30), nullable=False),
    sa.Column('max_active_runs', sa.Integer(), nullable=False),
    sa.Column('run_backwards', sa.Boolean(), nullable=False),
    sa.Column('is_paused', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.Column('triggering_user_name', sa.String(length=512), nullable=True),
    sa.ForeignKeyConstraint(['dag_id'], ['dag.dag_id'], name=op.f('fk_backfill_dag_id_dag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backfill'))
    )
    with op.batch_alter_table('backfill', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backfill_dag_id_completed_at'), ['dag_id', 'completed_at'], unique=False)

    op.create_table('dag_schedule_asset_reference',
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_dag_schedule_asset_reference_asset_id_asset'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dag_id'], ['dag.dag_id'], name=op.f('fk_dag_schedule_asset_reference_dag_id_dag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id', 'dag_id', name=op.f('pk_dag_schedule_asset_reference'))
    )
    op.create_table('task_outlet_asset_reference',
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('task_id', sa.String(length=250), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_task_outlet_asset_reference_asset_id_asset'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dag_id'], ['dag.dag_id'], name=op.f('fk_task_outlet_asset_reference_dag_id_dag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id', 'dag_id', 'task_id', name=op.f('pk_task_outlet_asset_reference'))
    )
    op.create_table('backfill_dag_run',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('backfill_id', sa.Integer(), nullable=False),
    sa.Column('dag_run_id', sa.Integer(), nullable=True),
    sa.Column('logical_date', sa.DateTime(), nullable=False),
    sa.Column('exception_reason', sa.String(length=250), nullable=True),
    sa.Column('sort_ordinal', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['backfill_id'], ['backfill.id'], name=op.f('fk_backfill_dag_run_backfill_id_backfill'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backfill_dag_run')),
    sa.UniqueConstraint('backfill_id', 'logical_date', name=op.f('uq_backfill_dag_run_backfill_id_logical_date'))
    )
    op.create_table('dagrun_asset_event',
    sa.Column('dag_run_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dag_run_id'], ['dag_run.id'], name=op.f('fk_dagrun_asset_event_dag_run_id_dag_run'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['asset_event.id'], name=op.f('fk_dagrun_asset_event_event_id_asset_event'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dag_run_id', 'event_id', name=op.f('pk_dagrun_asset_event'))
    )
    op.create_table('ab_user',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=512), nullable=False),
    sa.Column('email', sa.String(length=512), nullable=True),
    sa.Column('first_name', sa.String(length=256), nullable=False),
    sa.Column('last_name', sa.String(length=256), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_login', sa.DateTime(), nullable=True),
    sa.Column('login_count', sa.Integer(), nullable=False),
    sa.Column('fail_login_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ab_user')),
    sa.UniqueConstraint('username', name=op.f('uq_ab_user_username'))
    )
    op.create_table('connection',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conn_id', sa.String(length=250), nullable=False),
    sa.Column('conn_type', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('host', sa.String(length=500), nullable=True),
    sa.Column('schema', sa.String(length=500), nullable=True),
    sa.Column('login', sa.Text(), nullable=True),
    sa.Column('password', sa.Text(), nullable=True),
    sa.Column('port', sa.Integer(), nullable=True),
    sa.Column('is_encrypted', sa.Boolean(), nullable=False),
    sa.Column('is_extra_encrypted', sa.Boolean(), nullable=False),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connection')),
    sa.UniqueConstraint('conn_id', name=op.f('uq_connection_conn_id'))
    )
    with op.batch_alter_table('dag_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('backfill_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_dag_run_backfill_id'), ['backfill_id'], unique=False)

    with op.batch_alter_table('task_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rendered_map_index', sa.String(length=250), nullable=True))
        batch_op.add_column(sa.Column('next_method', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('next_kwargs', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('trigger_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('trigger_timeout', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_task_instance_trigger_id'), ['trigger_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('task_instance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_instance_trigger_id'))
        batch_op.drop_column('trigger_timeout')
        batch_op.drop_column('trigger_id')
        batch_op.drop_column('next_kwargs')
        batch_op.drop_column('next_method')
        batch_op.drop_column('rendered_map_index')

    with op.batch_alter_table('dag_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dag_run_backfill_id'))
        batch_op.drop_column('backfill_id')

    op.drop_table('connection')
    op.drop_table('ab_user')
    op.drop_table('dagrun_asset_event')
    op.drop_table('backfill_dag_run')
    op.drop_table('task_outlet_asset_reference')
    op.drop_table('dag_schedule_asset_reference')
    with op.batch_alter_table('backfill', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backfill_dag_id_completed_at'))

    op.drop_table('backfill')
    with op.batch_alter_table('asset_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_event_asset_id_timestamp'))

    op.drop_table('asset_event')
    op.drop_table('asset_dag_run_queue')
    with op.batch_alter_table('trigger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trigger_triggerer_id'))

    op.drop_table('trigger')
    with op.batch_alter_table('task_reschedule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_reschedule_dag_id_run_id_task_id_map_index_try_number'))

    op.drop_table('task_reschedule')
    op.drop_table('asset')
