"""Electrophysiology features recomputed from the mirrored recordings, beside the published ones.

``ephys_features_recomputed`` has one row per cell and definition set, with the published
``EphysFeature`` column names (:data:`RECOMPUTED_FEATURES`), so a comparison is a join on
``specimen_id`` and a column name. The names come from ``ctmirror.features.names``, the list
the feature registry checks the ephys features against. ``ephys_sweep_features`` has one row
per current-clamp sweep. The spike table (one row per action potential) is the Parquet dataset
``ephys_spikes`` (``schema/parquet.py``). Each row says which recording bytes
(``source_sha256``), definition set and code version made it; a row is recomputed when any of
them changes.

The published voltage-clamp QC columns (``electrode_0_pa``, ``seal_gohm``,
``input_resistance_mohm``) are not here: the sweeps they need are not in the public NWB files.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Double, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from ctmirror.features.names import EPHYS_CELL_FEATURES, EPHYS_CELL_FLAGS
from ctmirror.schema.base import Base, RawJSON, Timestamp

#: Published ``EphysFeature`` columns that are recomputed from NWB sweeps, in table order.
RECOMPUTED_FEATURES: tuple[str, ...] = EPHYS_CELL_FEATURES
#: Published flags the 2016+ definitions leave empty (written as NULL, as there).
RECOMPUTED_FLAGS: tuple[str, ...] = EPHYS_CELL_FLAGS


class EphysSweepFeatures(Base):
    """One current-clamp sweep: its spike-train features over the stimulus window."""

    __tablename__ = "ephys_sweep_features"

    specimen_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sweep_number: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                              autoincrement=False)
    definitions: Mapped[str] = mapped_column(primary_key=True)
    well_known_file_id: Mapped[int]
    source_sha256: Mapped[str]
    code_version: Mapped[int]
    stimulus_name: Mapped[str | None]
    stimulus_amplitude_pa: Mapped[float | None]
    window_start_s: Mapped[float | None]
    window_end_s: Mapped[float | None]
    spike_count: Mapped[int | None]
    avg_rate: Mapped[float | None]
    latency: Mapped[float | None]
    first_isi: Mapped[float | None]
    mean_isi: Mapped[float | None]
    median_isi: Mapped[float | None]
    isi_cv: Mapped[float | None]
    adapt: Mapped[float | None]
    v_baseline: Mapped[float | None]
    #: Why the sweep was not analysed (empty, NaN samples, no stimulus, ...), else NULL.
    problem: Mapped[str | None]


ephys_features_recomputed = Table(
    "ephys_features_recomputed",
    Base.metadata,
    Column("specimen_id", BigInteger, primary_key=True, autoincrement=False),
    Column("definitions", Text, primary_key=True),
    Column("well_known_file_id", BigInteger, nullable=False),
    Column("source_sha256", Text, nullable=False),
    Column("code_version", BigInteger, nullable=False),
    Column("computed_at", Timestamp, nullable=False),
    Column("rheobase_sweep_number", BigInteger),
    Column("hero_sweep_number", BigInteger),
    *(Column(name, Double) for name in RECOMPUTED_FEATURES),
    *(Column(name, Boolean) for name in RECOMPUTED_FLAGS),
    #: {sweep_number: reason} for sweeps left out of the cell's features.
    Column("sweep_problems", RawJSON),
)


__all__ = ["RECOMPUTED_FEATURES", "RECOMPUTED_FLAGS", "EphysSweepFeatures",
           "ephys_features_recomputed"]
