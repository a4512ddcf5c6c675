"""money rules: the Zoho org's home currency (invoices of orgs without multi-currency carry
none), each mandate's bank account (the popup tells payers apart), the amount a mandate
request was sent for (auto-collect never takes a changed amount)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("zoho_connections", sa.Column("home_currency", sa.String(length=3), nullable=True))
    for name, length in (
        ("customer_bank_account_id", 32),
        ("bank_name", 255),
        ("account_number_ending", 16),
        ("account_holder_name", 255),
    ):
        op.add_column("gc_mandates", sa.Column(name, sa.String(length=length), nullable=True))
    op.add_column("mandate_requests", sa.Column("amount", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("mandate_requests", "amount")
    for name in (
        "customer_bank_account_id",
        "bank_name",
        "account_number_ending",
        "account_holder_name",
    ):
        op.drop_column("gc_mandates", name)
    op.drop_column("zoho_connections", "home_currency")
