"""Which revisions link to which uploaded video (by stored name, indexed), filled from the
revisions already stored.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 01:20:00
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As kb.models.uploaded_names (a migration keeps its own copy: the model may change later).
_UPLOAD_LINK = re.compile(r"(?m)^\s*/guides/videos/([a-f0-9]{32}\.(?:mp4|webm|ogv))\s*(?:\||$)")


def upgrade() -> None:
    table = op.create_table(
        "video_reference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["revision_id"], ["guide_revision.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("revision_id", "name"),
    )
    op.create_index(
        op.f("ix_video_reference_revision_id"), "video_reference", ["revision_id"], unique=False
    )
    op.create_index(op.f("ix_video_reference_name"), "video_reference", ["name"], unique=False)
    revisions = op.get_bind().execute(
        sa.text("SELECT id, videos FROM guide_revision WHERE videos LIKE '%/guides/videos/%'")
    )
    rows = [
        {"revision_id": rid, "name": name}
        for rid, videos in revisions
        for name in dict.fromkeys(_UPLOAD_LINK.findall(videos or ""))
    ]
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_index(op.f("ix_video_reference_name"), table_name="video_reference")
    op.drop_index(op.f("ix_video_reference_revision_id"), table_name="video_reference")
    op.drop_table("video_reference")
