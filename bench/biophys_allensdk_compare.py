"""Spike times and speed of ``ctmirror.biophys`` against AllenSDK's biophysical runner.

    .venv/bin/python bench/biophys_allensdk_compare.py SDK_PYTHON MODELS_DIR [--models 5] [--json]

SDK_PYTHON is the python of a virtualenv with AllenSDK and ``neuron``; MODELS_DIR holds
perisomatic model packages (``<id>_fit.json``, SWC, ``ephys_sweeps.json``), of which the first
``--models`` (sorted) are run. For each, three stimuli at 200 kHz (written to .npy): a 1 s long
square at the fit's training amplitude (mean of ``fitting.sweeps``), a 3 ms short square at
1.25x the lowest of a ladder of amplitudes that spikes under cvode, and a 1 s ramp from 0 to
twice the training amplitude; each with 0.1 s before and after. AllenSDK's side
(bench/biophys_allensdk_side.py, its own ``Utils``, fixed 5 µs step) and ours (fixed step and
cvode) run on the same arrays; both compile the bundled .mod files with their own ``nrnivmodl``.
Spikes are detected on both traces with the project's code (``ctmirror.biophys.response``) and
paired in order when the counts agree, else each AllenSDK spike with the nearest of ours.

Per model (each is one cell's model): the integration time per simulated second over its
stimuli on each side, and the wall time of one process running all of them as the sync stage
does (``ctmirror.biophys.child``: process start, NEURON and mechanisms loaded, the cell built,
every stimulus run, fixed step) against AllenSDK's side process doing the same.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

DT = 5e-6  # s: 200 kHz, AllenSDK's simulation step for a 200 kHz stimulus
PAD = 0.1  # s of zero current before and after each stimulus
TOLERANCE = 1e-4  # s
MODFILES = Path(__file__).resolve().parent.parent / "etl" / "replica" / "corpus" / "modfiles"
SIDE = Path(__file__).resolve().with_name("biophys_allensdk_side.py")
SHORT_LADDER_NA = (0.3, 0.45, 0.7, 1.0, 1.5, 2.2, 3.3, 5.0)


def _training_amp(package: Path, fit: dict[str, Any]) -> float:
    """A: the mean amplitude of the fit's training sweeps."""
    sweeps = {s["sweep_number"]: s for s in json.loads((package / "ephys_sweeps.json").read_text())}
    amps = [sweeps[n]["stimulus_absolute_amplitude"] for n in fit["fitting"][0]["sweeps"]
            if n in sweeps]
    return float(np.mean(amps)) * 1e-12


def _padded(core: np.ndarray) -> np.ndarray:
    pad = np.zeros(int(round(PAD / DT)))
    return np.concatenate([pad, core, pad, [0.0]])


def long_square(amp: float) -> np.ndarray:
    return _padded(np.full(int(round(1.0 / DT)), amp))


def short_square(amp: float) -> np.ndarray:
    return _padded(np.full(int(round(3e-3 / DT)), amp))


def ramp(amp: float) -> np.ndarray:
    n = int(round(1.0 / DT))
    return _padded(np.arange(n) * (2.0 * amp / n))


def pair(ours: np.ndarray, sdk: np.ndarray) -> np.ndarray:
    """s: |difference| per AllenSDK spike (nan where we have none)."""
    if ours.size == sdk.size:
        return np.abs(ours - sdk)
    if ours.size == 0:
        return np.full(sdk.size, np.nan)
    return np.array([np.min(np.abs(ours - t)) for t in sdk])


def _per_model(package: Path, model: Any, library: Path, stimuli: dict[str, np.ndarray],
               rows: list[dict[str, Any]], sdk_process_s: float) -> dict[str, Any]:
    """One model's seconds per simulated second on each side, and its whole-process wall time
    as the sync stage runs it."""
    from ctmirror.biophys.child import Request, Simulation, simulate_in_child

    name = package.name.removeprefix("neuronal_model_")
    mine = [r for r in rows if r["model"] == name]
    simulated = sum(r["simulated_s"] for r in mine)
    request = Request(next(package.glob("*_fit.json")), model.swc, library, "fixed",
                      tuple(Simulation(i, current, DT)
                            for i, current in enumerate(stimuli.values())))
    began = time.perf_counter()
    deque(simulate_in_child(request, timeout_s=3600.0), maxlen=0)
    stage_process_s = time.perf_counter() - began
    return {
        "model": name, "simulated_s": simulated,
        "sdk_run_s_per_sim_s": sum(r["sdk_run_s_per_sim_s"] * r["simulated_s"]
                                   for r in mine) / simulated,
        **{f"{solver}_run_s_per_sim_s": sum(r[solver]["run_s_per_sim_s"] * r["simulated_s"]
                                            for r in mine) / simulated
           for solver in ("fixed", "cvode")},
        "sdk_process_s": sdk_process_s, "stage_process_s": stage_process_s,
        "stage_process_s_per_sim_s": stage_process_s / simulated,
        "sdk_process_s_per_sim_s": sdk_process_s / simulated,
    }


def main() -> None:
    from ctmirror.biophys.mechanisms import compile_mechanisms, mod_files_in
    from ctmirror.biophys.response import analyse
    from ctmirror.biophys.simulate import PerisomaticModel, Solver, run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sdk_python", help="python of a virtualenv with AllenSDK and neuron")
    parser.add_argument("models_dir", type=Path)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="biophys-compare-"))
    work.mkdir(parents=True, exist_ok=True)

    packages = sorted(p for p in args.models_dir.iterdir() if any(p.glob("*_fit.json")))
    packages = packages[:args.models]
    library = compile_mechanisms(mod_files_in(MODFILES), work / "ours")
    sdk_build = work / "sdk_mech"
    sdk_build.mkdir(exist_ok=True)
    for mod in mod_files_in(MODFILES):
        (sdk_build / mod.name).write_bytes(mod.read_bytes())
    nrnivmodl = str(Path(args.sdk_python).with_name("nrnivmodl"))
    subprocess.run([nrnivmodl], cwd=sdk_build, check=True, capture_output=True)
    sdk_library = next(sdk_build.glob("*/libnrnmech.so"))

    rows: list[dict[str, Any]] = []
    per_model: list[dict[str, Any]] = []
    for package in packages:
        model = PerisomaticModel.from_dir(package)
        amp = _training_amp(package, model.fit)
        short_amp = None
        for na in SHORT_LADDER_NA:
            probe = run(model, library, short_square(na * 1e-9), DT, Solver.CVODE)
            if analyse(probe.v, short_square(na * 1e-9), DT).spike_times.size:
                short_amp = 1.25 * na * 1e-9
                break
        stimuli = {"long_square": long_square(amp), "ramp": ramp(amp)}
        if short_amp is not None:
            stimuli["short_square"] = short_square(short_amp)
        folder = work / package.name
        (folder / "sdk").mkdir(parents=True, exist_ok=True)
        paths = []
        for name, current in stimuli.items():
            np.save(folder / f"{name}.npy", current)
            paths.append(str(folder / f"{name}.npy"))
        began = time.perf_counter()
        done = subprocess.run([args.sdk_python, str(SIDE), str(package), str(sdk_library),
                               str(folder / "sdk"), *paths],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{package.name}: AllenSDK side failed: "
                             f"{done.stderr.strip().splitlines()[-1:]}")
        sdk_wall = time.perf_counter() - began
        sdk_runs = {r["stimulus"]: r for r in map(json.loads, done.stdout.strip().splitlines())}
        for name, current in stimuli.items():
            sim_s = (current.size - 1) * DT
            sdk_v = np.load(folder / "sdk" / f"{name}.npy")
            n = min(sdk_v.size, current.size)  # h.run() may stop one step short of tstop
            sdk_times = analyse(sdk_v[:n], current[:n], DT).spike_times
            row: dict[str, Any] = {
                "model": package.name.removeprefix("neuronal_model_"), "stimulus": name,
                "amp_pa": round(float(current.max()) * 1e12, 1), "simulated_s": sim_s,
                "sdk_spikes": int(sdk_times.size),
                "sdk_run_s_per_sim_s": sdk_runs[name]["run_s"] / sim_s,
                "sdk_process_s": sdk_wall,
            }
            for solver in (Solver.FIXED, Solver.CVODE):
                result = run(model, library, current, DT, solver)
                ours = analyse(result.v, current, DT).spike_times
                diffs = pair(ours, sdk_times)
                within = int(np.sum(diffs <= TOLERANCE))
                row[solver.value] = {
                    "spikes": int(ours.size), "count_equal": bool(ours.size == sdk_times.size),
                    "within_0.1ms": within,
                    "max_diff_ms": float(np.nanmax(diffs) * 1e3) if diffs.size else 0.0,
                    "run_s_per_sim_s": result.run_s / sim_s,
                    "speed_vs_sdk": sdk_runs[name]["run_s"] / result.run_s,
                }
                if solver is Solver.FIXED:
                    row["max_dv_mv"] = float(np.max(np.abs(result.v[:n] - sdk_v[:n])))
            rows.append(row)
            if not args.json:
                f, c = row["fixed"], row["cvode"]
                print(f"{row['model']} {name:12s} {row['amp_pa']:8.1f} pA  spikes sdk "
                      f"{row['sdk_spikes']:3d} fixed {f['spikes']:3d} cvode {c['spikes']:3d}  "
                      f"within 0.1 ms fixed {f['within_0.1ms']}/{row['sdk_spikes']} "
                      f"(max {f['max_diff_ms']:.4f} ms, max |dV| {row['max_dv_mv']:.4f} mV) "
                      f"cvode {c['within_0.1ms']} (max {c['max_diff_ms']:.3f} ms)  s/sim s sdk "
                      f"{row['sdk_run_s_per_sim_s']:.2f} fixed {f['run_s_per_sim_s']:.2f} cvode "
                      f"{c['run_s_per_sim_s']:.3f}", flush=True)
        per_model.append(_per_model(package, model, library, stimuli, rows, sdk_wall))
        if not args.json:
            print(json.dumps(per_model[-1]), flush=True)

    total = sum(r["sdk_spikes"] for r in rows)
    summary: dict[str, Any] = {"models": len(packages), "sweeps": len(rows), "sdk_spikes": total,
                               "per_model": per_model}
    for solver in ("fixed", "cvode"):
        within = sum(r[solver]["within_0.1ms"] for r in rows)
        summary[solver] = {
            "within_0.1ms": within, "percent": 100.0 * within / total if total else None,
            "max_diff_ms": max(r[solver]["max_diff_ms"] for r in rows),
            "count_equal_sweeps": sum(r[solver]["count_equal"] for r in rows),
            "median_speed_vs_sdk": float(np.median([r[solver]["speed_vs_sdk"] for r in rows])),
        }
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}))
    else:
        print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
