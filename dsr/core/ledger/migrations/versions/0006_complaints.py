"""complaints: the text of a complaint and its staff answer

Revision ID: 0006_complaints
Revises: 0005_notices
Create Date: 2026-11-29 02:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from dsr.core.ledger.models import UtcDateTime

revision = "0006_complaints"
down_revision = "0005_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("answer_template", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=True),
        sa.Column("answered_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("answered_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("request_id"),
    )


def downgrade() -> None:
    op.drop_table("complaints")
