"""amounts in 64-bit integers: GoCardless amounts in minor units can exceed 2**31 - 1

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 04:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AMOUNTS = ('gc_payments', 'invoice_payments')


def upgrade() -> None:
    for table in _AMOUNTS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column('amount', type_=sa.BigInteger(), existing_type=sa.Integer(),
                               existing_nullable=False)


def downgrade() -> None:
    # Fails, as it should, if an amount no longer fits 32 bits.
    for table in _AMOUNTS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column('amount', type_=sa.Integer(), existing_type=sa.BigInteger(),
                               existing_nullable=False)
