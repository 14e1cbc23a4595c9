"""recomputed ephys features

Why: ephys features are now recomputed from the mirrored NWB recordings, next to the published
``ephys_features``: one row per cell and definition set in ``ephys_features_recomputed`` (the
published column names) and one row per current-clamp sweep in ``ephys_sweep_features``. The
per-spike table is a Parquet dataset, not a table.

Revision ID: 9d2e6b1c4a37
Revises: 7c1f3a5e9b20
Create Date: 2026-11-24 05:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "9d2e6b1c4a37"
down_revision: str | None = "7c1f3a5e9b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The published EphysFeature columns as of this revision (a migration never follows later
# changes of the schema module).
_FEATURES = (
    "vrest", "ri", "tau", "sag", "vm_for_sag", "f_i_curve_slope", "adaptation", "latency",
    "avg_isi",
    *(f"{feature}_{protocol}"
      for protocol in ("long_square", "short_square", "ramp")
      for feature in ("threshold_i", "threshold_t", "threshold_v", "peak_t", "peak_v",
                      "trough_t", "trough_v", "fast_trough_t", "fast_trough_v",
                      "slow_trough_t", "slow_trough_v", "upstroke_downstroke_ratio")),
)
_FLAGS = ("has_burst", "has_pause", "has_delay")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _provenance() -> list[sa.Column[object]]:
    return [
        sa.Column("well_known_file_id", sa.BigInteger(), nullable=False),
        sa.Column("source_sha256", sa.Text(), nullable=False),
        sa.Column("code_version", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "ephys_sweep_features",
        sa.Column("specimen_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sweep_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("definitions", sa.Text(), nullable=False),
        *_provenance(),
        sa.Column("stimulus_name", sa.Text(), nullable=True),
        *(sa.Column(name, sa.Double(), nullable=True) for name in (
            "stimulus_amplitude_pa", "window_start_s", "window_end_s")),
        sa.Column("spike_count", sa.BigInteger(), nullable=True),
        *(sa.Column(name, sa.Double(), nullable=True) for name in (
            "avg_rate", "latency", "first_isi", "mean_isi", "median_isi", "isi_cv", "adapt",
            "v_baseline")),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("specimen_id", "sweep_number", "definitions",
                                name=op.f("pk_ephys_sweep_features")),
    )
    op.create_table(
        "ephys_features_recomputed",
        sa.Column("specimen_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("definitions", sa.Text(), nullable=False),
        *_provenance(),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rheobase_sweep_number", sa.BigInteger(), nullable=True),
        sa.Column("hero_sweep_number", sa.BigInteger(), nullable=True),
        *(sa.Column(name, sa.Double(), nullable=True) for name in _FEATURES),
        *(sa.Column(name, sa.Boolean(), nullable=True) for name in _FLAGS),
        sa.Column("sweep_problems", _json(), nullable=True),
        sa.PrimaryKeyConstraint("specimen_id", "definitions",
                                name=op.f("pk_ephys_features_recomputed")),
    )


def downgrade() -> None:
    op.drop_table("ephys_features_recomputed")
    op.drop_table("ephys_sweep_features")
