"""interpreter on accept: a line may conference its interpreter as soon as an agent accepts a
caller who needs one

Revision ID: 0013_interpreter_on_accept
Revises: 0012_escalation_closing
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_interpreter_on_accept"
down_revision: str | None = "0012_escalation_closing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "interpreter_on_accept", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.drop_column("interpreter_on_accept")
