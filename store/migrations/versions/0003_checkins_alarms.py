"""check-ins, device alarms, notifications: attempt claims and purposes, alarms, refused
messages, external systems, notifications, caseworker tasks

Revision ID: 0003_checkins_alarms
Revises: 0002_recordings
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_checkins_alarms"
down_revision: str | None = "0002_recordings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkin_attempts", schema=None) as batch_op:
        batch_op.alter_column("plan_id", existing_type=sa.String(length=32), nullable=True)
        batch_op.alter_column("slot", existing_type=sa.String(length=32), type_=sa.String(48))
        batch_op.add_column(sa.Column("beneficiary_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=16), server_default="checkin", nullable=False)
        )
        batch_op.add_column(sa.Column("notification_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("dialed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_checkin_attempts_beneficiary_id_beneficiaries"),
            "beneficiaries",
            ["beneficiary_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_checkin_attempts_beneficiary_id"), ["beneficiary_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_checkin_attempts_notification_id"), ["notification_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_checkin_attempts_scheduled_at"), ["scheduled_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_checkin_attempts_call_id"), ["call_id"], unique=False)
    op.execute(
        "UPDATE checkin_attempts SET beneficiary_id = (SELECT checkin_plans.beneficiary_id "
        "FROM checkin_plans WHERE checkin_plans.id = checkin_attempts.plan_id) "
        "WHERE beneficiary_id IS NULL"
    )

    op.create_table(
        "device_alarms",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=160), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.Column("beneficiary_id", sa.String(length=32), nullable=False),
        sa.Column("alarm_type", sa.String(length=16), nullable=False),
        sa.Column("latitude", sa.Text(), nullable=True),
        sa.Column("longitude", sa.Text(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("located_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("battery", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("escalation_id", sa.String(length=64), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name=op.f("fk_device_alarms_beneficiary_id_beneficiaries"),
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_alarms_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_alarms")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_device_alarms_dedupe_key")),
    )
    with op.batch_alter_table("device_alarms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_alarms_beneficiary_id"), ["beneficiary_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_device_alarms_device_id"), ["device_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_device_alarms_escalated_at"), ["escalated_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_device_alarms_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "rejected_device_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=48), nullable=False),
        sa.Column("device_ref", sa.String(length=64), nullable=True),
        sa.Column("remote_addr", sa.Text(), nullable=True),
        sa.Column("raw_body", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_device_messages")),
    )
    with op.batch_alter_table("rejected_device_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rejected_device_messages_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "external_systems",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_systems")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_external_systems_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_external_systems_name")),
    )

    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("system_id", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("data", sa.Text(), nullable=True),
        sa.Column("beneficiary_ids", sa.JSON(), nullable=False),
        sa.Column("unknown_references", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fanned_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["external_systems.id"],
            name=op.f("fk_notifications_system_id_external_systems"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("system_id", "external_id", name=op.f("uq_notifications_system_id")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "caseworker_tasks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("beneficiary_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source_key", sa.String(length=128), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name=op.f("fk_caseworker_tasks_beneficiary_id_beneficiaries"),
        ),
        sa.ForeignKeyConstraint(
            ["done_by"], ["agents.id"], name=op.f("fk_caseworker_tasks_done_by_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caseworker_tasks")),
        sa.UniqueConstraint("source_key", name=op.f("uq_caseworker_tasks_source_key")),
    )
    with op.batch_alter_table("caseworker_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_caseworker_tasks_beneficiary_id"), ["beneficiary_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_caseworker_tasks_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("caseworker_tasks")
    op.drop_table("notifications")
    op.drop_table("external_systems")
    op.drop_table("rejected_device_messages")
    op.drop_table("device_alarms")
    with op.batch_alter_table("checkin_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkin_attempts_call_id"))
        batch_op.drop_index(batch_op.f("ix_checkin_attempts_scheduled_at"))
        batch_op.drop_index(batch_op.f("ix_checkin_attempts_notification_id"))
        batch_op.drop_index(batch_op.f("ix_checkin_attempts_beneficiary_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_checkin_attempts_beneficiary_id_beneficiaries"), type_="foreignkey"
        )
        batch_op.drop_column("ended_at")
        batch_op.drop_column("dialed_at")
        batch_op.drop_column("notification_id")
        batch_op.drop_column("purpose")
        batch_op.drop_column("beneficiary_id")
        batch_op.alter_column("slot", existing_type=sa.String(48), type_=sa.String(length=32))
        batch_op.alter_column("plan_id", existing_type=sa.String(length=32), nullable=False)
