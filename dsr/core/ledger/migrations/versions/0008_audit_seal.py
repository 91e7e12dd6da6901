"""audit log appended without a lock, sealed into the chain by one sealer

Revision ID: 0008_audit_seal
Revises: 0007_delivery
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_audit_seal"
down_revision = "0007_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=True))
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=True)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=True)
        batch.create_unique_constraint("uq_audit_events_position", ["position"])
    # Every event so far was chained on append: its place in the chain is its number.
    op.execute("UPDATE audit_events SET position = seq")
    op.create_index(
        "ix_audit_events_unsealed",
        "audit_events",
        ["seq"],
        postgresql_where=sa.text("position IS NULL"),
        sqlite_where=sa.text("position IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_unsealed", "audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_constraint("uq_audit_events_position", type_="unique")
        batch.drop_column("position")
