"""a payment's life in the CRM: refunded amount, failure reason and payout on the mirror,
the invoice reconciliation settings, the Notes/Tasks added per failure event, the refunds
asked for from the widget

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.add_column(
        "gc_payments",
        sa.Column("amount_refunded", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column("gc_payments", sa.Column("failure_reason", sa.Text(), nullable=True))
    op.add_column(
        "gc_payments", sa.Column("failure_reason_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("gc_payments", sa.Column("failure_event_id", sa.String(length=32), nullable=True))
    op.add_column("gc_payments", sa.Column("payout_id", sa.String(length=32), nullable=True))
    op.add_column("gc_payments", sa.Column("payout_date", sa.Date(), nullable=True))
    op.create_index("ix_gc_payments_payout", "gc_payments", ["installation_id", "payout_id"])
    op.add_column(
        "installations",
        sa.Column("invoice_status_collected", sa.String(length=120), nullable=True),
    )
    op.add_column(
        "installations",
        sa.Column(
            "invoice_status_collected_on",
            sa.String(length=16),
            server_default="confirmed",
            nullable=False,
        ),
    )
    op.add_column(
        "installations", sa.Column("invoice_status_failed", sa.String(length=120), nullable=True)
    )
    op.create_table(
        "payment_notices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("installation_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=32), nullable=False),
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("note_id", sa.String(length=32), nullable=True),
        sa.Column("note_started", sa.Boolean(), nullable=False),
        sa.Column("task_id", sa.String(length=32), nullable=True),
        sa.Column("task_started", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["installation_id"], ["installations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_payment_notices_event",
        "payment_notices",
        ["installation_id", "event_id"],
        unique=True,
    )
    op.create_table(
        "payment_refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("installation_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("refund_id", sa.String(length=32), nullable=True),
        sa.Column("requested_by_user", sa.String(length=32), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(["installation_id"], ["installations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payment_refunds_idempotency_key")),
    )
    op.create_index(
        "ix_payment_refunds_payment", "payment_refunds", ["installation_id", "payment_id"]
    )


def downgrade() -> None:
    op.drop_table("payment_refunds")
    op.drop_table("payment_notices")
    for column in ("invoice_status_failed", "invoice_status_collected_on", "invoice_status_collected"):
        op.drop_column("installations", column)
    op.drop_index("ix_gc_payments_payout", table_name="gc_payments")
    for column in ("payout_date", "payout_id", "failure_event_id", "failure_reason_at", "failure_reason", "amount_refunded"):
        op.drop_column("gc_payments", column)
