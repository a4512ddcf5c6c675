"""authorize links used once and bound to a browser; setup-email log for the throttle

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('oauth_states') as batch:
        batch.add_column(sa.Column('link_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('browser_hash', sa.String(length=64), nullable=True))
        batch.create_unique_constraint(op.f('uq_oauth_states_link_id'), ['link_id'])
    op.create_table('setup_emails',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('installation_id', sa.Uuid(), nullable=False),
    sa.Column('invoice_id', sa.String(length=32), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], name=op.f('fk_setup_emails_installation_id_installations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_setup_emails'))
    )
    op.create_index('ix_setup_emails_sent', 'setup_emails', ['installation_id', 'sent_at'], unique=False)
    op.create_index('ix_setup_emails_invoice', 'setup_emails', ['installation_id', 'invoice_id', 'sent_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_setup_emails_invoice', table_name='setup_emails')
    op.drop_index('ix_setup_emails_sent', table_name='setup_emails')
    op.drop_table('setup_emails')
    with op.batch_alter_table('oauth_states') as batch:
        batch.drop_constraint(op.f('uq_oauth_states_link_id'), type_='unique')
        batch.drop_column('browser_hash')
        batch.drop_column('link_id')
