"""faults: alerts, the ledger's fingerprint, and the subject key that joins identical requests

Revision ID: 0004_faults
Revises: 0006_complaints
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from dsr.core.ledger.models import UtcDateTime

revision = "0004_faults"
down_revision = "0006_complaints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("emailed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_reason"), ["reason"], unique=False)
    op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subject_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_requests_subject_key"), ["subject_key"], unique=False)
        batch_op.create_index("ix_requests_email_status", ["email", "status"], unique=False)
    # The audit chain's tip exists from the start, so the sealer always has a row to lock.
    op.execute(
        "INSERT INTO audit_head (id, seq, hash) SELECT 1, 0, '" + "0" * 64 + "' "
        "WHERE NOT EXISTS (SELECT 1 FROM audit_head WHERE id = 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_email_status")
        batch_op.drop_index(batch_op.f("ix_requests_subject_key"))
        batch_op.drop_column("subject_key")
    op.drop_table("deployment")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_reason"))
        batch_op.drop_index(batch_op.f("ix_alerts_request_id"))
    op.drop_table("alerts")
