"""Feedback and evaluation (issue 17, stage 7): a programme's minimum group size for figures
over people, whether free-text answers are shown without names and how long a questionnaire
stays open; the questionnaires' questions (configurable by HR); feedback rows become either a
questionnaire answer (rating or free text) or a mentee's self-rating of one goal.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("programme") as batch:
        batch.add_column(sa.Column("min_group", sa.Integer(), server_default="5", nullable=False))
        batch.add_column(
            sa.Column("anonymous_answers", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch.add_column(
            sa.Column("survey_weeks", sa.Integer(), server_default="3", nullable=False)
        )
    op.create_table(
        "survey_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.String(length=10), nullable=False),
        sa.Column("audience", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("builtin", sa.String(length=40), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("text_pl", sa.Text(), nullable=False),
        sa.Column("text_ru", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["programme_id"], ["programme.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_survey_question_programme_id"), "survey_question", ["programme_id"])
    with op.batch_alter_table("feedback") as batch:
        batch.alter_column("rating", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("programme_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("round", sa.String(length=10), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("role", sa.String(length=10), server_default="", nullable=False))
        batch.add_column(sa.Column("question_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("goal", sa.String(length=300), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("area", sa.String(length=60), server_default="", nullable=False))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
        batch.create_foreign_key("fk_feedback_programme_id", "programme", ["programme_id"], ["id"])
        batch.create_foreign_key(
            "fk_feedback_question_id",
            "survey_question",
            ["question_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_feedback_programme_id", ["programme_id"])
        batch.create_index("ix_feedback_question_id", ["question_id"])


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index("ix_feedback_question_id")
        batch.drop_index("ix_feedback_programme_id")
        batch.drop_constraint("fk_feedback_question_id", type_="foreignkey")
        batch.drop_constraint("fk_feedback_programme_id", type_="foreignkey")
        for column in (
            "updated_at",
            "area",
            "goal",
            "question_id",
            "role",
            "round",
            "programme_id",
        ):
            batch.drop_column(column)
    op.execute("DELETE FROM feedback WHERE rating IS NULL")
    with op.batch_alter_table("feedback") as batch:
        batch.alter_column("rating", existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f("ix_survey_question_programme_id"), table_name="survey_question")
    op.drop_table("survey_question")
    with op.batch_alter_table("programme") as batch:
        for column in ("survey_weeks", "anonymous_answers", "min_group"):
            batch.drop_column(column)
