"""Run one Allen perisomatic biophysical model on a long-square step with NEURON (``neuron`` extra).

    .venv/bin/python bench/biophysical_run.py MODEL_DIR --modfiles DIR [--fixed-step] [--json]

MODEL_DIR is a model package (``<id>_fit.json``, the SWC, ``ephys_sweeps.json``); DIR holds the
16 perisomatic ``.mod`` files, which the package does not contain (see docs/biophysical.md).
Compiling, building the cell and running are ``ctmirror.biophys`` (cvode, or with
``--fixed-step`` AllenSDK runner's fixed step). The step (onset ``--delay``, default 1.02 s)
takes the amplitude and duration of the fit json's training sweeps (``fitting.sweeps``) from
``ephys_sweeps.json`` unless ``--amp-pa``/``--dur``; the spike-train features of the model trace
are the project's (``ctmirror.features.ephys``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _training_sweeps(package: Path, fit: dict[str, Any]) -> list[dict[str, Any]]:
    """The recorded sweeps the model was fitted to (``fitting.sweeps`` in ``ephys_sweeps.json``)."""
    sweeps = {s["sweep_number"]: s for s in json.loads((package / "ephys_sweeps.json").read_text())}
    return [sweeps[n] for n in fit["fitting"][0]["sweeps"] if n in sweeps]


def features(v: np.ndarray, dt: float, start: float, end: float) -> dict[str, Any]:
    from ctmirror.features.ephys import detect_spikes, spike_train_features

    t = np.arange(v.size) * dt
    spikes = detect_spikes(t, v, start=start, end=end)
    train = spike_train_features(spikes, t, start, end)
    out: dict[str, Any] = {name: float(value) for name, value in train.items()}
    out["n_spikes"] = len(spikes)
    out["threshold_t"] = [round(float(x), 6) for x in spikes["threshold_t"]]
    for name in ("peak_v", "fast_trough_v", "threshold_v", "width", "upstroke", "downstroke"):
        values = np.asarray(spikes[name], dtype=np.float64)
        out[name] = float(np.nanmean(values)) if values.size else float("nan")
    return out


def main() -> None:
    from ctmirror.biophys.mechanisms import compile_mechanisms, mod_files_in
    from ctmirror.biophys.simulate import PerisomaticModel, Solver, run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path)
    parser.add_argument("--modfiles", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "nrnmech")
    parser.add_argument("--amp-pa", type=float, default=None)
    parser.add_argument("--delay", type=float, default=1.02)
    parser.add_argument("--dur", type=float, default=0.0, help="s; default: training sweep's")
    parser.add_argument("--after", type=float, default=0.5, help="s simulated after the step")
    parser.add_argument("--dt", type=float, default=5e-6, help="s")
    parser.add_argument("--fixed-step", action="store_true", help="AllenSDK runner: fixed dt")
    parser.add_argument("--out", type=Path, default=None, help="write the trace to OUT.npz")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    began = time.perf_counter()
    library = compile_mechanisms(mod_files_in(args.modfiles), args.work)
    compile_s = time.perf_counter() - began
    model = PerisomaticModel.from_dir(args.package)
    training = _training_sweeps(args.package, model.fit)
    amp = float(np.mean([s["stimulus_absolute_amplitude"] for s in training])) \
        if args.amp_pa is None else args.amp_pa
    dur = args.dur if args.dur > 0 else float(np.mean([s["stimulus_duration"]
                                                        for s in training]))
    tstop = args.delay + dur + args.after
    current = np.zeros(int(round(tstop / args.dt)) + 1)
    current[int(round(args.delay / args.dt)):int(round((args.delay + dur) / args.dt))] = amp * 1e-12
    began = time.perf_counter()
    result = run(model, library, current, args.dt,
                 Solver.FIXED if args.fixed_step else Solver.CVODE)
    total_s = time.perf_counter() - began
    began = time.perf_counter()
    found = features(result.v, args.dt, args.delay, args.delay + dur)
    report = {
        "model": args.package.name, "segments": result.segments, "amp_pa": amp,
        "delay_s": args.delay, "dur_s": dur, "tstop_s": tstop, "dt_s": args.dt,
        "solver": result.solver.value,
        "junction_potential_mv": model.fit["fitting"][0]["junction_potential"],
        "compile_s": compile_s, "instantiate_s": total_s - result.run_s, "run_s": result.run_s,
        "run_s_per_bio_s": result.run_s / tstop, "solver_points": result.solver_points,
        "training_sweeps": [s["sweep_number"] for s in training],
        "training_stimulus": sorted({s["stimulus_name"] for s in training}),
        "recorded_spike_counts": [s["num_spikes"] for s in training],
        "features": found, "features_s": time.perf_counter() - began,
    }
    if args.out:
        np.savez_compressed(args.out, v=result.v, dt=args.dt)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
