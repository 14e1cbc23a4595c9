"""The biophysical templates' mechanism files

Why: ``BiophysicalApi.cache_data()`` downloads the NEURON ``.mod`` files a model's template
lists (``NeuronalModelTemplate.well_known_files``). Those files are attached to a ``Product``,
so only the template's list links them to it: a join table the API exposes as no model. The
sync now crawls the list and keeps its pairs in
``neuronal_model_template_well_known_files`` (never deleted: a pair gone upstream gets
``removed_at``), so ``ctmirror serve`` can list the files under the template as the API does.

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


def upgrade() -> None:
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
