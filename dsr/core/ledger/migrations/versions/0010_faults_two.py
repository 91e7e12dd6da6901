"""faults, round two: the ledger's id written by the migration, the broker namespaces it has
claimed, an outbox row's delivery lease and hand-over, acknowledged alerts

Revision ID: 0009_faults_two
Revises: 0003_security
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

from dsr.core.ledger.models import UtcDateTime

revision = "0010_faults_two"
down_revision = "0009_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The ledger's id exists from the schema's creation on, never first written by a process
    # (every message carries it; a process reads it, never makes one up).
    deployment = sa.table(
        "deployment",
        sa.column("id", sa.Integer()),
        sa.column("fingerprint", sa.String(64)),
        sa.column("created_at", UtcDateTime()),
    )
    conn = op.get_bind()
    if conn.execute(sa.select(deployment.c.id).where(deployment.c.id == 1)).first() is None:
        op.bulk_insert(
            deployment,
            [{"id": 1, "fingerprint": uuid.uuid4().hex, "created_at": datetime.now(UTC)}],
        )
    op.create_table(
        "broker_claims",
        sa.Column("namespace", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("claimed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("namespace"),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("handed_over_at", UtcDateTime(), nullable=True))
        batch.add_column(
            sa.Column("resends", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("acknowledged_at", UtcDateTime(), nullable=True))
        batch.add_column(
            sa.Column(
                "acknowledged_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("acknowledged_by")
        batch.drop_column("acknowledged_at")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("resends")
        batch.drop_column("handed_over_at")
        batch.drop_column("claimed_at")
    op.drop_table("broker_claims")
