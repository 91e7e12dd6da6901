"""deferred erasures finished by a sweep: the partners told and the subject's follow-up

Revision ID: 0011_deferred_followups
Revises: 0010_faults_two
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from dsr.core.ledger.models import UtcDateTime

revision = "0011_deferred_followups"
down_revision = "0010_faults_two"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasure_followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("connector", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("erased", sa.JSON(), nullable=False),
        sa.Column("notices", sa.JSON(), nullable=False),
        sa.Column("outbox_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_erasure_followups_request_id", "erasure_followups", ["request_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_erasure_followups_request_id", table_name="erasure_followups")
    op.drop_table("erasure_followups")
