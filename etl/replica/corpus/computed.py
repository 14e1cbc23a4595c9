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
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctmirror.features.names import EPHYS_CELL_FEATURES, EPHYS_CELL_FLAGS

__all__ = [
    "CELL_LIST_EPHYS",
    "Recording",
    "cell_list_ephys",
    "explained_variance_ratio",
    "morphology_features",
    "read_recording",
]

#: The cell list's ``ef__`` columns that copy an ``EphysFeature`` column of the same name.
CELL_LIST_EPHYS: tuple[str, ...] = (
    "adaptation", "avg_isi", "f_i_curve_slope", "fast_trough_v_long_square", "peak_t_ramp",
    "ri", "tau", "threshold_i_long_square", "upstroke_downstroke_ratio_long_square", "vrest",
)


@dataclass(frozen=True)
class Recording:
    """What the corpus computes from one cell's NWB file."""

    #: ``EphysFeature`` columns by name (allen2016), None where the recording gives no value.
    features: dict[str, float | bool | None]
    rheobase_sweep_number: int | None
    hero_sweep_number: int | None
    #: The Noise 2 repeats a GLIF run is scored on (``sync_glif.noise2_repeats``).
    noise2: Any


def read_recording(nwb_path: Path, *, specimen_id: int, well_known_file_id: int) -> Recording:
    """Convert ``nwb_path`` as a sync does and compute its features and Noise 2 repeats."""
    from ctmirror.convert.nwb_sweeps import convert_nwb_to_parquet
    from ctmirror.features.ephys import ALLEN2016
    from ctmirror.features.ephys.cell import cell_features
    from ctmirror.readers.ephys import recordings_from_parquet, stimulus_sweeps_from_parquet
    from ctmirror.sync_glif import noise2_repeats

    with tempfile.TemporaryDirectory(prefix="ctmirror-corpus-") as folder:
        parquet = Path(folder) / "sweeps.parquet"
        convert_nwb_to_parquet(nwb_path, parquet, specimen_id=specimen_id,
                               well_known_file_id=well_known_file_id)
        recordings, _ = recordings_from_parquet(parquet)
        stimuli, _ = stimulus_sweeps_from_parquet(parquet)
    cell = cell_features(recordings, ALLEN2016)
    return Recording(
        features={name: cell.values.get(name)
                  for name in (*EPHYS_CELL_FEATURES, *EPHYS_CELL_FLAGS)},
        rheobase_sweep_number=cell.rheobase_sweep_number,
        hero_sweep_number=cell.hero_sweep_number,
        noise2=noise2_repeats(stimuli),
    )


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
    return score(data, steps, first.stimulus.size, dt).ratio


def morphology_features(swc: bytes) -> dict[str, int | float | None]:
    """Whole-cell features of an SWC file: the ``NeuronReconstruction`` columns and the cell
    list's ``nr__`` values under their published names."""
    from ctmirror.features.morphology import Compartment, compute_morphology_features
    from ctmirror.readers.swc import read_swc

    return compute_morphology_features(read_swc(swc), Compartment.ALL)


def _float(value: Any) -> float | None:
    return None if value is None or isinstance(value, bool) else float(value)
