"""storage: location attributes (network, media, write-once, offline, site) as data

Attributes used to ride in locations.options, which are handed to the backend (an S3
backend refuses keys it does not know). They move to their own column.

Revision ID: 0004_storage
Revises: 0003_audit
Create Date: 2026-11-25 12:00:00
"""
import json

from alembic import op
import sqlalchemy as sa


revision = '0004_storage'
down_revision = '0003_audit'
branch_labels = None
depends_on = None

ATTRIBUTES = ("network", "media", "write_once", "offline", "site")


def upgrade() -> None:
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attributes', sa.JSON(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, options FROM locations")).fetchall()
    for loc_id, options in rows:
        opts = json.loads(options) if isinstance(options, str) else dict(options or {})
        attrs = {k: opts.pop(k) for k in ATTRIBUTES if k in opts}
        for flag in ("write_once", "offline"):
            if isinstance(attrs.get(flag), str):
                attrs[flag] = attrs[flag].strip().lower() in ("true", "yes", "1", "on")
        conn.execute(sa.text("UPDATE locations SET options = :o, attributes = :a WHERE id = :i")
                     .bindparams(sa.bindparam("o", type_=sa.JSON()),
                                 sa.bindparam("a", type_=sa.JSON())),
                     {"o": opts, "a": attrs, "i": loc_id})


def downgrade() -> None:
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.drop_column('attributes')
