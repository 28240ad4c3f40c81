"""call_events: the log takes every subject's id (``alarm:<id>`` ladders, not only calls)

Revision ID: 0005_event_subjects
Revises: 0004_call_flow
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_event_subjects"
down_revision: str | None = "0004_call_flow"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.drop_constraint("fk_call_events_call_id_calls", type_="foreignkey")
        batch_op.alter_column(
            "call_id",
            existing_type=sa.String(length=32),
            type_=sa.String(length=80),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.alter_column(
            "call_id",
            existing_type=sa.String(length=80),
            type_=sa.String(length=32),
            existing_nullable=False,
        )
        batch_op.create_foreign_key("fk_call_events_call_id_calls", "calls", ["call_id"], ["id"])
