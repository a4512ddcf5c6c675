"""amounts in 64-bit integers: GoCardless amounts in minor units can exceed 2**31 - 1

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 04:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AMOUNTS = (('gc_payments', False), ('invoice_payments', False), ('mandate_requests', True))


def upgrade() -> None:
    for table, nullable in _AMOUNTS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column('amount', type_=sa.BigInteger(), existing_type=sa.Integer(),
                               existing_nullable=nullable)


def downgrade() -> None:
    # Fails, as it should, if an amount no longer fits 32 bits.
    for table, nullable in _AMOUNTS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column('amount', type_=sa.Integer(), existing_type=sa.BigInteger(),
                               existing_nullable=nullable)
