"""interpreters: the interpreting services conferenced into calls, per language (their number
or SIP URI and their account digits encrypted)

Revision ID: 0010_interpreters
Revises: 0009_audit_chain
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_interpreters"
down_revision: str | None = "0009_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interpreters",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("line_id", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("dtmf", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_interpreters_line_id", "interpreters", ["line_id"])


def downgrade() -> None:
    op.drop_index("ix_interpreters_line_id", table_name="interpreters")
    op.drop_table("interpreters")
