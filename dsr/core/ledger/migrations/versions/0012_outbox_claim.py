"""outbox: the delivery lease's holder (a token per attempt), so a sender whose lease was taken
over never sends the final dot

Revision ID: 0012_outbox_claim
Revises: 0011_deferred_followups
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012_outbox_claim"
down_revision = "0011_deferred_followups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("claim", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claim")
