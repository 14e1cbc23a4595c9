"""Check what ipfx 2.1.2 reads from an Allen Cell Types NWB 1 ("Pipeline") file.

Run with the python of a venv that has ``ipfx==2.1.2`` installed (not the project venv):

    <ipfx-venv>/bin/python bench/ipfx_read_check.py FILE.nwb [--sweep N] [--cell-features]

Steps:

1. ``ipfx.dataset.create.create_ephys_data_set`` on the file. ipfx 2.x has no NWB 1 reader,
   so this is expected to raise; the error is printed and the check goes on.
2. An ``ipfx.dataset.ephys_data_set.EphysDataSet`` built on a small NWB 1 adapter (below) that
   implements ipfx's public ``EphysDataInterface`` with h5py, using ipfx's default stimulus
   ontology and a ``sweep_info`` list taken from the file (amplitude, passed QC; "Test" and
   "Search" sweeps left out as ipfx's QC leaves them out). Every sweep's voltage/current from
   ``EphysDataSet.sweep`` is compared with the file's ``data`` (V -> mV, A -> pA, the units
   ipfx's own NWB 2 readers return).
3. ``ipfx.feature_extractor.SpikeFeatureExtractor`` on a suprathreshold Long Square sweep; the
   thresholds found are compared with ``/analysis/spike_times/Sweep_N``.
4. With ``--cell-features``: ``ipfx.data_set_features.extract_data_set_features`` on the data set
   (Long Square, Short Square and Ramp analyses).

Exits 1 if any check fails, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from datetime import datetime
from typing import Any

import h5py
import numpy as np

warnings.filterwarnings("ignore")

import ipfx  # noqa: E402
import ipfx.json_utilities as ju  # noqa: E402
from ipfx import stim_features as stf  # noqa: E402
from ipfx.dataset.create import create_ephys_data_set, get_nwb_version  # noqa: E402
from ipfx.dataset.ephys_data_interface import EphysDataInterface  # noqa: E402
from ipfx.dataset.ephys_data_set import EphysDataSet  # noqa: E402
from ipfx.feature_extractor import SpikeFeatureExtractor  # noqa: E402
from ipfx.stimulus import StimulusOntology  # noqa: E402

# Thresholds found by ipfx and those stored in the file may differ by a few samples: the file's
# come from the writer's own detector. 0.2 ms = 40 samples at 200 kHz.
SPIKE_TIME_TOLERANCE_S = 2e-4


def _text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else value[0]
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class Nwb1PipelineData(EphysDataInterface):
    """ipfx EphysDataInterface over an IVSCC pipeline NWB 1 file (``Sweep_N`` naming).

    Reads what the AllenSDK ``NwbDataSet`` reads: ``/epochs/Sweep_N/{stimulus,response}``
    (``timeseries`` link, ``idx_start``, ``count``), ``data`` times its ``conversion``,
    ``unit``, ``starting_time@rate``; stimulus code from ``aibs_stimulus_description`` and clamp
    mode from the response series' ``ancestry``. Units returned follow ipfx: mV and pA.
    """

    def __init__(self, path: str, ontology: StimulusOntology, validate_stim: bool = True):
        super().__init__(ontology=ontology, validate_stim=validate_stim)
        self.path = path
        self._h5 = h5py.File(path, "r")
        numbers = [int(k.split("_", 1)[1]) for k in self._h5["epochs"] if k.startswith("Sweep_")]
        self._sweep_numbers = sorted(numbers)

    @property
    def sweep_numbers(self) -> list[int]:
        return self._sweep_numbers

    def _epoch(self, sweep_number: int) -> h5py.Group:
        return self._h5[f"epochs/Sweep_{sweep_number}"]

    def _series(self, sweep_number: int, role: str) -> tuple[h5py.Group, np.ndarray]:
        link = self._epoch(sweep_number)[role]
        start, count = int(link["idx_start"][()]), int(link["count"][()])
        if start != 0:
            raise ValueError(f"Sweep_{sweep_number} {role} does not start at sample 0")
        series = link["timeseries"]
        data = series["data"]
        conversion = float(data.attrs.get("conversion", 1.0))
        return series, data[start : start + count].astype(np.float64) * conversion

    def _unit(self, series: h5py.Group) -> str:
        unit = _text(series["data"].attrs["unit"])
        return {"A": "Amps", "amps": "Amps", "V": "Volts", "volts": "Volts"}.get(unit, unit)

    def get_sweep_data(self, sweep_number: int) -> dict[str, Any]:
        stim_series, stimulus = self._series(sweep_number, "stimulus")
        _, response = self._series(sweep_number, "response")
        stimulus_unit = self._unit(stim_series)
        if stimulus_unit == "Volts":
            stimulus, response = stimulus * 1.0e3, response * 1.0e12
        elif stimulus_unit == "Amps":
            stimulus, response = stimulus * 1.0e12, response * 1.0e3
        else:
            raise ValueError(f"Sweep_{sweep_number}: unexpected stimulus unit {stimulus_unit!r}")
        rate = float(stim_series["starting_time"].attrs["rate"])
        return {
            "stimulus": stimulus,
            "response": response,
            "stimulus_unit": stimulus_unit,
            "sampling_rate": rate,
        }

    def get_clamp_mode(self, sweep_number: int) -> str:
        response = self._epoch(sweep_number)["response/timeseries"]
        ancestry = [_text(a) for a in np.atleast_1d(response.attrs["ancestry"])]
        if "VoltageClampSeries" in ancestry:
            return EphysDataSet.VOLTAGE_CLAMP
        if "CurrentClampSeries" in ancestry:
            return EphysDataSet.CURRENT_CLAMP
        raise ValueError(f"Sweep_{sweep_number}: no clamp series in ancestry {ancestry}")

    def get_stimulus_code(self, sweep_number: int) -> str:
        series = self._epoch(sweep_number)["response/timeseries"]
        description = _text(series["aibs_stimulus_description"][()])
        if description.endswith("_DA_0"):
            description = description[:-5]
        return description.split("[")[0]

    def get_stimulus_unit(self, sweep_number: int) -> str:
        return self._unit(self._epoch(sweep_number)["stimulus/timeseries"])

    def get_sweep_attrs(self, sweep_number: int) -> dict[str, Any]:
        series = self._epoch(sweep_number)["response/timeseries"]
        attrs = {"sweep_number": sweep_number, "clamp_mode": self.get_clamp_mode(sweep_number)}
        for key in ("gain", "bias_current", "bridge_balance"):
            attrs[key] = float(series[key][()]) if key in series else None
        attrs["stimulus_description"] = _text(series["aibs_stimulus_description"][()])
        return attrs

    def get_sweep_metadata(self, sweep_number: int) -> dict[str, Any]:
        attrs = self.get_sweep_attrs(sweep_number)
        code = self.get_stimulus_code(sweep_number)
        record = {
            "sweep_number": sweep_number,
            "stimulus_units": self.get_stimulus_unit(sweep_number),
            "bridge_balance_mohm": attrs["bridge_balance"],
            "leak_pa": attrs["bias_current"],
            "stimulus_scale_factor": attrs["gain"],
            "stimulus_code": code,
            "stimulus_code_ext": attrs["stimulus_description"],
            "clamp_mode": attrs["clamp_mode"],
        }
        if self.ontology:
            record["stimulus_name"] = self.get_stimulus_name(code)
        return record

    def get_full_recording_date(self) -> datetime:
        return datetime.fromisoformat(_text(self._h5["session_start_time"][()]))

    def sweep_info(self) -> list[dict[str, Any]]:
        """What ipfx's pipeline would supply: amplitude and QC state of each analysed sweep.

        Published files hold only sweeps that passed QC. ipfx's QC skips "Test" and "Search"
        sweeps (``qc_feature_extractor.sweep_qc_features``), so they get no entry and stay out
        of the sweep table, as in ipfx's feature extraction.
        """
        info = []
        for n in self.sweep_numbers:
            if self.get_stimulus_name(self.get_stimulus_code(n)) in ("Test", "Search"):
                continue
            series = self._h5[f"stimulus/presentation/Sweep_{n}"]
            amplitude = float(series["aibs_stimulus_amplitude_pa"][()])
            info.append({"sweep_number": n, "stimulus_amplitude": amplitude, "passed": True})
        return info

    def spike_times(self, sweep_number: int) -> np.ndarray:
        for group in ("analysis/spike_times", "analysis/aibs_spike_times"):
            name = f"{group}/Sweep_{sweep_number}"
            if name in self._h5:
                return np.asarray(self._h5[name][()], dtype=np.float64)
        return np.zeros(0)


def check_create_ephys_data_set(path: str) -> None:
    print(f"get_nwb_version: {get_nwb_version(path)}")
    try:
        create_ephys_data_set(nwb_file=path)
    except Exception as exc:  # expected for NWB 1
        print(f"create_ephys_data_set: not supported ({type(exc).__name__}: {exc})")
    else:
        print("create_ephys_data_set: opened the file (unexpected for NWB 1)")


def check_arrays(path: str, data_set: EphysDataSet) -> list[str]:
    failures = []
    with h5py.File(path, "r") as f:
        for n in data_set._data.sweep_numbers:
            sweep = data_set.sweep(n)
            stim = f[f"stimulus/presentation/Sweep_{n}/data"][()].astype(np.float64)
            resp = f[f"acquisition/timeseries/Sweep_{n}/data"][()].astype(np.float64)
            if sweep.clamp_mode == EphysDataSet.CURRENT_CLAMP:
                v_file, i_file = resp * 1e3, stim * 1e12
            else:
                v_file, i_file = stim * 1e3, resp * 1e12
            sweep.select_epoch("recording")
            kept = len(sweep.v)
            # EphysDataSet turns trailing zeros of the response into NaN; "recording" ends there.
            trimmed = resp[kept:]
            ok = (
                kept <= len(resp)
                and not np.any(trimmed)
                and np.array_equal(sweep.v, v_file[:kept])
                and np.array_equal(sweep.i, i_file[:kept])
                and np.isclose(sweep.sampling_rate, 200000.0)
            )
            code = data_set.get_stimulus_code(n)
            name = data_set.ontology.find_one(code, tag_type="code").tags(tag_type="name")[0][-1]
            print(
                f"  sweep {n:3d} {sweep.clamp_mode:12s} {code:18s} {name:28s} "
                f"n={len(resp):6d} kept={kept:6d} v[0]={sweep.v[0]:9.3f} "
                f"i_max={np.nanmax(sweep.i):9.3f} {'OK' if ok else 'MISMATCH'}"
            )
            if not ok:
                failures.append(f"sweep {n}: arrays differ from the file")
    return failures


def check_spikes(data: Nwb1PipelineData, data_set: EphysDataSet, sweep_number: int | None):
    failures = []
    table = data_set.filtered_sweep_table(
        clamp_mode=EphysDataSet.CURRENT_CLAMP, stimuli=data_set.ontology.long_square_names
    )
    if sweep_number is None:
        candidates = [n for n in table["sweep_number"] if data.spike_times(int(n)).size]
        if not candidates:
            return ["no Long Square sweep with spikes in /analysis/spike_times"]
        amplitudes = table.set_index("sweep_number")["stimulus_amplitude"]
        sweep_number = int(min(candidates, key=lambda n: amplitudes[n]))
    sweep = data_set.sweep(sweep_number)
    start, duration, amplitude, _, _ = stf.get_stim_characteristics(sweep.i, sweep.t)
    extractor = SpikeFeatureExtractor(start=start, end=start + duration)
    spikes = extractor.process(sweep.t, sweep.v, sweep.i)
    found = spikes["threshold_t"].to_numpy() if len(spikes) else np.zeros(0)
    stored = data.spike_times(sweep_number)
    stored = stored[(stored >= start) & (stored <= start + duration)]
    print(
        f"SpikeFeatureExtractor on sweep {sweep_number} "
        f"({data_set.get_stimulus_code(sweep_number)}, {amplitude:.1f} pA, "
        f"stimulus {start:.3f}-{start + duration:.3f} s): {len(found)} spikes; "
        f"file /analysis/spike_times: {len(stored)}"
    )
    if len(found):
        cols = ["threshold_t", "threshold_v", "peak_v", "width", "upstroke_downstroke_ratio"]
        print(spikes[cols].head(5).to_string(index=False))
    if not len(found):
        failures.append(f"sweep {sweep_number}: ipfx found no spikes")
    elif len(found) != len(stored):
        failures.append(f"sweep {sweep_number}: ipfx {len(found)} spikes, file {len(stored)}")
    else:
        worst = float(np.max(np.abs(found - stored)))
        print(f"  max |ipfx threshold_t - file spike time| = {worst * 1e3:.3f} ms")
        if worst > SPIKE_TIME_TOLERANCE_S:
            failures.append(f"sweep {sweep_number}: spike times differ by {worst * 1e3:.3f} ms")
    return failures


def check_cell_features(data_set: EphysDataSet) -> list[str]:
    from ipfx.data_set_features import extract_data_set_features

    cell, _sweeps, record, _records, state, feature_states = extract_data_set_features(data_set)
    failures = []
    for name, fs in feature_states.items():
        print(f"  {name}: failed={fs['failed_fx']} {fs['fail_fx_message'] or ''}")
    keys = (
        "rheobase_sweep_num",
        "vrest",
        "ri",
        "tau",
        "sag",
        "f_i_curve_slope",
        "threshold_i_short_square",
    )
    print("  " + ", ".join(f"{k}={record.get(k)}" for k in keys))
    if state["failed_fx"] or feature_states["long_squares_state"]["failed_fx"]:
        failures.append("extract_data_set_features: long square analysis failed")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nwb", help="NWB 1 file written in the IVSCC pipeline layout")
    parser.add_argument("--sweep", type=int, help="Long Square sweep for spike detection")
    parser.add_argument(
        "--cell-features", action="store_true", help="run extract_data_set_features"
    )
    args = parser.parse_args(argv)

    print(f"ipfx {ipfx.__version__}, h5py {h5py.__version__}, numpy {np.__version__}")
    check_create_ephys_data_set(args.nwb)

    ontology = StimulusOntology(ju.read(StimulusOntology.DEFAULT_STIMULUS_ONTOLOGY_FILE))
    data = Nwb1PipelineData(args.nwb, ontology)
    data_set = EphysDataSet(data=data, sweep_info=data.sweep_info())
    print(
        f"EphysDataSet over NWB 1: {len(data.sweep_numbers)} sweeps, "
        f"recorded {data_set.get_recording_date()}"
    )

    failures = check_arrays(args.nwb, data_set)
    failures += check_spikes(data, data_set, args.sweep)
    if args.cell_features:
        print("extract_data_set_features:")
        failures += check_cell_features(data_set)

    for failure in failures:
        print(f"FAIL: {failure}")
    print("RESULT:", "FAIL" if failures else "OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
