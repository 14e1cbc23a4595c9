"""Record quarantine and run close-out

Why: a record that breaks its model's contract (wrong type, id out of BIGINT range, invalid
Unicode, conflicting duplicates) used to abort the whole load and leave the run ``running``; it
is now kept raw in ``sync_quarantine`` and the other records load. ``sync_runs`` counts the
quarantined records and the removals held back as a suspicious drop, and keeps a failed run's
one-line reason.

Revision ID: 8a4c6e2f1b57
Revises: 5c2d9e7a1f43
Create Date: 2026-12-05 07:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8a4c6e2f1b57"
down_revision: str | None = "5c2d9e7a1f43"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("sync_quarantine_id_seq")))
    op.create_table(
        "sync_quarantine",
        sa.Column(
            "quarantine_id", sa.BigInteger(),
            server_default=sa.text("nextval('sync_quarantine_id_seq')"), nullable=False,
        ),
        sa.Column("sync_id", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("quarantine_id", name=op.f("pk_sync_quarantine")),
    )
    op.add_column("sync_runs", sa.Column("quarantined", sa.BigInteger(), nullable=True))
    op.add_column("sync_runs", sa.Column("held_removals", sa.BigInteger(), nullable=True))
    op.add_column("sync_runs", sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("sync_runs", "reason")
    op.drop_column("sync_runs", "held_removals")
    op.drop_column("sync_runs", "quarantined")
    op.drop_table("sync_quarantine")
    op.execute(sa.schema.DropSequence(sa.Sequence("sync_quarantine_id_seq")))
