"""mirror, inbox, sync runs, leases

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 20:05:36.166374
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('leases',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_leases'))
    )
    op.create_table('gc_customers',
    sa.Column('installation_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('email_normalized', sa.String(length=320), nullable=True),
    sa.Column('given_name', sa.String(length=255), nullable=True),
    sa.Column('family_name', sa.String(length=255), nullable=True),
    sa.Column('company_name', sa.String(length=255), nullable=True),
    sa.Column('gc_created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('gc_metadata', sa.JSON(), nullable=False),
    sa.Column('contact_id', sa.String(length=32), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('crm_record_id', sa.String(length=32), nullable=True),
    sa.Column('crm_state', sa.String(length=16), nullable=False),
    sa.Column('crm_version', sa.Integer(), nullable=False),
    sa.Column('crm_synced_version', sa.Integer(), nullable=False),
    sa.Column('crm_error', sa.Text(), nullable=True),
    sa.Column('crm_attempts', sa.Integer(), nullable=False),
    sa.Column('crm_retry_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_gc_customers_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('installation_id', 'id', name=op.f('pk_gc_customers'))
    )
    op.create_index('ix_gc_customers_crm_state', 'gc_customers', ['installation_id', 'crm_state'], unique=False)
    op.create_index('ix_gc_customers_email', 'gc_customers', ['installation_id', 'email_normalized'], unique=False)
    op.create_table('gc_event_cursors',
    sa.Column('installation_id', sa.Uuid(), nullable=False),
    sa.Column('seen_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_gc_event_cursors_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('installation_id', name=op.f('pk_gc_event_cursors'))
    )
    op.create_table('gc_events',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('installation_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.String(length=32), nullable=True),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.String(length=32), nullable=True),
    sa.Column('gc_created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_gc_events_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pk', name=op.f('pk_gc_events')),
    sa.UniqueConstraint('event_id', name=op.f('uq_gc_events_event_id'))
    )
    op.create_index('ix_gc_events_due', 'gc_events', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_gc_events_installation_status', 'gc_events', ['installation_id', 'status'], unique=False)
    op.create_table('gc_mandates',
    sa.Column('installation_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=True),
    sa.Column('scheme', sa.String(length=32), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('reference', sa.String(length=255), nullable=True),
    sa.Column('next_possible_charge_date', sa.Date(), nullable=True),
    sa.Column('gc_created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_gc_mandates_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('installation_id', 'id', name=op.f('pk_gc_mandates'))
    )
    op.create_index('ix_gc_mandates_customer', 'gc_mandates', ['installation_id', 'customer_id'], unique=False)
    op.create_table('gc_payments',
    sa.Column('installation_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('mandate_id', sa.String(length=32), nullable=True),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('charge_date', sa.Date(), nullable=True),
    sa.Column('reference', sa.String(length=255), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('gc_metadata', sa.JSON(), nullable=False),
    sa.Column('invoice_id', sa.String(length=32), nullable=True),
    sa.Column('gc_created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('crm_record_id', sa.String(length=32), nullable=True),
    sa.Column('crm_state', sa.String(length=16), nullable=False),
    sa.Column('crm_version', sa.Integer(), nullable=False),
    sa.Column('crm_synced_version', sa.Integer(), nullable=False),
    sa.Column('crm_error', sa.Text(), nullable=True),
    sa.Column('crm_attempts', sa.Integer(), nullable=False),
    sa.Column('crm_retry_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_gc_payments_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('installation_id', 'id', name=op.f('pk_gc_payments'))
    )
    op.create_index('ix_gc_payments_crm_state', 'gc_payments', ['installation_id', 'crm_state'], unique=False)
    op.create_index('ix_gc_payments_invoice', 'gc_payments', ['installation_id', 'invoice_id'], unique=False)
    op.create_index('ix_gc_payments_mandate', 'gc_payments', ['installation_id', 'mandate_id'], unique=False)
    op.create_table('sync_runs',
    sa.Column('installation_id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('cursor', sa.String(length=255), nullable=True),
    sa.Column('customers_listed', sa.Integer(), nullable=False),
    sa.Column('mandates_listed', sa.Integer(), nullable=False),
    sa.Column('payments_listed', sa.Integer(), nullable=False),
    sa.Column('contacts_linked', sa.Integer(), nullable=False),
    sa.Column('contacts_ambiguous', sa.Integer(), nullable=False),
    sa.Column('events_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sync_runs_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('installation_id', name=op.f('pk_sync_runs'))
    )


def downgrade() -> None:
    op.drop_table('sync_runs')
    op.drop_index('ix_gc_payments_mandate', table_name='gc_payments')
    op.drop_index('ix_gc_payments_invoice', table_name='gc_payments')
    op.drop_index('ix_gc_payments_crm_state', table_name='gc_payments')
    op.drop_table('gc_payments')
    op.drop_index('ix_gc_mandates_customer', table_name='gc_mandates')
    op.drop_table('gc_mandates')
    op.drop_index('ix_gc_events_installation_status', table_name='gc_events')
    op.drop_index('ix_gc_events_due', table_name='gc_events')
    op.drop_table('gc_events')
    op.drop_table('gc_event_cursors')
    op.drop_index('ix_gc_customers_email', table_name='gc_customers')
    op.drop_index('ix_gc_customers_crm_state', table_name='gc_customers')
    op.drop_table('gc_customers')
    op.drop_table('leases')
