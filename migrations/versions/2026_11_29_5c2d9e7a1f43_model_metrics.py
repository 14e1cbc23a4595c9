"""GLIF model metrics

Why: every mirrored GLIF model is now simulated on its cell's recording and its explained
variance ratio recomputed; ``model_metrics`` holds one row per model with the recomputed and the
published value side by side, the inputs' sha256s and, when no value could be computed, why.
The simulated spikes (and, on request, voltages) are Parquet datasets, not tables.

Revision ID: 5c2d9e7a1f43
Revises: 3e8a1f6c2b90
Create Date: 2026-11-29 09:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5c2d9e7a1f43"
down_revision: str | None = "3e8a1f6c2b90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "model_metrics",
        sa.Column("neuronal_model_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("specimen_id", sa.BigInteger(), nullable=True),
        sa.Column("neuronal_model_template_id", sa.BigInteger(), nullable=True),
        sa.Column("level", sa.BigInteger(), nullable=True),
        sa.Column("explained_variance_ratio", sa.Double(), nullable=True),
        sa.Column("ev_data", sa.Double(), nullable=True),
        sa.Column("ev_model", sa.Double(), nullable=True),
        sa.Column("neuronal_model_run_id", sa.BigInteger(), nullable=True),
        sa.Column("published_explained_variance_ratio", sa.Double(), nullable=True),
        sa.Column("noise2_sweeps", sa.BigInteger(), nullable=True),
        sa.Column("noise2_sweep_numbers", _json(), nullable=True),
        sa.Column("simulated_sweeps", sa.BigInteger(), nullable=True),
        sa.Column("model_spikes", sa.BigInteger(), nullable=True),
        sa.Column("config_well_known_file_id", sa.BigInteger(), nullable=True),
        sa.Column("config_sha256", sa.Text(), nullable=True),
        sa.Column("recording_well_known_file_id", sa.BigInteger(), nullable=True),
        sa.Column("recording_sha256", sa.Text(), nullable=True),
        sa.Column("voltages_written", sa.Boolean(), nullable=False),
        sa.Column("code_version", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("neuronal_model_id", name=op.f("pk_model_metrics")),
    )


def downgrade() -> None:
    op.drop_table("model_metrics")
