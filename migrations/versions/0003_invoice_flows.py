"""invoice payments, mandate requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 20:09:08.731717
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('invoice_payments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('installation_id', sa.Uuid(), nullable=False),
    sa.Column('invoice_id', sa.String(length=32), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('mandate_id', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('gc_payment_id', sa.String(length=32), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_by_user', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_invoice_payments_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_payments')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_invoice_payments_idempotency_key'))
    )
    op.create_index('ix_invoice_payments_payment', 'invoice_payments', ['installation_id', 'gc_payment_id'], unique=False)
    op.create_index('uq_invoice_payments_open', 'invoice_payments', ['installation_id', 'invoice_id'], unique=True, postgresql_where=sa.text("state = 'live'"), sqlite_where=sa.text("state = 'live'"))
    op.create_table('mandate_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('installation_id', sa.Uuid(), nullable=False),
    sa.Column('invoice_id', sa.String(length=32), nullable=False),
    sa.Column('contact_id', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('billing_request_id', sa.String(length=32), nullable=False),
    sa.Column('flow_id', sa.String(length=32), nullable=False),
    sa.Column('flows_created', sa.Integer(), nullable=False),
    sa.Column('authorisation_url', sa.Text(), nullable=False),
    sa.Column('flow_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('mandate_id', sa.String(length=32), nullable=True),
    sa.Column('customer_id', sa.String(length=32), nullable=True),
    sa.Column('emails_sent', sa.Integer(), nullable=False),
    sa.Column('requested_by_user', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_mandate_requests_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mandate_requests'))
    )
    op.create_index('ix_mandate_requests_billing_request', 'mandate_requests', ['installation_id', 'billing_request_id'], unique=False)
    op.create_index('uq_mandate_requests_pending', 'mandate_requests', ['installation_id', 'invoice_id'], unique=True, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
    op.add_column('installations', sa.Column('auto_collect_on_mandate', sa.Boolean(), server_default=sa.text('false'), nullable=False))


def downgrade() -> None:
    op.drop_column('installations', 'auto_collect_on_mandate')
    op.drop_index('uq_mandate_requests_pending', table_name='mandate_requests', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
    op.drop_index('ix_mandate_requests_billing_request', table_name='mandate_requests')
    op.drop_table('mandate_requests')
    op.drop_index('uq_invoice_payments_open', table_name='invoice_payments', postgresql_where=sa.text("state = 'live'"), sqlite_where=sa.text("state = 'live'"))
    op.drop_index('ix_invoice_payments_payment', table_name='invoice_payments')
    op.drop_table('invoice_payments')
