"""mandate replacement: a mandate GoCardless replaced names its replacement

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('gc_mandates') as batch:
        batch.add_column(sa.Column('new_mandate_id', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('gc_mandates') as batch:
        batch.drop_column('new_mandate_id')
