"""Sync Now lists in chains: one stored cursor per chain, payment holds, frozen counts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RESOURCES = ('customers', 'mandates', 'payments')


def upgrade() -> None:
    op.create_table('sync_chains',
    sa.Column('installation_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('resource', sa.String(length=16), nullable=False),
    sa.Column('created_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_before', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cursor', sa.String(length=255), nullable=True),
    sa.Column('listed', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('newest_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('oldest_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_sync_chains_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('installation_id', 'name', name=op.f('pk_sync_chains'))
    )
    op.add_column('gc_payments', sa.Column('crm_hold', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('sync_runs') as batch:
        batch.add_column(sa.Column('listing_finished_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('customers_synced', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('customers_rejected', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('payments_synced', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('payments_rejected', sa.Integer(), nullable=True))
    _chains_from_stages()
    with op.batch_alter_table('sync_runs') as batch:
        batch.drop_column('cursor')
        batch.drop_column('customers_listed')
        batch.drop_column('mandates_listed')
        batch.drop_column('payments_listed')


def _chains_from_stages() -> None:
    """A run stopped in a listing stage resumes as chains: the stages before it done, its
    own cursor kept, the ones after it not started; later stages keep their counts."""
    connection = op.get_bind()
    runs = connection.execute(sa.text(
        'SELECT installation_id, stage, cursor, customers_listed, mandates_listed, '
        'payments_listed FROM sync_runs'
    )).mappings().all()
    chains = sa.table(
        'sync_chains',
        sa.column('installation_id', sa.Uuid()),
        sa.column('name', sa.String()),
        sa.column('resource', sa.String()),
        sa.column('cursor', sa.String()),
        sa.column('listed', sa.Integer()),
        sa.column('pages', sa.Integer()),
        sa.column('done', sa.Boolean()),
    )
    rows = []
    for run in runs:
        position = _RESOURCES.index(run['stage']) if run['stage'] in _RESOURCES else 3
        for n, resource in enumerate(_RESOURCES):
            listed = run[f'{resource}_listed'] or 0
            rows.append({
                'installation_id': run['installation_id'],
                'name': resource,
                'resource': resource,
                'cursor': run['cursor'] if n == position else None,
                'listed': listed,
                'pages': -(-listed // 500),
                'done': n < position,
            })
    if rows:
        op.bulk_insert(chains, rows)
    connection.execute(sa.text(
        "UPDATE sync_runs SET stage = 'listing' "
        "WHERE stage IN ('customers', 'mandates', 'payments')"
    ))


def downgrade() -> None:
    with op.batch_alter_table('sync_runs') as batch:
        batch.add_column(sa.Column('cursor', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('customers_listed', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('mandates_listed', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('payments_listed', sa.Integer(), server_default='0', nullable=False))
        batch.drop_column('payments_rejected')
        batch.drop_column('payments_synced')
        batch.drop_column('customers_rejected')
        batch.drop_column('customers_synced')
        batch.drop_column('listing_finished_at')
    # The stage-by-stage code lists again from the start: the mirror's upserts absorb it.
    op.execute("UPDATE sync_runs SET stage = 'customers' WHERE stage = 'listing'")
    op.drop_column('gc_payments', 'crm_hold')
    op.drop_table('sync_chains')
