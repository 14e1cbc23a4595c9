"""Dataset rows as PostgreSQL tables, data test results

Why: PostgreSQL cannot read Parquet, so a PostgreSQL warehouse had no spikes and no
reconstruction nodes or markers. There the sync now also loads the rows of the datasets
without sample arrays into tables of the same names and columns as DuckDB's views over the
files (DuckDB keeps the views: these tables are created on PostgreSQL only). ``sync_runs``
keeps the outcome of the data tests run at the end of each sync (``data_tests``, JSON: small,
read with its run by ``ctmirror status``).

Revision ID: b3d7f1a9c2e4
Revises: 8a4c6e2f1b57
Create Date: 2026-12-05 10:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b3d7f1a9c2e4"
down_revision: str | None = "8a4c6e2f1b57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_I16, _I32, _I64 = sa.SmallInteger, sa.Integer, sa.BigInteger
_F32, _F64, _TEXT, _BOOL = sa.REAL, sa.Double, sa.Text, sa.Boolean
NOT_NULL = "not null"

# The datasets' columns as of this revision: (name, type, [NOT_NULL,] description).
_RECONSTRUCTION_NODES = (
    ("specimen_id", _I64, NOT_NULL, 'cell (Specimen.id)'),
    ("neuron_reconstruction_id", _I64, NOT_NULL, 'NeuronReconstruction.id'),
    ("well_known_file_id", _I64, NOT_NULL, "the SWC file's WellKnownFile.id"),
    ("node_id", _I64, NOT_NULL, 'SWC id'),
    ("type", _I16, NOT_NULL, '1 soma, 2 axon, 3 basal dendrite, 4 apical dendrite'),
    ("x", _F64, NOT_NULL, 'µm, image space'),
    ("y", _F64, NOT_NULL, 'µm, image space'),
    ("z", _F64, NOT_NULL, 'µm, image space'),
    ("radius", _F64, NOT_NULL, 'µm'),
    ("parent_id", _I64, NOT_NULL, 'SWC parent id, -1 for a root'),
)
_RECONSTRUCTION_MARKERS = (
    ("specimen_id", _I64, NOT_NULL, 'cell (Specimen.id)'),
    ("neuron_reconstruction_id", _I64, NOT_NULL, 'NeuronReconstruction.id'),
    ("well_known_file_id", _I64, NOT_NULL, "the marker file's WellKnownFile.id"),
    ("x", _F64, NOT_NULL, 'as in the file (AllenSDK subtracts one voxel: 0.1144, 0.1144, 0.28 µm)'),
    ("y", _F64, NOT_NULL, 'as in the file'),
    ("z", _F64, NOT_NULL, 'as in the file'),
    ("radius", _F64, 'as in the file'),
    ("shape", _I32, 'Vaa3D shape code'),
    ("name", _I32, NOT_NULL, 'marker code: 10 cut dendrite, 20 axon not reconstructed'),
    ("comment", _TEXT, 'free text'),
    ("color_r", _I32, 'display colour'),
    ("color_g", _I32, 'display colour'),
    ("color_b", _I32, 'display colour'),
)
_EPHYS_SPIKES = (
    ("specimen_id", _I64, NOT_NULL, 'cell (Specimen.id)'),
    ("well_known_file_id", _I64, NOT_NULL, "the NWB file's WellKnownFile.id"),
    ("definitions", _TEXT, NOT_NULL, 'definition set: allen2016 or ipfx'),
    ("sweep_number", _I32, NOT_NULL, 'N of Sweep_N'),
    ("spike_number", _I32, NOT_NULL, "0 for the sweep's first spike"),
    ("threshold_index", _I64, 'sample of the threshold (-1: none)'),
    ("threshold_t", _F64, 'time of the threshold, s from sweep start'),
    ("threshold_v", _F64, 'membrane potential at the threshold, mV'),
    ("threshold_i", _F64, 'stimulus current at the threshold, pA'),
    ("peak_index", _I64, 'sample of the peak (-1: none)'),
    ("peak_t", _F64, 'time of the peak, s from sweep start'),
    ("peak_v", _F64, 'membrane potential at the peak, mV'),
    ("peak_i", _F64, 'stimulus current at the peak, pA'),
    ("trough_index", _I64, 'sample of the trough (-1: none)'),
    ("trough_t", _F64, 'time of the trough, s from sweep start'),
    ("trough_v", _F64, 'membrane potential at the trough, mV'),
    ("trough_i", _F64, 'stimulus current at the trough, pA'),
    ("fast_trough_index", _I64, 'sample of the fast trough (-1: none)'),
    ("fast_trough_t", _F64, 'time of the fast trough, s from sweep start'),
    ("fast_trough_v", _F64, 'membrane potential at the fast trough, mV'),
    ("fast_trough_i", _F64, 'stimulus current at the fast trough, pA'),
    ("slow_trough_index", _I64, 'sample of the slow trough (-1: none)'),
    ("slow_trough_t", _F64, 'time of the slow trough, s from sweep start'),
    ("slow_trough_v", _F64, 'membrane potential at the slow trough, mV'),
    ("slow_trough_i", _F64, 'stimulus current at the slow trough, pA'),
    ("adp_index", _I64, 'sample of the after-depolarisation (-1: none)'),
    ("adp_t", _F64, 'time of the after-depolarisation, s from sweep start'),
    ("adp_v", _F64, 'membrane potential at the after-depolarisation, mV'),
    ("adp_i", _F64, 'stimulus current at the after-depolarisation, pA'),
    ("upstroke_index", _I64, 'sample of the maximum dV/dt before the peak'),
    ("upstroke", _F64, 'maximum dV/dt, V/s'),
    ("upstroke_t", _F64, 's'),
    ("upstroke_v", _F64, 'mV'),
    ("downstroke_index", _I64, 'sample of the minimum dV/dt after the peak'),
    ("downstroke", _F64, 'minimum dV/dt, V/s'),
    ("downstroke_t", _F64, 's'),
    ("downstroke_v", _F64, 'mV'),
    ("upstroke_downstroke_ratio", _F64, 'upstroke / -downstroke'),
    ("width", _F64, 'width at half height, s'),
    ("isi_type", _TEXT, 'direct or detour'),
    ("clipped", _BOOL, 'the recording ends before the spike repolarises'),
)
_GLIF_SPIKES = (
    ("specimen_id", _I64, NOT_NULL, 'cell (Specimen.id) whose sweeps drove the model'),
    ("neuronal_model_id", _I64, NOT_NULL, 'the GLIF model (NeuronalModel.id)'),
    ("sweep_number", _I32, NOT_NULL, 'N of Sweep_N whose stimulus was injected'),
    ("spike_number", _I32, NOT_NULL, "0 for the sweep's first model spike"),
    ("spike_time_step", _I64, NOT_NULL,
     'sample of the spike (AllenSDK spike_time_steps; time = step / sampling '
     'rate)'),
    ("spike_time_s", _F64, NOT_NULL,
     'interpolated spike time, s from sweep start, as AllenSDK saves it (one '
     'step late: int(t * rate) is the spike step)'),
)

_TABLES: tuple[tuple[str, str, tuple[tuple[Any, ...], ...], tuple[str, ...]], ...] = (
    ("reconstruction_nodes",
     "One row per node of each mirrored SWC reconstruction, as in the file.",
     _RECONSTRUCTION_NODES, ("well_known_file_id", "node_id")),
    ("reconstruction_markers",
     "One row per point of each mirrored reconstruction marker file, as in the file.",
     _RECONSTRUCTION_MARKERS, ()),
    ("ephys_spikes",
     "One row per action potential detected in a current-clamp sweep, per definition set "
     "(file: spikes-<NWB file id>-<definitions>.parquet).",
     _EPHYS_SPIKES, ("specimen_id", "definitions", "sweep_number", "spike_number")),
    ("glif_spikes",
     "One row per spike of a GLIF model simulated on a current-clamp sweep of its cell "
     "(file: glif-<neuronal_model_id>.parquet).",
     _GLIF_SPIKES, ("neuronal_model_id", "sweep_number", "spike_number")),
)


def _column(name: str, type_: Any, *rest: Any) -> sa.Column[Any]:
    return sa.Column(name, type_(), nullable=NOT_NULL not in rest, autoincrement=False,
                     comment=rest[-1])


def upgrade() -> None:
    op.add_column("sync_runs", sa.Column(
        "data_tests",
        sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
        nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, comment, columns, key in _TABLES:
        constraints = [sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{name}"))] if key else []
        op.create_table(name, *(_column(*c) for c in columns), *constraints, comment=comment)
        if not key:
            op.create_index(op.f(f"ix_{name}_well_known_file_id"), name, ["well_known_file_id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, *_ in reversed(_TABLES):
            op.drop_table(name)
    op.drop_column("sync_runs", "data_tests")
