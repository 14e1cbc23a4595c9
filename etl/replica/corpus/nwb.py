"""Write one synthetic cell's recording as a published Allen Cell Types NWB 1 file.

Layout (IVSCC pipeline files, "Pipeline" flavour with ``Sweep_<N>`` names):
``/acquisition/timeseries/Sweep_N`` (response), ``/stimulus/presentation/Sweep_N`` (stimulus),
``/epochs/{Sweep_N, TestPulse_N, Experiment_N}`` with ``idx_start``/``count``/``timeseries``
links, ``/analysis/spike_times/Sweep_N`` (threshold times, s from sweep start) and ``/general``.
As in the published files: values in V and A with ``conversion = 1.0``, float32 data in gzip-4
chunked datasets, ``rate = 200000.0``, and text (including ``unit``) as fixed-length bytes,
which is what readers that call ``.decode`` on attributes expect.

Current-clamp responses come from ``neuron_sim`` tuned to the cell's published features;
voltage-clamp Test sweeps get the current of a pipette/seal/whole-cell circuit. The stimulus in
the file is always the record's (onset, length, amplitude). When the records are published ones
(``follow_spike_counts``), each sweep's response fires the record's ``num_spikes``: the current
reaching the simulated cell is the stimulus times a per-sweep gain, found by search, as if the
real cell's excitability drifted from sweep to sweep; ramps end after their last counted spike,
as the recordings stopped by hand do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from numpy.typing import NDArray

from ctmirror.replica.corpus.neuron_sim import (
    CellParams,
    count_spikes,
    detect_spike_thresholds,
    simulate,
    tune_cell_params,
)
from ctmirror.replica.corpus.stimuli import is_voltage_clamp, stimulus_waveform

__all__ = ["SAMPLING_RATE_HZ", "cell_params_for", "read_recorded_sweeps", "write_cell_nwb"]

SAMPLING_RATE_HZ = 200000.0
NWB_VERSION = "NWB-1.0.5"
# Epochs of current-clamp sweeps, as the pipeline's converter writes them.
_TEST_PULSE_EPOCH_S = 0.1
_EXPERIMENT_START_S = 0.75
# The experiment epoch keeps at least this much baseline before a stimulus that starts early.
_EXPERIMENT_LEAD_S = 0.27
# Ramps were stopped by hand soon after the cell fired: 1 s after the first spike, or a tenth
# of the nominal ramp for the short test protocol.
_RAMP_AFTER_FIRST_SPIKE_S = 1.0
_RAMP_AFTER_FIRST_SPIKE_FRACTION = 0.1
# Responses are stored at the resolution of the 16-bit digitiser (1/64 mV), as recorded.
_ADC_STEP_V = 2.0**-6 * 1e-3
# Search of the per-sweep gain that makes the simulated cell fire a published spike count:
# widen by this factor until the count is bracketed, then bisect.
_GAIN_FACTOR = 1.5
_GAIN_RANGE = (1e-3, 50.0)
_GAIN_BISECTIONS = 30
_GZIP_LEVEL = 4

# Defaults for missing published features: typical spiny and aspiny cells of the database.
_DEFAULTS = {
    "spiny": {
        "ef__vrest": -71.0,
        "ef__ri": 170.0,
        "ef__tau": 22.0,
        "ef__threshold_i_long_square": 110.0,
    },
    "aspiny": {
        "ef__vrest": -68.0,
        "ef__ri": 200.0,
        "ef__tau": 12.0,
        "ef__threshold_i_long_square": 90.0,
    },
}
# Series resistance, membrane resistance (None: no cell) and capacitance of each Test stage.
_TEST_CIRCUITS: dict[str, tuple[float, float | None, float]] = {
    "SMOKET": (4.5, None, 0.0),  # pipette in the bath
    "INBATH": (4.5, None, 0.0),
    "CllATT": (1500.0, None, 0.0),  # cell-attached: the gigaseal
    "BREAKN": (14.0, 1.0, 1.0),  # whole cell: access resistance, then the cell
    "EXPEND": (18.0, 1.0, 1.0),
    "GGAEND": (2000.0, None, 0.0),
}
_VOLTAGE_CLAMP_NOISE_A = 2e-12
_BLOWOUT_OFFSET_V = 0.5e-3


def _feature(cell: Mapping[str, Any], key: str, kind: str) -> float:
    value = cell.get(key)
    try:
        number = float(value) if value not in (None, "") else math.nan
    except (TypeError, ValueError):
        number = math.nan
    return _DEFAULTS[kind][key] if not math.isfinite(number) else number


def _is_aspiny(cell: Mapping[str, Any]) -> bool:
    return str(cell.get("tag__dendrite_type") or "").strip().lower() == "aspiny"


def cell_params_for(cell: Mapping[str, Any]) -> CellParams:
    """Simulation parameters tuned to an ApiCellTypesSpecimenDetail row (None -> defaults)."""
    kind = "aspiny" if _is_aspiny(cell) else "spiny"
    return tune_cell_params(
        vrest_mv=float(np.clip(_feature(cell, "ef__vrest", kind), -90.0, -50.0)),
        ri_mohm=float(np.clip(_feature(cell, "ef__ri", kind), 20.0, 1500.0)),
        tau_ms=float(np.clip(_feature(cell, "ef__tau", kind), 2.0, 80.0)),
        rheobase_pa=float(
            np.clip(_feature(cell, "ef__threshold_i_long_square", kind), 10.0, 1500.0)
        ),
        fast_spiking=kind == "aspiny",
    )


def _text(value: object) -> np.bytes_:
    return np.bytes_(str(value))


def _text_array(values: Sequence[str]) -> NDArray[np.bytes_]:
    return np.array([v.encode() for v in values])


def _voltage_clamp_current(
    command_v: NDArray[np.float64], code: str, params: CellParams, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Current (A) through the pipette circuit of a Test stage for a command voltage."""
    series_mohm, membrane, _ = _TEST_CIRCUITS.get(code, (15.0, 1.0, 1.0))
    if membrane is None:
        current = command_v / (series_mohm * 1e6)
    else:
        # Whole cell: access resistance in series with the membrane RC. Each command step
        # first drives its full jump through the access resistance, then relaxes to the
        # steady current through both resistances.
        r_in = 1.0 / params.g_leak_us  # MOhm
        tau_s = (series_mohm * r_in / (series_mohm + r_in)) * params.capacitance_nf * 1e-3
        total_ohm = (series_mohm + r_in) * 1e6
        current = command_v / total_ohm
        jumps = np.diff(command_v, prepend=0.0)
        for k in np.flatnonzero(jumps):
            elapsed = np.arange(command_v.size - k) / SAMPLING_RATE_HZ
            peak = jumps[k] / (series_mohm * 1e6) - jumps[k] / total_ohm
            current[k:] += peak * np.exp(-elapsed / tau_s)
    return current + rng.normal(0.0, _VOLTAGE_CLAMP_NOISE_A, command_v.size)


def _test_code(sweep: Mapping[str, Any]) -> str:
    description = str(sweep.get("stimulus_description") or "")
    return description[4:10] if description.startswith("EXTP") else ""


def _ramp_cutoff(voltage_v: NDArray[np.float64], duration_s: float) -> int:
    """Samples kept of a ramp: the recording stops a little after its first spike."""
    above = np.flatnonzero(voltage_v > 0.0)
    if not above.size:
        return voltage_v.size
    after_s = min(_RAMP_AFTER_FIRST_SPIKE_S, _RAMP_AFTER_FIRST_SPIKE_FRACTION * duration_s)
    return min(voltage_v.size, int(above[0] + after_s * SAMPLING_RATE_HZ))


def _published_spikes(sweep: Mapping[str, Any]) -> int:
    """The record's spike count; the API leaves it null for sweeps that did not fire."""
    return int(sweep.get("num_spikes") or 0)


def _drive(stimulus: NDArray[np.float64], onset: int, gain: float) -> NDArray[np.float64]:
    """The current reaching the cell: the stimulus after its onset times the gain."""
    drive = stimulus.copy()
    drive[onset:] *= gain
    return drive


def _gain_for(
    params: CellParams,
    stimulus: NDArray[np.float64],
    onset: int,
    target: int,
    seed: int,
    *,
    at_least: bool,
) -> float:
    """Gain at which the cell fires ``target`` spikes (``at_least``: target or more).

    The count rises with the gain, one spike at a time almost everywhere, so bracketing then
    bisecting finds a gain with the exact count; if a jump skips it, the gain closest below.
    """
    if not np.any(stimulus[onset:]):
        return 1.0
    dt = 1.0 / SAMPLING_RATE_HZ

    def fires(gain: float) -> int:
        drive = _drive(stimulus, onset, gain)
        return count_spikes(params, drive, dt, seed, target if at_least else target + 1)

    def good(n: int) -> bool:
        return n >= target if at_least else n == target

    gain = 1.0
    n = fires(gain)
    if good(n):
        return gain
    lo, hi = (gain, math.inf) if n < target else (0.0, gain)
    while n < target and gain < _GAIN_RANGE[1]:
        lo, gain = gain, gain * _GAIN_FACTOR
        n = fires(gain)
        if good(n):
            return gain
        hi = gain if n > target else hi
    while n > target and gain > _GAIN_RANGE[0]:
        hi, gain = gain, gain / _GAIN_FACTOR
        n = fires(gain)
        if good(n):
            return gain
        lo = gain if n < target else lo
    if not (0.0 < lo and math.isfinite(hi)):
        return gain
    for _ in range(_GAIN_BISECTIONS):
        mid = math.sqrt(lo * hi)
        n = fires(mid)
        if good(n):
            return mid
        lo, hi = (mid, hi) if n < target else (lo, mid)
    return lo


def _cut_after_spike(thresholds: NDArray[np.int64], count: int, size: int) -> int:
    """Samples kept of a ramp that fired ``count`` spikes: up to halfway to the next one."""
    if count <= 0:
        # Stopped before the first spike started to rise.
        return size if not thresholds.size else max(int(thresholds[0]) - 1, 1)
    if thresholds.size <= count:
        return size
    return int((int(thresholds[count - 1]) + int(thresholds[count])) // 2)


def _current_clamp_response(
    params: CellParams,
    sweep: Mapping[str, Any],
    stimulus: NDArray[np.float64],
    target: int | None,
    seed: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The digitised response (V) and the stimulus as kept (ramps stop after the cell fired).

    ``target`` is the spike count the response must have, None for a free response.
    """
    name = sweep.get("stimulus_name")
    if name == "Test":
        # After blow-out the pipette is in the bath: only the electrode offset.
        rng = np.random.default_rng(seed)
        response = rng.normal(_BLOWOUT_OFFSET_V, params.recording_noise_mv * 1e-3, stimulus.size)
        return stimulus, np.round(response / _ADC_STEP_V) * _ADC_STEP_V
    onset = min(
        int(round(float(sweep.get("stimulus_start_time") or 0.0) * SAMPLING_RATE_HZ)),
        stimulus.size,
    )
    is_ramp = name == "Ramp"
    gain = 1.0
    if target is not None:
        gain = _gain_for(params, stimulus, onset, target, seed, at_least=is_ramp)
    response = simulate(params, _drive(stimulus, onset, gain), 1.0 / SAMPLING_RATE_HZ, seed)
    response = np.round(response / _ADC_STEP_V) * _ADC_STEP_V
    if is_ramp:
        if target is None:
            keep = _ramp_cutoff(response, float(sweep.get("stimulus_duration") or 0.0))
        else:
            thresholds = detect_spike_thresholds(response * 1e3, SAMPLING_RATE_HZ)
            keep = _cut_after_spike(thresholds, target, response.size)
        stimulus, response = stimulus[:keep], response[:keep]
    return stimulus, response


def _write_series(
    group: h5py.Group,
    data: NDArray[np.floating],
    *,
    unit: str,
    ancestry: Sequence[str],
    sweep: Mapping[str, Any],
    description: str,
) -> None:
    group.attrs["ancestry"] = _text_array(list(ancestry))
    group.attrs["neurodata_type"] = _text("TimeSeries")
    group.attrs["source"] = _text("synthetic Allen Cell Types recording")
    group.attrs["description"] = _text(description)
    group.attrs["comments"] = _text("")
    dset = group.create_dataset(
        "data",
        data=data.astype(np.float32),
        chunks=True,
        compression="gzip",
        compression_opts=_GZIP_LEVEL,
    )
    dset.attrs["conversion"] = np.float32(1.0)
    dset.attrs["resolution"] = np.float32(np.nan)
    dset.attrs["unit"] = _text(unit)
    group.create_dataset("num_samples", data=np.int64(data.size))
    start = group.create_dataset("starting_time", data=np.float64(0.0))
    start.attrs["rate"] = np.float32(SAMPLING_RATE_HZ)
    start.attrs["unit"] = _text("Seconds")
    group.create_dataset("electrode_name", data=_text("Electrode 1"))
    group.create_dataset("gain", data=np.float32(1.0))
    amplitude = sweep.get("stimulus_absolute_amplitude")
    group.create_dataset("aibs_stimulus_amplitude_pa", data=np.float64(amplitude or 0.0))
    interval = sweep.get("stimulus_interval")
    group.create_dataset(
        "aibs_stimulus_interval", data=np.float64(interval if interval is not None else np.nan)
    )
    group.create_dataset("aibs_stimulus_name", data=_text(sweep.get("stimulus_name") or ""))
    group.create_dataset(
        "aibs_stimulus_description", data=_text(sweep.get("stimulus_description") or "")
    )
    group.create_dataset("seal", data=np.float32(1.9e9))
    group.create_dataset("initial_access_resistance", data=np.float32(1.4e7))


def _write_epoch(
    epochs: h5py.Group, name: str, number: int, idx_start: int, count: int, description: str
) -> None:
    epoch = epochs.create_group(f"{name}_{number}")
    epoch.attrs["neurodata_type"] = _text("Epoch")
    epoch.create_dataset("start_time", data=np.float64(idx_start / SAMPLING_RATE_HZ))
    epoch.create_dataset("stop_time", data=np.float64((idx_start + count - 1) / SAMPLING_RATE_HZ))
    epoch.create_dataset("description", data=_text(description))
    epoch.create_dataset("tags", data=_text_array([name]))
    for role, path in (
        ("stimulus", "/stimulus/presentation"),
        ("response", "/acquisition/timeseries"),
    ):
        link = epoch.create_group(role)
        link.create_dataset("idx_start", data=np.int64(idx_start))
        link.create_dataset("count", data=np.int64(count))
        link["timeseries"] = h5py.SoftLink(f"{path}/Sweep_{number}")


def _write_general(
    f: h5py.File,
    *,
    specimen_id: int,
    specimen_name: str,
    ephys_result_id: int,
    cell: Mapping[str, Any],
) -> None:
    general = f.create_group("general")
    general.create_dataset(
        "generated_by", data=_text_array(["pipeline", "IVSCC", "version", "1.0"])
    )
    general.create_dataset("aibs_specimen_id", data=np.int64(specimen_id))
    general.create_dataset("aibs_specimen_name", data=_text(specimen_name))
    general.create_dataset("aibs_dendrite_type", data=_text(cell.get("tag__dendrite_type") or ""))
    general.create_dataset("aibs_dendrite_trunc", data=_text(cell.get("tag__apical") or ""))
    general.create_dataset("aibs_cre_line", data=_text(cell.get("line_name") or ""))
    general.create_dataset("session_id", data=_text(ephys_result_id))
    general.create_dataset("institution", data=_text("Allen Institute for Brain Science"))
    species = cell.get("donor__species") or "Mus musculus"
    general.create_dataset("species", data=_text(species))
    subject = general.create_group("subject")
    subject.create_dataset("species", data=_text(species))
    subject.create_dataset("age", data=_text(cell.get("donor__age") or ""))
    subject.create_dataset("sex", data=_text(cell.get("donor__sex") or ""))
    subject.create_dataset("subject_id", data=_text(cell.get("donor__name") or ""))
    electrode = general.create_group("intracellular_ephys").create_group("Electrode 1")
    electrode.create_dataset("location", data=_text(cell.get("structure__acronym") or ""))
    electrode.create_dataset("description", data=_text("patch pipette, whole-cell"))
    electrode.create_dataset("device", data=_text("MultiClamp 700B"))
    electrode.create_dataset("filtering", data=_text("Bessel 10 kHz"))
    electrode.create_dataset("seal", data=_text("1.9 GOhm"))
    electrode.create_dataset("initial_access_resistance", data=_text("14 MOhm"))


def write_cell_nwb(
    path: Path,
    *,
    specimen_id: int,
    specimen_name: str,
    ephys_result_id: int,
    cell: dict[str, Any],
    sweeps: list[dict[str, Any]],
    seed: int,
    follow_spike_counts: bool = False,
) -> dict[int, int]:
    """Simulate and write one cell's sweeps; return {sweep_number: number of spikes}.

    With ``follow_spike_counts`` every current-clamp response fires its record's ``num_spikes``
    (as far as the search finds a gain that does).
    """
    params = cell_params_for(cell)
    spike_counts: dict[int, int] = {}
    # A fixed session date keeps the file a function of its inputs.
    session_start = "2015-06-12T10:00:00-07:00"
    with h5py.File(path, "w", track_order=True) as f:
        f.create_dataset("nwb_version", data=_text(NWB_VERSION))
        f.create_dataset("identifier", data=_text(f"{specimen_name}_{ephys_result_id}"))
        f.create_dataset("session_start_time", data=_text(session_start))
        f.create_dataset("file_create_date", data=_text_array([session_start]))
        f.create_dataset("session_description", data=_text("IVSCC intracellular recording"))
        _write_general(
            f,
            specimen_id=specimen_id,
            specimen_name=specimen_name,
            ephys_result_id=ephys_result_id,
            cell=cell,
        )
        acquisition = f.create_group("acquisition").create_group("timeseries")
        presentation = f.create_group("stimulus").create_group("presentation")
        epochs = f.create_group("epochs")
        spike_times = f.create_group("analysis").create_group("spike_times")
        spike_times.attrs["neurodata_type"] = _text("Custom")

        for sweep in sweeps:
            number = int(sweep["sweep_number"])
            # A sweep's noise depends on its number, not on which other sweeps are written.
            rng = np.random.default_rng([int(seed) % (2**32), int(specimen_id) % (2**32), number])
            stimulus = stimulus_waveform(sweep, sampling_rate=SAMPLING_RATE_HZ, rng=rng)
            if is_voltage_clamp(sweep):
                response = _voltage_clamp_current(stimulus, _test_code(sweep), params, rng)
                kinds = ("VoltageClampStimulusSeries", "VoltageClampSeries")
                units = ("Volts", "Amps")
                thresholds = np.zeros(0, dtype=np.int64)
            else:
                target = _published_spikes(sweep) if follow_spike_counts else None
                stimulus, response = _current_clamp_response(
                    params, sweep, stimulus, target, int(rng.integers(2**31))
                )
                kinds = ("CurrentClampStimulusSeries", "CurrentClampSeries")
                units = ("Amps", "Volts")
                thresholds = detect_spike_thresholds(response * 1e3, SAMPLING_RATE_HZ)
            description = str(sweep.get("stimulus_description") or "")
            _write_series(
                presentation.create_group(f"Sweep_{number}"),
                stimulus,
                unit=units[0],
                ancestry=("TimeSeries", "PatchClampSeries", kinds[0]),
                sweep=sweep,
                description=description,
            )
            _write_series(
                acquisition.create_group(f"Sweep_{number}"),
                response,
                unit=units[1],
                ancestry=("TimeSeries", "PatchClampSeries", kinds[1]),
                sweep=sweep,
                description=description,
            )
            n = stimulus.size
            _write_epoch(epochs, "Sweep", number, 0, n, "sweep")
            if not is_voltage_clamp(sweep):
                pulse = min(int(_TEST_PULSE_EPOCH_S * SAMPLING_RATE_HZ), n)
                _write_epoch(epochs, "TestPulse", number, 0, pulse, "test pulse")
                start_s = float(sweep.get("stimulus_start_time") or 0.0)
                experiment_s = max(min(_EXPERIMENT_START_S, start_s - _EXPERIMENT_LEAD_S), 0.0)
                first = min(int(round(experiment_s * SAMPLING_RATE_HZ)), n - 1)
                _write_epoch(epochs, "Experiment", number, first, n - first, "experiment")
                spike_times.create_dataset(f"Sweep_{number}", data=thresholds / SAMPLING_RATE_HZ)
            spike_counts[number] = int(thresholds.size)
    return spike_counts


def read_recorded_sweeps(
    path: Path,
) -> dict[int, tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float]]:
    """{sweep_number: (stimulus, response, spike times in s, sampling rate)} of a file as written.

    Stimulus and response are in the file's units (A and V for current clamp).
    """
    sweeps = {}
    with h5py.File(path, "r") as f:
        for name, series in f["stimulus/presentation"].items():
            number = int(name.rsplit("_", 1)[1])
            spikes = f.get(f"analysis/spike_times/{name}")
            sweeps[number] = (
                np.asarray(series["data"][()], dtype=np.float64),
                np.asarray(f[f"acquisition/timeseries/{name}/data"][()], dtype=np.float64),
                np.zeros(0) if spikes is None else np.asarray(spikes[()], dtype=np.float64),
                float(series["starting_time"].attrs["rate"]),
            )
    return sweeps
