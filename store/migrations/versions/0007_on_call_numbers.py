"""on-call numbers: the phone (encrypted) an urgent-team member is called on when she is off
the console

Revision ID: 0007_on_call_numbers
Revises: 0006_provisioning
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_on_call_numbers"
down_revision: str | None = "0006_provisioning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("on_call_number", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("on_call_number")
