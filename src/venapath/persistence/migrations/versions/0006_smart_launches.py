"""SMART launches: the state of each launch and, once authorised, its server-side session.

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smart_launches",
        sa.Column("state_digest", sa.String(length=64), nullable=False),
        sa.Column("browser_digest", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="ehr or standalone"),
        sa.Column("fhir_base", sa.String(length=500), nullable=False),
        sa.Column(
            "configuration",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The EHR's SMART configuration.",
        ),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column(
            "code_verifier",
            sa.String(length=128),
            nullable=True,
            comment="PKCE verifier; cleared once the code is exchanged.",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_digest", sa.String(length=64), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column(
            "principal",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
            comment="subject, display, patient_id of the launch user.",
        ),
        sa.PrimaryKeyConstraint("state_digest", name=op.f("pk_smart_launches")),
        sa.UniqueConstraint("session_digest", name=op.f("uq_smart_launches_session_digest")),
    )
    with op.batch_alter_table("smart_launches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_smart_launches_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("smart_launches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_smart_launches_expires_at"))
    op.drop_table("smart_launches")
