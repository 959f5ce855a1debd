"""audit queue: queued copies and their leases in a table of their own, out of replicas

No foreign key to replicas: its check would lock and write every queued copy's row
(repository/catalog/models.py, QueuedCopy).

Revision ID: 0006_queue
Revises: 0005_access
Create Date: 2026-12-03 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_queue'
down_revision = '0005_access'
branch_labels = None
depends_on = None

# What a queued copy carried on replicas; kept across the move in both directions.
_QUEUED = ('SELECT id, aip_id, status, last_checked, queued_at, lease_owner, lease_until '
           'FROM replicas WHERE queued_at IS NOT NULL')


def _urgency(status: str, last_checked) -> int:  # type: ignore[no-untyped-def]
    return 0 if status != 'verified' else 1 if last_checked is None else 2


def upgrade() -> None:
    conn = op.get_bind()
    queued = conn.execute(sa.text(_QUEUED)).all()
    with op.batch_alter_table('replicas', schema=None) as batch_op:
        batch_op.drop_index('ix_replicas_queued_at')
        batch_op.drop_column('queued_at')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('lease_owner')
    op.create_table(
        'audit_queue',
        sa.Column('replica_id', sa.Integer(), nullable=False, autoincrement=False),
        sa.Column('aip_id', sa.String(length=100), nullable=False),
        sa.Column('urgency', sa.SmallInteger(), nullable=False),
        sa.Column('last_checked', sa.DateTime(timezone=True), nullable=True),
        sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('lease_owner', sa.String(length=200), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('replica_id'),
    )
    op.create_index('ix_audit_queue_order', 'audit_queue',
                    ['urgency', 'last_checked', 'aip_id', 'replica_id'], unique=False)
    if queued:  # raw values: each engine gets back exactly what it stored
        conn.execute(sa.text(
            'INSERT INTO audit_queue (replica_id, aip_id, urgency, last_checked, queued_at, '
            'lease_owner, lease_until) VALUES (:replica_id, :aip_id, :urgency, :last_checked, '
            ':queued_at, :lease_owner, :lease_until)'), [
            {'replica_id': rid, 'aip_id': aip, 'urgency': _urgency(status, checked),
             'last_checked': checked, 'queued_at': at, 'lease_owner': owner,
             'lease_until': until}
            for rid, aip, status, checked, at, owner, until in queued])


def downgrade() -> None:
    conn = op.get_bind()
    queued = conn.execute(sa.text(
        'SELECT replica_id, queued_at, lease_owner, lease_until FROM audit_queue')).all()
    op.drop_index('ix_audit_queue_order', table_name='audit_queue')
    op.drop_table('audit_queue')
    with op.batch_alter_table('replicas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_replicas_queued_at', ['queued_at'], unique=False)
    for rid, at, owner, until in queued:
        conn.execute(sa.text('UPDATE replicas SET queued_at = :at, lease_owner = :owner, '
                             'lease_until = :until WHERE id = :id'),
                     {'at': at, 'owner': owner, 'until': until, 'id': rid})
