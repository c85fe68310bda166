"""A pair's history line keeps its message's template and values (JSON), so that pages show
it in the reader's language; ``what`` stays the English line. Older lines have none (empty)
and are shown as their English line.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 01:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pair_change") as batch:
        batch.add_column(sa.Column("message", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("pair_change") as batch:
        batch.drop_column("message")
