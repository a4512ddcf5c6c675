"""mirror indexes that a Sync Now write does not have to touch: the CRM state only where it
is pending, invoice and payout ids only where a payment has one

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PARTIAL = (
    ('ix_gc_payments_crm_pending', ['installation_id'], "crm_state = 'pending'"),
    ('ix_gc_payments_invoice', ['installation_id', 'invoice_id'], 'invoice_id IS NOT NULL'),
    ('ix_gc_payments_payout', ['installation_id', 'payout_id'], 'payout_id IS NOT NULL'),
)


def upgrade() -> None:
    # ix_gc_customers_crm_due already holds exactly the customers' pending rows.
    op.drop_index('ix_gc_customers_crm_state', table_name='gc_customers')
    for name in ('ix_gc_payments_crm_state', 'ix_gc_payments_invoice', 'ix_gc_payments_payout'):
        op.drop_index(name, table_name='gc_payments')
    for name, columns, where in _PARTIAL:
        op.create_index(name, 'gc_payments', columns, unique=False,
                        postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def downgrade() -> None:
    for name, _, _ in _PARTIAL:
        op.drop_index(name, table_name='gc_payments')
    op.create_index('ix_gc_payments_payout', 'gc_payments', ['installation_id', 'payout_id'])
    op.create_index('ix_gc_payments_invoice', 'gc_payments', ['installation_id', 'invoice_id'])
    op.create_index('ix_gc_payments_crm_state', 'gc_payments', ['installation_id', 'crm_state'])
    op.create_index('ix_gc_customers_crm_state', 'gc_customers', ['installation_id', 'crm_state'])
