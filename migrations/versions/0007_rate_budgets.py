"""rate budgets shared across processes, customer reconciliation stamp

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rate_budgets',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('tokens', sa.Float(), nullable=False),
    sa.Column('refilled_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_budgets'))
    )
    op.add_column('gc_event_cursors', sa.Column('customers_reconciled_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('gc_event_cursors', 'customers_reconciled_at')
    op.drop_table('rate_budgets')
