"""Programmes and enrolment (issue 17, stages 1 to 3): a programme's purpose, competences,
languages, session rhythm, note template, matching weights and whether people may apply;
enrolments (invited, agreed, enrolled, declined, left; the preparatory conversation's date,
a mentor's expertise and readiness); when each pair member accepted the pair agreement.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 03:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("programme") as batch:
        batch.add_column(sa.Column("description", sa.Text(), server_default="", nullable=False))
        batch.add_column(
            sa.Column("competences", sa.String(length=500), server_default="", nullable=False)
        )
        batch.add_column(
            sa.Column("languages", sa.String(length=50), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("rhythm_weeks", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("note_template", sa.Text(), server_default="", nullable=False))
        batch.add_column(
            sa.Column("matching_weights", sa.Text(), server_default="", nullable=False)
        )
        batch.add_column(
            sa.Column(
                "open_for_applications", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    with op.batch_alter_table("pair") as batch:
        batch.add_column(sa.Column("mentor_agreed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("mentee_agreed_at", sa.DateTime(), nullable=True))
    op.create_table(
        "enrolment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("motivation", sa.Text(), nullable=False),
        sa.Column("expertise", sa.Text(), nullable=False),
        sa.Column("ready", sa.Boolean(), nullable=False),
        sa.Column("prepared_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["programme_id"], ["programme.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("programme_id", "person_id"),
    )
    op.create_index(op.f("ix_enrolment_programme_id"), "enrolment", ["programme_id"])
    op.create_index(op.f("ix_enrolment_person_id"), "enrolment", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_enrolment_person_id"), table_name="enrolment")
    op.drop_index(op.f("ix_enrolment_programme_id"), table_name="enrolment")
    op.drop_table("enrolment")
    with op.batch_alter_table("pair") as batch:
        batch.drop_column("mentee_agreed_at")
        batch.drop_column("mentor_agreed_at")
    with op.batch_alter_table("programme") as batch:
        for column in (
            "open_for_applications",
            "matching_weights",
            "note_template",
            "rhythm_weeks",
            "languages",
            "competences",
            "description",
        ):
            batch.drop_column(column)
