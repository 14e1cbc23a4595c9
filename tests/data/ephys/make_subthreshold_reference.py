"""Make ``subthreshold_reference.json``: the subthreshold features of every long square of the test
corpus's NWB files, per sweep and per cell, from ipfx 2.1.2 (``ipfx.subthresh_features`` and its
``LongSquareAnalysis``) and from AllenSDK 2.16.2 (the 2016-2018 ``EphysSweepFeatureExtractor``).

Run in the reference virtualenvs (see ``make_spike_reference.py``), ipfx first; the AllenSDK run
adds its part to the file the ipfx run wrote::

    ctmirror corpus synth --out /tmp/synth-ref --cells 12 --seed 7 --nwb-cells 3
    /tmp/ipfx-ref/bin/python tests/data/ephys/make_subthreshold_reference.py /tmp/synth-ref ipfx
    /tmp/sdk-ref/bin/python tests/data/ephys/make_subthreshold_reference.py /tmp/synth-ref allensdk

The snapshot is the one the test suite builds (``synth_snapshot``); the test warns when the NWB
files' sha256 differ from the ones recorded. Windows: ipfx's own (the first long square's stimulus,
on the time base aligned to the "experiment" epoch); for AllenSDK, whose fixed 1.02-2.02 s window
does not fit the corpus's short protocol, the same stimulus window on the sweep's own time base (0
at its first sample).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np

warnings.filterwarnings("ignore")

HERE = Path(__file__).parent
OUT = HERE / "subthreshold_reference.json"
CHECK = HERE.parent.parent.parent / "bench" / "ipfx_read_check.py"
RATE = 200_000.0
LONG_SQUARES = ("Long Square",)
SUBTHRESHOLD_MIN_AMP = -100.0  # the corpus's coarse long squares step by 20 pA


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _guarded(func, *args, **kwargs) -> Any:
    """The function's value, or None where it raises (as the reference's callers then see)."""
    try:
        return func(*args, **kwargs)
    except Exception:  # noqa: BLE001 - any reference failure is recorded as None
        return None


def _long_squares(path: Path) -> list[tuple[int, np.ndarray, np.ndarray]]:
    with h5py.File(path, "r") as nwb:
        found = []
        for name in nwb["stimulus/presentation"]:
            stim = nwb[f"stimulus/presentation/{name}"]
            if stim["aibs_stimulus_name"][()].decode() not in LONG_SQUARES:
                continue
            v = nwb[f"acquisition/timeseries/{name}/data"][()].astype(float) * 1e3
            i = stim["data"][()].astype(float) * 1e12
            found.append((int(name.split("_")[1]), v, i))
    return sorted(found, key=lambda s: s[0])


def _stimulus_window(t: np.ndarray, i: np.ndarray) -> tuple[float, float]:
    """ipfx's ``get_stim_characteristics``: first change after the test pulse to the last."""
    changes = np.flatnonzero(np.diff(i))[2:]
    first, last = int(changes[0]) + 1, int(changes[-1])
    return float(t[first]), float(t[first]) + float(t[last] - t[first - 1])


def run_ipfx(path: Path) -> dict[str, Any]:
    from ipfx import subthresh_features as subf
    from ipfx.data_set_features import extract_cell_long_square_features
    from ipfx.dataset.ephys_data_set import EphysDataSet

    spec = importlib.util.spec_from_file_location("ipfx_read_check", CHECK)
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    ontology = check.StimulusOntology(
        check.ju.read(check.StimulusOntology.DEFAULT_STIMULUS_ONTOLOGY_FILE))
    data = check.Nwb1PipelineData(str(path), ontology)
    data_set = EphysDataSet(data=data, sweep_info=data.sweep_info())
    cell = extract_cell_long_square_features(data_set)[0]
    numbers = [s["sweep_number"] for s in cell["sweeps"]]
    sweep_set = data_set.sweep_set(numbers)
    sweep_set.align_to_start_of_epoch("experiment")
    first = sweep_set.sweeps[0]
    start, end = _stimulus_window(first.t, first.i)
    sweeps = {}
    for n, s, features in zip(numbers, sweep_set.sweeps, cell["sweeps"], strict=True):
        t, v, i = s.t, s.v, s.i
        sweeps[n] = {
            "epoch_start_index": int(round(-t[0] * RATE)),
            "start": start, "end": end,
            "stim_amp": features["stim_amp"], "avg_rate": features["avg_rate"],
            "baseline": subf.baseline_voltage(t, v, start, baseline_interval=0.1),
            "deflection": list(subf.voltage_deflection(t, v, i, start, end)),
            "deflection_min": list(subf.voltage_deflection(t, v, i, start, end, "min")),
            "sag": subf.sag(t, v, i, start, end),
            "sag_100ms": subf.sag(t, v, i, start, end, baseline_interval=0.1),
            "tau": _guarded(subf.time_constant, t, v, i, start, end),
        }
    membrane = [s["sweep_number"] for s in cell["subthreshold_membrane_property_sweeps"]]
    chosen = [s for n, s in zip(numbers, sweep_set.sweeps, strict=True) if n in membrane]
    median_peak = float(np.median([
        s.t[subf.voltage_deflection(s.t, s.v, s.i, start, end, "min")[1]] for s in chosen]))
    return {"sweeps": sweeps, "cell": {
        "membrane_sweeps": membrane,
        "median_peak_time": median_peak,
        "taus": [s["tau"] for s in cell["subthreshold_membrane_property_sweeps"]],
        "tau": cell["tau"],
        "ri": cell["input_resistance"],
        "ri_single": {n: subf.input_resistance([s.t], [s.i], [s.v], start, end)
                      for n, s in zip(membrane, chosen, strict=True)},
        "sag": cell["sag"], "vm_for_sag": cell["vm_for_sag"], "vrest": cell["v_baseline"],
    }}


def run_allensdk(path: Path) -> dict[str, Any]:
    from allensdk.ephys import ephys_extractor as ext
    from allensdk.ephys import ephys_features as ft

    sweeps, extractors = {}, {}
    for n, v, i in _long_squares(path):
        t = np.arange(v.size) / RATE
        start, end = _stimulus_window(t, i)
        sweep = ext.EphysSweepFeatureExtractor(t=t, v=v, i=i, start=start, end=end)
        sweep.process_spikes()
        tau = _guarded(sweep.estimate_time_constant)
        extractors[n] = sweep
        sweeps[n] = {
            "epoch_start_index": 0, "start": start, "end": end,
            "stim_amp": float(i[ft.find_time_index(t, start) + 1]),
            "avg_rate": sweep.sweep_feature("avg_rate"),
            "baseline": sweep.sweep_feature("v_baseline"),
            "deflection": list(sweep.voltage_deflection()),
            "deflection_min": list(sweep.voltage_deflection("min")),
            "sag": sweep.estimate_sag(),
            "tau": tau,
        }
    membrane = [n for n, s in sweeps.items()
                if s["avg_rate"] == 0 and SUBTHRESHOLD_MIN_AMP < s["stim_amp"] < 0]
    chosen = ext.EphysSweepSetFeatureExtractor.from_sweeps([extractors[n] for n in membrane])
    return {"sweeps": sweeps, "cell": {
        "membrane_sweeps": membrane,
        "taus": [sweeps[n]["tau"] for n in membrane],
        "tau": ext.membrane_time_constant(chosen),
        "ri": ext.input_resistance(chosen),
        "ri_single": {n: ext.input_resistance(
            ext.EphysSweepSetFeatureExtractor.from_sweeps([extractors[n]])) for n in membrane},
    }}


RUNNERS = {"ipfx": run_ipfx, "allensdk": run_allensdk}


def main(snapshot: Path, reference: str) -> None:
    records = json.loads(OUT.read_text()) if OUT.exists() and reference != "ipfx" else {}
    for path in sorted(snapshot.rglob("*.nwb")):
        entry = records.setdefault(path.name, {})
        entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        entry[reference] = _plain(RUNNERS[reference](path))
        print(path.name, reference, len(entry[reference]["sweeps"]), "long squares")
    OUT.write_text(json.dumps(records, indent=1, sort_keys=True))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
