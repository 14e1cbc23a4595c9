"""recomputed morphology features

Why: morphology features are now recomputed from the mirrored SWC reconstructions, next to the
published ``neuron_reconstructions`` columns: one row per reconstruction and compartment in
``morphology_features_recomputed`` (the published column names and types, plus the cell list's
five ``nr__`` values on the whole-cell row).

Revision ID: 3e8a1f6c2b90
Revises: 9d2e6b1c4a37
Create Date: 2026-11-29 05:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "3e8a1f6c2b90"
down_revision: str | None = "9d2e6b1c4a37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The published NeuronReconstruction and cell-list columns as of this revision (a migration
# never follows later changes of the schema module): counts are integers, the rest doubles.
_DOUBLES = (
    "average_bifurcation_angle_local", "average_bifurcation_angle_remote",
    "average_contraction", "average_diameter", "average_fragmentation",
    "average_parent_daughter_ratio", "hausdorff_dimension", "max_branch_order",
    "max_euclidean_distance", "max_path_distance",
)
_COUNTS = ("number_bifurcations", "number_branches", "number_nodes", "number_stems",
           "number_tips")
_MORE_DOUBLES = ("overall_depth", "overall_height", "overall_width", "soma_surface",
                 "total_length", "total_surface", "total_volume")
_CELL_LIST: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("nr__max_euclidean_distance", sa.Double()), ("nr__number_stems", sa.BigInteger()),
    ("nr__number_bifurcations", sa.BigInteger()), ("nr__average_contraction", sa.Double()),
    ("nr__average_parent_daughter_ratio", sa.Double()),
)


def upgrade() -> None:
    op.create_table(
        "morphology_features_recomputed",
        sa.Column("neuron_reconstruction_id", sa.BigInteger(), autoincrement=False,
                  nullable=False),
        sa.Column("compartment", sa.Text(), nullable=False),
        sa.Column("specimen_id", sa.BigInteger(), nullable=False),
        sa.Column("well_known_file_id", sa.BigInteger(), nullable=False),
        sa.Column("source_sha256", sa.Text(), nullable=False),
        sa.Column("code_version", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(name, sa.Double(), nullable=True) for name in _DOUBLES),
        *(sa.Column(name, sa.BigInteger(), nullable=True) for name in _COUNTS),
        *(sa.Column(name, sa.Double(), nullable=True) for name in _MORE_DOUBLES),
        *(sa.Column(name, kind, nullable=True) for name, kind in _CELL_LIST),
        sa.PrimaryKeyConstraint("neuron_reconstruction_id", "compartment",
                                name=op.f("pk_morphology_features_recomputed")),
    )


def downgrade() -> None:
    # The sync's comparison view reads the table; PostgreSQL refuses to drop it under a view.
    op.execute("DROP VIEW IF EXISTS morphology_features_comparison")
    op.drop_table("morphology_features_recomputed")
