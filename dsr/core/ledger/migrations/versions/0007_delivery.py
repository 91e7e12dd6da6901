"""outbox.finished_at: what a sent message changes is recorded once, apart from the sent mark

Revision ID: 0007_delivery
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from dsr.core.ledger.models import UtcDateTime

revision = "0007_delivery"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("finished_at", UtcDateTime(), nullable=True))
    # Rows sent before this revision had their consequences recorded with the sent mark.
    op.execute("UPDATE outbox SET finished_at = sent_at WHERE status = 'sent'")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("finished_at")
