"""identity assurance: identifiers with provenance, candidates, identity history, revoked
exports, deferred erasures

Revision ID: 0002_identity
Revises: 0004_faults
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from dsr.core.ledger.models import UtcDateTime

revision = "0002_identity"
down_revision = "0004_faults"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=True),
        sa.Column("value_hash", sa.String(length=64), nullable=False),
        sa.Column("masked", sa.String(length=120), nullable=False),
        sa.Column("provenance", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "kind", "value_hash"),
    )
    with op.batch_alter_table("request_identifiers", schema=None) as batch_op:
        batch_op.create_index("ix_request_identifiers_request_id", ["request_id"], unique=False)
        batch_op.create_index("ix_request_identifiers_value_hash", ["value_hash"], unique=False)

    op.create_table(
        "request_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("record_key", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("matched", sa.JSON(), nullable=False),
        sa.Column("trusted_match", sa.Boolean(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "connector", "table_name", "record_key"),
    )
    with op.batch_alter_table("request_candidates", schema=None) as batch_op:
        batch_op.create_index("ix_request_candidates_request_id", ["request_id"], unique=False)

    op.create_table(
        "identity_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("link_kind", sa.String(length=16), nullable=False),
        sa.Column("link_value", sa.String(length=320), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("record_key", sa.String(length=200), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("identity_history", schema=None) as batch_op:
        batch_op.create_index("ix_identity_history_link", ["link_kind", "link_value"], unique=False)

    op.create_table(
        "export_revocations",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("erased_by", sa.String(length=32), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    with op.batch_alter_table("export_revocations", schema=None) as batch_op:
        batch_op.create_index("ix_export_revocations_erased_by", ["erased_by"], unique=False)

    op.create_table(
        "erasure_deferrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("record_key", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("search", sa.JSON(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("done_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "connector", "table_name", "record_key"),
    )
    with op.batch_alter_table("erasure_deferrals", schema=None) as batch_op:
        batch_op.create_index("ix_erasure_deferrals_request_id", ["request_id"], unique=False)
        batch_op.create_index("ix_erasure_deferrals_connector", ["connector"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("erasure_deferrals", schema=None) as batch_op:
        batch_op.drop_index("ix_erasure_deferrals_connector")
        batch_op.drop_index("ix_erasure_deferrals_request_id")
    op.drop_table("erasure_deferrals")
    with op.batch_alter_table("export_revocations", schema=None) as batch_op:
        batch_op.drop_index("ix_export_revocations_erased_by")
    op.drop_table("export_revocations")
    with op.batch_alter_table("identity_history", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_history_link")
    op.drop_table("identity_history")
    with op.batch_alter_table("request_candidates", schema=None) as batch_op:
        batch_op.drop_index("ix_request_candidates_request_id")
    op.drop_table("request_candidates")
    with op.batch_alter_table("request_identifiers", schema=None) as batch_op:
        batch_op.drop_index("ix_request_identifiers_value_hash")
        batch_op.drop_index("ix_request_identifiers_request_id")
    op.drop_table("request_identifiers")
