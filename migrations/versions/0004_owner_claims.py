"""claims and leases held by a live owner (an advisory lock), not until a time

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Leases and claims of the old kind only ever protected running work: none survives.
    op.execute('DELETE FROM leases')
    with op.batch_alter_table('leases') as batch:
        batch.drop_column('expires_at')
        batch.alter_column('owner', type_=sa.Integer(), existing_type=sa.String(length=64),
                           postgresql_using='NULL')
    with op.batch_alter_table('gc_events') as batch:
        batch.drop_column('claimed_until')
        batch.add_column(sa.Column('claimed_by', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute('DELETE FROM leases')
    with op.batch_alter_table('gc_events') as batch:
        batch.drop_column('claimed_by')
        batch.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('leases') as batch:
        batch.alter_column('owner', type_=sa.String(length=64), existing_type=sa.Integer())
        batch.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False))
