"""callbacks: callers to phone back, worked by agents through routing; the lines that offer
"press 2 to be called back" in a surge

Revision ID: 0011_callbacks
Revises: 0010_interpreters
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_callbacks"
down_revision: str | None = "0010_interpreters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("callback_offer_when_waiting", sa.Integer(), nullable=True))
    op.create_table(
        "callbacks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source_call_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("line_id", sa.String(length=32), nullable=False),
        sa.Column("beneficiary_id", sa.String(length=32), nullable=True),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("risk_level", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_call_id", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dialled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_callbacks_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name=op.f("fk_callbacks_beneficiary_id_beneficiaries"),
        ),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_callbacks_line_id_lines")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
        sa.UniqueConstraint("attempt_call_id", name=op.f("uq_callbacks_attempt_call_id")),
        sa.UniqueConstraint("source_call_id", name=op.f("uq_callbacks_source_call_id")),
    )
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callbacks_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_callbacks_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callbacks_status"))
        batch_op.drop_index(batch_op.f("ix_callbacks_due_at"))
    op.drop_table("callbacks")
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.drop_column("callback_offer_when_waiting")
