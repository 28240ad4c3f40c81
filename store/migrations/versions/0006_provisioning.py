"""provisioning: scopes on external systems (existing ones keep ``notifications``); a
beneficiary's municipality (encrypted) and the system that provisioned her

Revision ID: 0006_provisioning
Revises: 0005_event_subjects
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_provisioning"
down_revision: str | None = "0005_event_subjects"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("external_systems", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scopes", sa.JSON(), nullable=False, server_default='["notifications"]')
        )
    with op.batch_alter_table("beneficiaries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("municipality", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("provisioned_by", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            "fk_beneficiaries_provisioned_by_external_systems",
            "external_systems",
            ["provisioned_by"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("beneficiaries", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_beneficiaries_provisioned_by_external_systems", type_="foreignkey"
        )
        batch_op.drop_column("provisioned_by")
        batch_op.drop_column("municipality")
    with op.batch_alter_table("external_systems", schema=None) as batch_op:
        batch_op.drop_column("scopes")
