"""Health flag thresholds per programme: the days after a pair's start without any note
(the "first month", 30 until now) and the low feedback mean (2.5 until now) join
quiet_weeks and pause_weeks as programme settings.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 11:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("programme") as batch:
        batch.add_column(
            sa.Column("first_month_days", sa.Integer(), server_default="30", nullable=False)
        )
        batch.add_column(sa.Column("low_rating", sa.Float(), server_default="2.5", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("programme") as batch:
        batch.drop_column("low_rating")
        batch.drop_column("first_month_days")
