"""audit schedules: queued copies, richer audit runs, scheduler job store, indexes

Revision ID: 0003_audit
Revises: 0002
Create Date: 2026-11-25 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_audit'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('replicas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_replicas_queued_at', ['queued_at'], unique=False)
        batch_op.create_index('ix_replicas_last_checked', ['last_checked'], unique=False)
        batch_op.create_index('ix_replicas_status', ['status'], unique=False)

    with op.batch_alter_table('audit_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('failed_copies', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('unexpected', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('coverage', sa.Float(), nullable=True))
        batch_op.create_index('ix_audit_runs_started_at', ['started_at'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_type', ['type'], unique=False)

    # APScheduler 3.11's SQLAlchemyJobStore table, created here so Alembic owns the whole
    # catalog schema (the job store's own create is then a no-op).
    op.create_table('apscheduler_jobs',
    sa.Column('id', sa.Unicode(length=191), nullable=False),
    sa.Column('next_run_time', sa.Float(precision=25), nullable=True),
    sa.Column('job_state', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_apscheduler_jobs_next_run_time', ['next_run_time'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('apscheduler_jobs')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_type')
    with op.batch_alter_table('audit_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_runs_started_at')
        batch_op.drop_column('coverage')
        batch_op.drop_column('unexpected')
        batch_op.drop_column('failed_copies')
        batch_op.drop_column('owner')
    with op.batch_alter_table('replicas', schema=None) as batch_op:
        batch_op.drop_index('ix_replicas_status')
        batch_op.drop_index('ix_replicas_last_checked')
        batch_op.drop_index('ix_replicas_queued_at')
        batch_op.drop_column('queued_at')
