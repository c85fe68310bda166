"""Guides written in the browser: an optional review-by date per guide and video links per
revision (so restoring a revision restores its videos too).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 03:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("guide") as batch:
        batch.add_column(sa.Column("review_by", sa.Date(), nullable=True))
    with op.batch_alter_table("guide_revision") as batch:
        batch.add_column(sa.Column("videos", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("guide_revision") as batch:
        batch.drop_column("videos")
    with op.batch_alter_table("guide") as batch:
        batch.drop_column("review_by")
