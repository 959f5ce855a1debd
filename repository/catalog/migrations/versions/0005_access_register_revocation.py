"""access: copy register request fields and status; who revoked a grant and why

Revision ID: 0005_access
Revises: 0004_storage
Create Date: 2026-11-25 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_access'
down_revision = '0004_storage'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('copies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=20), nullable=False,
                                      server_default='made'))
        batch_op.add_column(sa.Column('request_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('purpose_code', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('package_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('approver_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_copies_approver_id_users', 'users', ['approver_id'],
                                    ['id'])
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('revoke_reason', sa.Text(), nullable=True))
        batch_op.create_foreign_key('fk_grants_revoked_by_id_users', 'users',
                                    ['revoked_by_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_constraint('fk_grants_revoked_by_id_users', type_='foreignkey')
        batch_op.drop_column('revoke_reason')
        batch_op.drop_column('revoked_by_id')
    with op.batch_alter_table('copies', schema=None) as batch_op:
        batch_op.drop_constraint('fk_copies_approver_id_users', type_='foreignkey')
        batch_op.drop_column('approver_id')
        batch_op.drop_column('package_sha256')
        batch_op.drop_column('purpose_code')
        batch_op.drop_column('request_id')
        batch_op.drop_column('status')
