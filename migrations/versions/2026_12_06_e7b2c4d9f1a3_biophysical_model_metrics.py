"""Biophysical model metrics

Why: every mirrored biophysical model whose cell has a recording is now simulated with NEURON on
the cell's current-clamp stimuli and scored. ``biophysical_model_metrics`` holds one row per model
with the recomputed feature average beside the published one and the inputs' sha256s,
``biophysical_feature_metrics`` the model's and the recording's value of each feature,
``biophysical_sweep_metrics`` the spike counts per simulated sweep. The model's spikes are the
Parquet dataset ``biophysical_spikes``, also a table on PostgreSQL (as the other spike datasets).

Revision ID: e7b2c4d9f1a3
Revises: d5f9b3e7a2c8
Create Date: 2026-12-06 08:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e7b2c4d9f1a3"
down_revision: str | None = "d5f9b3e7a2c8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "biophysical_model_metrics",
        sa.Column("neuronal_model_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("specimen_id", sa.BigInteger(), nullable=True),
        sa.Column("neuronal_model_template_id", sa.BigInteger(), nullable=True),
        sa.Column("feature_average", sa.Double(), nullable=True),
        sa.Column("features_scored", sa.BigInteger(), nullable=True),
        sa.Column("training_sweep_numbers", _json(), nullable=True),
        sa.Column("neuronal_model_run_id", sa.BigInteger(), nullable=True),
        sa.Column("published_rheobase_feature_average", sa.Double(), nullable=True),
        sa.Column("simulated_sweeps", sa.BigInteger(), nullable=True),
        sa.Column("model_spikes", sa.BigInteger(), nullable=True),
        sa.Column("sweeps_same_spike_count", sa.BigInteger(), nullable=True),
        sa.Column("solver", sa.Text(), nullable=True),
        sa.Column("simulation_seconds", sa.Double(), nullable=True),
        sa.Column("fit_well_known_file_id", sa.BigInteger(), nullable=True),
        sa.Column("fit_sha256", sa.Text(), nullable=True),
        sa.Column("swc_well_known_file_id", sa.BigInteger(), nullable=True),
        sa.Column("swc_sha256", sa.Text(), nullable=True),
        sa.Column("mechanisms_sha256", sa.Text(), nullable=True),
        sa.Column("recording_well_known_file_id", sa.BigInteger(), nullable=True),
        sa.Column("recording_sha256", sa.Text(), nullable=True),
        sa.Column("settings_key", sa.Text(), nullable=False),
        sa.Column("code_version", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("neuronal_model_id", name=op.f("pk_biophysical_model_metrics")),
    )
    op.create_table(
        "biophysical_feature_metrics",
        sa.Column("neuronal_model_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("feature", sa.Text(), nullable=False),
        sa.Column("specimen_id", sa.BigInteger(), nullable=True),
        sa.Column("model_value", sa.Double(), nullable=True),
        sa.Column("recorded_mean", sa.Double(), nullable=True),
        sa.Column("recorded_sd", sa.Double(), nullable=True),
        sa.Column("recorded_sweeps", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("neuronal_model_id", "feature",
                                name=op.f("pk_biophysical_feature_metrics")),
    )
    op.create_table(
        "biophysical_sweep_metrics",
        sa.Column("neuronal_model_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sweep_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("specimen_id", sa.BigInteger(), nullable=True),
        sa.Column("stimulus_name", sa.Text(), nullable=True),
        sa.Column("training", sa.Boolean(), nullable=False),
        sa.Column("model_spike_count", sa.BigInteger(), nullable=False),
        sa.Column("recorded_spike_count", sa.BigInteger(), nullable=True),
        sa.Column("run_seconds", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("neuronal_model_id", "sweep_number",
                                name=op.f("pk_biophysical_sweep_metrics")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_table(
            "biophysical_spikes",
            sa.Column("specimen_id", sa.BigInteger(), nullable=False, autoincrement=False,
                      comment="cell (Specimen.id) whose sweeps drove the model"),
            sa.Column("neuronal_model_id", sa.BigInteger(), nullable=False, autoincrement=False,
                      comment="the biophysical model (NeuronalModel.id)"),
            sa.Column("sweep_number", sa.Integer(), nullable=False, autoincrement=False,
                      comment="N of Sweep_N whose stimulus was injected"),
            sa.Column("spike_number", sa.Integer(), nullable=False, autoincrement=False,
                      comment="0 for the sweep's first model spike"),
            sa.Column("spike_time_s", sa.Double(), nullable=False, autoincrement=False,
                      comment="threshold time, s from sweep start"),
            sa.Column("threshold_v", sa.Double(), nullable=True, autoincrement=False,
                      comment="mV, on the model's scale"),
            sa.Column("peak_v", sa.Double(), nullable=True, autoincrement=False,
                      comment="mV, on the model's scale"),
            sa.PrimaryKeyConstraint("neuronal_model_id", "sweep_number", "spike_number",
                                    name=op.f("pk_biophysical_spikes")),
            comment="One row per spike of a biophysical model simulated with NEURON on a "
                    "current-clamp sweep of its cell (file: "
                    "biophys-<neuronal_model_id>.parquet).",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_table("biophysical_spikes")
    op.drop_table("biophysical_sweep_metrics")
    op.drop_table("biophysical_feature_metrics")
    op.drop_table("biophysical_model_metrics")
