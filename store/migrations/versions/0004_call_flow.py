"""calls: the IVR flow a call was opened with

Revision ID: 0004_call_flow
Revises: 0003_checkins_alarms
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_call_flow"
down_revision: str | None = "0003_checkins_alarms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flow", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("flow")
