"""Accounts that can be ended and throttled: person.active, person.session_version and the
login_failure table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_login_failure_key"), "login_failure", ["key"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_login_failure_key"), table_name="login_failure")
    op.drop_table("login_failure")
    with op.batch_alter_table("person") as batch:
        batch.drop_column("session_version")
        batch.drop_column("active")
