"""extensions tokens checkpoints audit runs encryption columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 04:42:39.233761
"""
from alembic import op
import sqlalchemy as sa



revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('audit_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('copies', sa.Integer(), nullable=False),
    sa.Column('files', sa.Integer(), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('problems', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=100), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('extensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aip_id', sa.String(length=100), nullable=False),
    sa.Column('years', sa.Integer(), nullable=False),
    sa.Column('approver_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('previous_until', sa.Date(), nullable=True),
    sa.Column('new_until', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['aip_id'], ['aips.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['approver_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extensions_aip_id'), ['aip_id'], unique=False)

    with op.batch_alter_table('aip_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stored_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('stored_size', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('wrapped_key', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('kek_id', sa.String(length=100), nullable=True))

    with op.batch_alter_table('aips', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_version', sa.String(length=100), nullable=True))

    with op.batch_alter_table('copies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('copy_form', sa.String(length=40), nullable=False, server_default='sao y'))

    with op.batch_alter_table('replicas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))




def downgrade() -> None:

    with op.batch_alter_table('replicas', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('lease_owner')

    with op.batch_alter_table('copies', schema=None) as batch_op:
        batch_op.drop_column('copy_form')

    with op.batch_alter_table('aips', schema=None) as batch_op:
        batch_op.drop_column('previous_version')

    with op.batch_alter_table('aip_files', schema=None) as batch_op:
        batch_op.drop_column('kek_id')
        batch_op.drop_column('wrapped_key')
        batch_op.drop_column('stored_size')
        batch_op.drop_column('stored_sha256')

    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extensions_aip_id'))

    op.drop_table('extensions')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('checkpoints')
    op.drop_table('audit_runs')

