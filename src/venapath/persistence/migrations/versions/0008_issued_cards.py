"""Issued CDS cards (feedback is attributed to the rules of the card it names); the worklist's
indexes: active episodes newest first with the id settling ties (so pages neither repeat nor
skip one, and the order is read from the index instead of sorting every active episode), each
episode's newest assessment, check-ins newest first.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cds_issued_cards",
        sa.Column("uuid", sa.String(length=128), nullable=False),
        sa.Column("service_id", sa.String(length=100), nullable=False),
        sa.Column(
            "rule_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="Rules behind the card.",
        ),
        sa.Column(
            "actions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="Actions the card concerns.",
        ),
        sa.Column("knowledge_version", sa.String(length=64), nullable=False),
        sa.Column("patient_ref", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_cds_issued_cards")),
    )
    op.create_index(
        "ix_assessments_episode_evaluated", "assessments", ["episode_id", "evaluated_at"]
    )
    op.create_index(op.f("ix_check_ins_submitted_at"), "check_ins", ["submitted_at"])
    op.drop_index("ix_episodes_status_updated", table_name="episodes")
    op.create_index("ix_episodes_status_updated_id", "episodes", ["status", "updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_episodes_status_updated_id", table_name="episodes")
    op.create_index("ix_episodes_status_updated", "episodes", ["status", "updated_at"])
    op.drop_index(op.f("ix_check_ins_submitted_at"), table_name="check_ins")
    op.drop_index("ix_assessments_episode_evaluated", table_name="assessments")
    op.drop_table("cds_issued_cards")
