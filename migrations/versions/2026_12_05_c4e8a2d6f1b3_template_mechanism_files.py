"""The biophysical templates' mechanism files; raw records as JSON text on PostgreSQL

Why: ``BiophysicalApi.cache_data()`` downloads the NEURON ``.mod`` files a model's template
lists (``NeuronalModelTemplate.well_known_files``). Those files are attached to a ``Product``,
so only the template's list links them to it: a join table the API exposes as no model. The
sync now crawls the list and keeps its pairs in
``neuronal_model_template_well_known_files`` (never deleted: a pair gone upstream gets
``removed_at``), so ``ctmirror serve`` can list the files under the template as the API does.

Why ``raw`` becomes ``json`` on PostgreSQL: ``jsonb`` reorders an object's keys, so serve
answered a PostgreSQL mirror's records with other key orders than the API's, and AllenSDK wrote
different cache files (its CSV columns follow the first record's keys). ``json`` keeps the text
as loaded, as DuckDB's JSON does; the next sync rewrites each unchanged record in the API's
order. DuckDB is unchanged.

Revision ID: c4e8a2d6f1b3
Revises: b3d7f1a9c2e4
Create Date: 2026-12-05 22:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e8a2d6f1b3"
down_revision: str | None = "b3d7f1a9c2e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The mirrored tables as of this revision.
_MIRRORED = (
    "api_cell_types_specimen_details", "specimens", "donors", "structures", "ephys_results",
    "ephys_sweeps", "ephys_features", "neuron_reconstructions", "well_known_files",
    "well_known_file_types", "image_series", "projection_images", "sub_images",
    "neuronal_model_templates", "neuronal_models", "neuronal_model_runs",
)


def _raw_type(kind: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _MIRRORED:
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN raw TYPE {kind} USING raw::{kind}')


def upgrade() -> None:
    _raw_type("json")
    op.create_table(
        "neuronal_model_template_well_known_files",
        sa.Column("neuronal_model_template_id", sa.BigInteger(), autoincrement=False,
                  nullable=False),
        sa.Column("well_known_file_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_sync_id", sa.Text(), nullable=False),
        sa.Column("last_sync_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("neuronal_model_template_id", "well_known_file_id",
                                name=op.f("pk_neuronal_model_template_well_known_files")),
    )


def downgrade() -> None:
    op.drop_table("neuronal_model_template_well_known_files")
    _raw_type("jsonb")
