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
from ctmirror.schema.base import Base, RawJSON, Timestamp, describe
from ctmirror.schema.feature_docs import FEATURE_DESCRIPTIONS

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

#: Where a recomputed row came from (the columns every recomputed table has).
PROVENANCE = {
    "well_known_file_id": "the source file the row was computed from (WellKnownFile.id)",
    "source_sha256": "sha256 of the source file's bytes (hex)",
    "code_version": "version of the code that computed the row; a new one recomputes it",
}
_DEFINITIONS = "definition set the values were computed with: allen2016 or ipfx"

describe(EphysSweepFeatures, {
    "specimen_id": "the cell (Specimen.id)",
    "sweep_number": "N of Sweep_N in the cell's NWB file",
    "definitions": _DEFINITIONS,
    **PROVENANCE,
    "stimulus_name": "stimulus as the NWB names it, e.g. 'Long Square'",
    "stimulus_amplitude_pa": "stimulus amplitude as the NWB gives it (pA)",
    "window_start_s": "start of the analysed stimulus window (s from sweep start)",
    "window_end_s": "end of the analysed stimulus window (s from sweep start)",
    "spike_count": "spikes detected in the window (count)",
    "avg_rate": "spike rate in the window: spikes / window length (Hz)",
    "latency": "time from window start to the first spike's threshold (s)",
    "first_isi": "first interspike interval (s)",
    "mean_isi": "mean interspike interval (s)",
    "median_isi": "median interspike interval (s)",
    "isi_cv": "coefficient of variation of the interspike intervals (dimensionless)",
    "adapt": "adaptation index of the interspike intervals (dimensionless)",
    "v_baseline": "mean membrane potential in the 100 ms before the window (mV)",
    "problem": "why the sweep was not analysed (empty, NaN samples, no stimulus, ...); empty "
               "when it was",
})

describe(ephys_features_recomputed, {
    "specimen_id": "the cell (Specimen.id)",
    "definitions": _DEFINITIONS,
    **PROVENANCE,
    "computed_at": "when the row was computed (UTC timestamp)",
    "rheobase_sweep_number": "sweep number of the rheobase long square",
    "hero_sweep_number": "sweep number of the hero long square",
    **{name: FEATURE_DESCRIPTIONS[name] for name in (*RECOMPUTED_FEATURES, *RECOMPUTED_FLAGS)},
    "sweep_problems": "sweeps left out of the cell's features, {sweep_number: reason} (JSON)",
}, "Ephys features recomputed from the mirrored NWB recordings, one row per cell and "
   "definition set, under the published EphysFeature column names")


__all__ = ["PROVENANCE", "RECOMPUTED_FEATURES", "RECOMPUTED_FLAGS", "EphysSweepFeatures",
           "ephys_features_recomputed"]
