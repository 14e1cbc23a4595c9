"""file mirror

Why: the sync now downloads every linked file and converts recordings, reconstructions and
model parameter files. ``mirror_files`` is the mirror's state (one row per verified file: where
it came from, its size, sha256 and validators, and what it was converted into, from which
bytes); ``glif_neuron_configs``, ``biophysical_fits`` and ``biophysical_fit_parameters`` hold
the parameters read from the model files; ``sync_errors.stage`` tells a failed query from a
failed download or conversion.

Revision ID: 7c1f3a5e9b20
Revises: 4b7e2d9a0c01
Create Date: 2026-11-24 00:20:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7c1f3a5e9b20"
down_revision: str | None = "4b7e2d9a0c01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _model_key() -> sa.Column[int]:
    return sa.Column("neuronal_model_id", sa.BigInteger(), autoincrement=False, nullable=False)


def upgrade() -> None:
    op.add_column("sync_errors", sa.Column("stage", sa.Text(), nullable=True))
    op.create_table(
        "mirror_files",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("specimen_id", sa.BigInteger(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("relpath", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("downloaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_hash", sa.Text(), nullable=True),
        sa.Column("first_sync_id", sa.Text(), nullable=False),
        sa.Column("last_sync_id", sa.Text(), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("converted_to", sa.Text(), nullable=True),
        sa.Column("converted_sha256", sa.Text(), nullable=True),
        sa.Column("converter_version", sa.BigInteger(), nullable=True),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("converted_rows", sa.BigInteger(), nullable=True),
        sa.Column("conversion_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source", "source_id", name=op.f("pk_mirror_files")),
    )
    op.create_table(
        "glif_neuron_configs",
        _model_key(),
        sa.Column("well_known_file_id", sa.BigInteger(), nullable=False),
        sa.Column("source_sha256", sa.Text(), nullable=False),
        sa.Column("level", sa.BigInteger(), nullable=False),
        sa.Column("el_reference", sa.Double(), nullable=True),
        sa.Column("el", sa.Double(), nullable=True),
        sa.Column("c", sa.Double(), nullable=True),
        sa.Column("r_input", sa.Double(), nullable=True),
        sa.Column("th_inf", sa.Double(), nullable=True),
        sa.Column("dt", sa.Double(), nullable=True),
        sa.Column("spike_cut_length", sa.BigInteger(), nullable=True),
        sa.Column("init_voltage", sa.Double(), nullable=True),
        sa.Column("init_threshold", sa.Double(), nullable=True),
        sa.Column("asc_tau_array", _json(), nullable=True),
        sa.Column("asc_amp_array", _json(), nullable=True),
        sa.Column("coeffs", _json(), nullable=True),
        sa.Column("voltage_dynamics_method", sa.Text(), nullable=True),
        sa.Column("threshold_dynamics_method", sa.Text(), nullable=True),
        sa.Column("asc_dynamics_method", sa.Text(), nullable=True),
        sa.Column("voltage_reset_method", sa.Text(), nullable=True),
        sa.Column("threshold_reset_method", sa.Text(), nullable=True),
        sa.Column("asc_reset_method", sa.Text(), nullable=True),
        sa.Column("config", _json(), nullable=False),
        sa.PrimaryKeyConstraint("neuronal_model_id", name=op.f("pk_glif_neuron_configs")),
    )
    op.create_table(
        "biophysical_fits",
        _model_key(),
        sa.Column("well_known_file_id", sa.BigInteger(), nullable=False),
        sa.Column("source_sha256", sa.Text(), nullable=False),
        sa.Column("ra", sa.Double(), nullable=True),
        sa.Column("e_pas", sa.Double(), nullable=True),
        sa.Column("celsius", sa.Double(), nullable=True),
        sa.Column("v_init", sa.Double(), nullable=True),
        sa.Column("junction_potential", sa.Double(), nullable=True),
        sa.Column("fit_sweeps", _json(), nullable=True),
        sa.Column("cm", _json(), nullable=True),
        sa.Column("erev", _json(), nullable=True),
        sa.Column("config", _json(), nullable=False),
        sa.PrimaryKeyConstraint("neuronal_model_id", name=op.f("pk_biophysical_fits")),
    )
    op.create_table(
        "biophysical_fit_parameters",
        _model_key(),
        sa.Column("section", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("mechanism", sa.Text(), nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("neuronal_model_id", "section", "name",
                                name=op.f("pk_biophysical_fit_parameters")),
    )


def downgrade() -> None:
    op.drop_table("biophysical_fit_parameters")
    op.drop_table("biophysical_fits")
    op.drop_table("glif_neuron_configs")
    op.drop_table("mirror_files")
    op.drop_column("sync_errors", "stage")
