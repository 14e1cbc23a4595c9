"""sync_runs.stage_seconds: the time each stage of a run took

Why: an operator (and the run summary in Prefect) asks which stage a slow sync spent its time
in, run after run; the warehouse keeps each run's seconds per stage next to its counts.

Revision ID: d5f9b3e7a2c8
Revises: c4e8a2d6f1b3
Create Date: 2026-12-06 03:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d5f9b3e7a2c8"
down_revision: str | None = "c4e8a2d6f1b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sync_runs", sa.Column(
        "stage_seconds",
        sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
        nullable=True))


def downgrade() -> None:
    op.drop_column("sync_runs", "stage_seconds")
