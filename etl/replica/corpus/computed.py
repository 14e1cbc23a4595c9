"""Values the corpus computes from its own files, with the code a sync recomputes them with.

A real download's ``EphysFeature`` rows, GLIF runs' explained variance ratios and
reconstruction measurements were computed from the files it serves. Where the corpus has to make
those values up (a synthetic recording, model or SWC file), it computes them from its own file
the same way, so a sync that recomputes them finds the published value again:

- ``EphysFeature`` columns: the recording converted to the ``sweeps`` Parquet layout by the
  sync's converter, read back as the sync reads it, through ``cell_features`` with the
  ``allen2016`` definitions (``ctmirror.sync_features``);
- a GLIF run's ``explained_variance_ratio``: the config simulated on the first Noise 2 sweep and
  scored against the recording's spike times on every usable Noise 2 sweep
  (``ctmirror.sync_glif``);
- ``NeuronReconstruction`` features and the cell list's ``nr__`` values: the SWC bytes through
  ``compute_morphology_features`` (``ctmirror.sync_morphology``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ctmirror.features.names import EPHYS_CELL_FEATURES, EPHYS_CELL_FLAGS

__all__ = [
    "CELL_LIST_EPHYS",
    "EphysValues",
    "Recording",
    "cell_list_ephys",
    "explained_variance_ratio",
    "morphology_features",
]

#: The cell list's ``ef__`` columns that copy an ``EphysFeature`` column of the same name.
CELL_LIST_EPHYS: tuple[str, ...] = (
    "adaptation", "avg_isi", "f_i_curve_slope", "fast_trough_v_long_square", "peak_t_ramp",
    "ri", "tau", "threshold_i_long_square", "upstroke_downstroke_ratio_long_square", "vrest",
)


@dataclass(frozen=True)
class EphysValues:
    """The ``EphysFeature`` values of one recording."""

    #: Columns by name (allen2016), None where the recording gives no value.
    features: dict[str, float | bool | None]
    rheobase_sweep_number: int | None
    hero_sweep_number: int | None


class Recording:
    """One cell's NWB file, converted as a sync converts it (into ``scratch``, which the
    caller removes) when a value is first asked for; each value is computed once. A cell
    whose values are all published costs nothing."""

    def __init__(self, nwb_path: Path, scratch: Path, *, specimen_id: int,
                 well_known_file_id: int) -> None:
        self.nwb_path = Path(nwb_path)
        self.scratch = Path(scratch)
        self.specimen_id = specimen_id
        self.well_known_file_id = well_known_file_id

    @cached_property
    def sweeps_parquet(self) -> Path:
        from ctmirror.convert.nwb_sweeps import convert_nwb_to_parquet

        path = self.scratch / f"{self.specimen_id}_{self.well_known_file_id}.parquet"
        convert_nwb_to_parquet(self.nwb_path, path, specimen_id=self.specimen_id,
                               well_known_file_id=self.well_known_file_id)
        return path

    @cached_property
    def ephys(self) -> EphysValues:
        """The cell-level features, as the sync's ephys stage computes them."""
        from ctmirror.features.ephys import ALLEN2016
        from ctmirror.features.ephys.cell import cell_features
        from ctmirror.readers.ephys import recordings_from_parquet

        cell = cell_features(recordings_from_parquet(self.sweeps_parquet)[0], ALLEN2016)
        return EphysValues(
            features={name: cell.values.get(name)
                      for name in (*EPHYS_CELL_FEATURES, *EPHYS_CELL_FLAGS)},
            rheobase_sweep_number=cell.rheobase_sweep_number,
            hero_sweep_number=cell.hero_sweep_number,
        )

    @cached_property
    def noise2(self) -> Any:
        """The Noise 2 repeats a GLIF run is scored on (``sync_glif.noise2_repeats``)."""
        from ctmirror.readers.ephys import stimulus_sweeps_from_parquet
        from ctmirror.sync_glif import NOISE_2, noise2_repeats

        sweeps = stimulus_sweeps_from_parquet(self.sweeps_parquet)[0]
        return noise2_repeats(sweeps, {s.sweep_number: s.stimulus().size for s in sweeps
                                       if s.stimulus_name == NOISE_2})


def cell_list_ephys(features: Mapping[str, Any]) -> dict[str, float | None]:
    """The cell list's ``ef__`` values of a cell with these ``EphysFeature`` values (the
    published list gives ``avg_firing_rate`` as 1000 / ``avg_isi``)."""
    values: dict[str, float | None] = {
        f"ef__{name}": _float(features.get(name)) for name in CELL_LIST_EPHYS}
    isi = values["ef__avg_isi"]
    values["ef__avg_firing_rate"] = 1000.0 / isi if isi else None
    return values


def explained_variance_ratio(neuron_config: bytes, recording: Recording) -> float | None:
    """The published-method ratio of a GLIF ``neuron_config.json`` on the recording, None when
    the recording has too few Noise 2 repeats (the sync leaves its ratio NULL then)."""
    from ctmirror.glif.simulate import simulate
    from ctmirror.metrics.evr import explained_variance_ratio as score
    from ctmirror.metrics.evr import spike_times_to_indices
    from ctmirror.readers.glif_config import parse_glif_config

    repeats = recording.noise2
    if repeats.problem is not None:
        return None
    first = repeats.sweeps[0]
    dt = 1.0 / first.sampling_rate
    # The sync simulates the document its conversion kept: the JSON as parsed from the file.
    config = parse_glif_config(json.loads(neuron_config))
    steps = simulate(config, first.stimulus_a(), dt).spike_time_steps
    data = [spike_times_to_indices(s.spike_times_s, dt) for s in repeats.sweeps]
    return score(data, steps, repeats.samples, dt).ratio


def morphology_features(swc: bytes) -> dict[str, int | float | None]:
    """Whole-cell features of an SWC file: the ``NeuronReconstruction`` columns and the cell
    list's ``nr__`` values under their published names."""
    from ctmirror.features.morphology import Compartment, compute_morphology_features
    from ctmirror.readers.swc import read_swc

    return compute_morphology_features(read_swc(swc), Compartment.ALL)


def _float(value: Any) -> float | None:
    return None if value is None or isinstance(value, bool) else float(value)
