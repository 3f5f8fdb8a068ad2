"""Patients' private check-in links (token hashes only); active episodes newest first.

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_in_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("procedure_id", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("check_in_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_check_in_links_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedures.id"],
            name=op.f("fk_check_in_links_procedure_id_procedures"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_in_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_check_in_links_token_hash")),
    )
    op.create_index(
        op.f("ix_check_in_links_patient_id"), "check_in_links", ["patient_id"], unique=False
    )
    op.create_index("ix_episodes_status_updated", "episodes", ["status", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_episodes_status_updated", table_name="episodes")
    op.drop_index(op.f("ix_check_in_links_patient_id"), table_name="check_in_links")
    op.drop_table("check_in_links")
