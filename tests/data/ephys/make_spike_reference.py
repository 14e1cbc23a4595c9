"""Make ``spike_reference.npz`` (ipfx 2.1.2) or ``spike_reference_allensdk.npz`` (AllenSDK
2.16.2's 2016-2018 extractor): the reference spike tables for the traces the ephys tests use.

Run in a virtualenv with the reference (not the project's; each is only a reference here)::

    python3 -m venv /tmp/ipfx-ref && /tmp/ipfx-ref/bin/pip install ipfx==2.1.2
    python3 -m venv /tmp/sdk-ref && /tmp/sdk-ref/bin/pip install allensdk==2.16.2
    ctmirror corpus synth --out /tmp/synth-ref --cells 12 --seed 7 --nwb-cells 3
    /tmp/ipfx-ref/bin/python tests/data/ephys/make_spike_reference.py /tmp/synth-ref
    /tmp/sdk-ref/bin/python tests/data/ephys/make_spike_reference.py /tmp/synth-ref allensdk

The synthetic snapshot is the one the test suite builds (``synth_snapshot`` in
``tests/conftest.py``: 12 cells, seed 7, 3 with NWB); the tests warn when the NWB files' sha256
differ from the ones recorded here (another numpy or HDF5 build can change a file's last bits
without changing its features; the value comparisons decide). Cases: the three real traces in this
folder over their whole length and over a window, and every current-clamp sweep of the synthetic
recordings over its whole length (as the published per-sweep spike tables were made) and over its
stimulus window.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).parent
RATE = 200_000.0
COLUMNS = ("threshold_index", "threshold_t", "threshold_v", "threshold_i", "peak_index",
           "peak_t", "peak_v", "trough_index", "trough_t", "trough_v", "fast_trough_index",
           "fast_trough_t", "fast_trough_v", "slow_trough_index", "slow_trough_v",
           "adp_index", "upstroke_index", "upstroke", "downstroke_index", "downstroke",
           "upstroke_downstroke_ratio", "width", "clipped")
TRAIN = ("avg_rate", "latency", "first_isi", "mean_isi", "median_isi", "isi_cv", "adapt")


def run_ipfx(t: np.ndarray, v: np.ndarray, i: np.ndarray | None, start: float | None,
             end: float | None) -> tuple[object, dict[str, float]]:
    from ipfx.feature_extractor import SpikeFeatureExtractor
    from ipfx.spike_train_features import basic_spike_train_features

    spikes = SpikeFeatureExtractor(start=start, end=end).process(t, v, i)
    return spikes, basic_spike_train_features(t, spikes, start if start is not None else t[0],
                                              end if end is not None else t[-1])


def run_allensdk(t: np.ndarray, v: np.ndarray, i: np.ndarray | None, start: float | None,
                 end: float | None) -> tuple[object, dict[str, float]]:
    from allensdk.ephys.ephys_extractor import EphysSweepFeatureExtractor

    extractor = EphysSweepFeatureExtractor(t=t, v=v, i=i, start=start, end=end)
    extractor.process_spikes()
    return extractor._spikes_df, {name: extractor.sweep_feature(name, allow_missing=True)
                                  for name in TRAIN}


RUNNERS = {"ipfx": run_ipfx, "allensdk": run_allensdk}


def run(t: np.ndarray, v: np.ndarray, i: np.ndarray | None, start: float | None,
        end: float | None) -> dict[str, np.ndarray]:
    spikes, train = RUNNER(t, v, i, start, end)
    out: dict[str, np.ndarray] = {}
    for column in COLUMNS:
        if len(spikes) and column in spikes:
            out[column] = spikes[column].to_numpy(dtype=float)
        else:
            out[column] = np.full(len(spikes), np.nan)
    out["isi_type"] = np.array([str(x) for x in spikes["isi_type"]]) if len(spikes) else \
        np.zeros(0, "<U6")
    out["train"] = np.array([float(train.get(name, np.nan)) for name in TRAIN])
    return out


def main(snapshot: Path, reference: str) -> None:
    cases: dict[str, dict[str, np.ndarray]] = {}
    meta: dict[str, object] = {"reference": reference, "columns": COLUMNS, "train": TRAIN,
                               "cases": {}, "nwb_sha256": {}}
    for path in sorted(HERE.glob("spike_test_*.txt")):
        t, v = np.loadtxt(path, unpack=True)
        for label, (start, end) in (("whole", (None, None)),
                                    ("window", (t[0] + 0.2 * (t[-1] - t[0]),
                                                t[0] + 0.8 * (t[-1] - t[0])))):
            key = f"{path.stem}/{label}"
            cases[key] = run(t, v, None, start, end)
            meta["cases"][key] = {"file": path.name, "start": start, "end": end}
    for nwb_path in sorted(snapshot.rglob("*.nwb")):
        meta["nwb_sha256"][nwb_path.name] = hashlib.sha256(nwb_path.read_bytes()).hexdigest()
        with h5py.File(nwb_path, "r") as nwb:
            for name in sorted(nwb["acquisition/timeseries"], key=lambda n: int(n[6:])):
                series = nwb[f"acquisition/timeseries/{name}"]
                ancestry = [a.decode() for a in series.attrs["ancestry"]]
                if ancestry[-1] != "CurrentClampSeries":
                    continue
                v = series["data"][()].astype(np.float64) * 1e3
                i = nwb[f"stimulus/presentation/{name}/data"][()].astype(np.float64) * 1e12
                t = np.arange(v.size) / RATE
                number = int(name[6:])
                first = int(nwb[f"epochs/Experiment_{number}/response/idx_start"][()])
                active = np.flatnonzero(i[first:]) + first  # after the test pulse
                windows = {"whole": (None, None)}
                if active.size:
                    windows["stimulus"] = (t[active[0]], t[min(active[-1] + 1, v.size - 1)])
                for label, (start, end) in windows.items():
                    key = f"{nwb_path.name}/{name}/{label}"
                    cases[key] = run(t, v, i, start, end)
                    meta["cases"][key] = {"file": nwb_path.name, "sweep": name,
                                          "start": start, "end": end}
    # One array per column over all cases; "case" says which case each spike belongs to.
    keys = list(cases)
    meta["case_order"] = keys
    arrays = {column: np.concatenate([cases[k][column] for k in keys])
              for column in (*COLUMNS, "isi_type")}
    arrays["case"] = np.concatenate([np.full(len(cases[k]["threshold_index"]), n)
                                     for n, k in enumerate(keys)])
    arrays["train"] = np.stack([cases[k]["train"] for k in keys])
    stem = "spike_reference" if reference == "ipfx" else f"spike_reference_{reference}"
    np.savez_compressed(HERE / f"{stem}.npz", **arrays)
    (HERE / f"{stem}.json").write_text(json.dumps(meta, indent=1, default=float))
    n_spikes = sum(len(case["threshold_index"]) for case in cases.values())
    print(f"{len(cases)} cases, {n_spikes} spikes")


if __name__ == "__main__":
    REFERENCE = sys.argv[2] if len(sys.argv) > 2 else "ipfx"
    RUNNER = RUNNERS[REFERENCE]
    main(Path(sys.argv[1]), REFERENCE)
