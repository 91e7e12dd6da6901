"""mailbox events (caps per mailbox, wrong codes per mailbox, "this was not me") and four eyes

Revision ID: 0009_security
Revises: 0003_security
"""

import sqlalchemy as sa
from alembic import op

from dsr.core.ledger.models import UtcDateTime

revision = "0009_security"
down_revision = "0003_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailbox_events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("mailbox", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_mailbox_events_lookup", "mailbox_events", ["mailbox", "kind", "at"])
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("approved_by", sa.String(120), nullable=True))
        batch.add_column(sa.Column("export_granted_by", sa.String(120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("export_granted_by")
        batch.drop_column("approved_by")
    op.drop_index("ix_mailbox_events_lookup", "mailbox_events")
    op.drop_table("mailbox_events")
