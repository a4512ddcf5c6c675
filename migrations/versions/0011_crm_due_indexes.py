"""CRM batches read due rows in id order from partial indexes instead of sorting the backlog

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ('ix_gc_customers_crm_due', 'gc_customers', "crm_state = 'pending'",
     "crm_state = 'pending'"),
    ('ix_gc_payments_crm_due', 'gc_payments', "crm_state = 'pending' AND crm_hold IS false",
     "crm_state = 'pending' AND crm_hold IS 0"),
)


def upgrade() -> None:
    for name, table, postgresql, sqlite in _INDEXES:
        op.create_index(name, table, ['installation_id', 'id'], unique=False,
                        postgresql_where=sa.text(postgresql), sqlite_where=sa.text(sqlite))


def downgrade() -> None:
    for name, table, _, _ in _INDEXES:
        op.drop_index(name, table_name=table)
