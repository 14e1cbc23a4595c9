"""Benchmark: our GLIF simulator and EVR against AllenSDK's ``GlifNeuron.run`` and a direct EVR.

    python bench/bench_glif.py --allensdk-python .venv-allensdk/bin/python [--seconds 2] [--json]

AllenSDK 2.16.2 pins numpy<1.24, so it runs in its own virtualenv through a subprocess that times
``GlifNeuron.run`` itself (its import and start-up are not counted) and also times the published
scipy-based EVR computation. Without ``--allensdk-python`` only our side and the direct EVR run.
Both simulators get the same config and noise stimulus (200 kHz); their spike steps are compared.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ctmirror.glif import simulate  # noqa: E402
from ctmirror.metrics import explained_variance_ratio  # noqa: E402
from ctmirror.metrics.evr import gaussian_kernel  # noqa: E402
from ctmirror.readers.glif_config import read_glif_config  # noqa: E402

DT = 5e-6
DEFAULT_CONFIG = ROOT / "tests" / "data" / "glif" / "configs" / "566283540" / "neuron_config.json"
REPEATS = 4

_ALLENSDK_SIDE = r"""
import json, resource, sys, time
import numpy as np
from allensdk.model.glif.glif_neuron import GlifNeuron
sys.path.insert(0, sys.argv[2])
from make_reference import load_config, published_evr
work = sys.argv[1]
cfg = load_config(__import__("pathlib").Path(work) / "neuron_config.json")
cfg["dt"] = float(sys.argv[3])
stim = np.load(work + "/stimulus.npy")
neuron = GlifNeuron.from_dict(cfg)
start = time.perf_counter()
out = neuron.run(stim)
run_s = time.perf_counter() - start
trains = np.load(work + "/trains.npz")
data = [trains[k] for k in sorted(trains.files) if k.startswith("data")]
start = time.perf_counter()
evr = published_evr(data, trains["model"], stim.size, cfg["dt"])
evr_s = time.perf_counter() - start
json.dump({"run_s": run_s, "spike_time_steps": [int(s) for s in out["spike_time_steps"]],
           "evr_s": evr_s, "evr": evr[2],
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024},
          open(work + "/allensdk.json", "w"))
"""


def noise_stimulus(config_path: Path, seconds: float) -> np.ndarray:
    config = read_glif_config(config_path)
    g = config.coeffs.G / config.R_input
    rng = np.random.default_rng(2018)
    values = rng.standard_normal(int(seconds * 10_000))  # a new value every 0.1 ms
    return 2.0 * g * config.th_inf * config.coeffs.th_inf * (1.0 + 0.5 * np.repeat(values, 20))


def best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def direct_evr(data: list[np.ndarray], model: np.ndarray, n: int, dt: float) -> float:
    """The published formula written out literally: 0/1 trains, direct (non-FFT) convolution in
    'full' mode for the data's PSTH and 'same' mode for data against model."""
    kernel = gaussian_kernel(0.01, dt)

    def train(steps: np.ndarray) -> np.ndarray:
        out = np.zeros(n)
        out[steps] = 1.0
        return out

    def ev(x: np.ndarray, y: np.ndarray) -> float:
        vd = float(np.var(x - y))
        return 1.0 if vd == 0 else (np.var(x) + np.var(y) - vd) / (np.var(x) + np.var(y))

    data_full = [np.convolve(train(s), kernel, "full") for s in data]
    psth = np.mean(np.array(data_full), axis=0)
    ev_data = np.mean([ev(c, psth) for c in data_full])
    model_same = np.convolve(train(model), kernel, "same")
    ev_model = np.mean([ev(np.convolve(train(s), kernel, "same"), model_same) for s in data])
    return float(ev_model / ev_data)


def synthetic_repeats(model: np.ndarray, n: int) -> list[np.ndarray]:
    """Data-like repeats: the model's spikes jittered by 3 ms, 10 % dropped."""
    rng = np.random.default_rng(7)
    repeats = []
    for _ in range(REPEATS):
        kept = model[rng.random(model.size) > 0.1]
        repeats.append(np.unique(np.clip(kept + rng.normal(0, 600, kept.size), 0, n - 1)
                                 .astype(np.int64)))
    return repeats


def run(config_path: Path, seconds: float, allensdk_python: str | None,
        with_direct_evr: bool = True) -> dict[str, Any]:
    config = read_glif_config(config_path)
    stim = noise_stimulus(config_path, seconds)
    start = time.perf_counter()
    simulate(config, stim[:1000], DT)  # compile, or load the compiled kernel from cache
    first_call_s = time.perf_counter() - start
    ours_s, result = best_of(3, lambda: simulate(config, stim, DT))
    model = result.spike_time_steps
    data = synthetic_repeats(model, stim.size)
    evr_fast_s, fast = best_of(3, lambda: explained_variance_ratio(data, model, stim.size, DT))
    report: dict[str, Any] = {
        "config": config_path.parent.name,
        "glif_level": config.level,
        "steps": int(stim.size),
        "spikes": int(model.size),
        "ours_s": ours_s,
        "ours_ns_per_step": ours_s / stim.size * 1e9,
        "ours_first_call_s": first_call_s,
        "evr_fast_s": evr_fast_s,
        "evr_fast": fast.ratio,
    }
    if with_direct_evr:
        evr_direct_s, direct = best_of(1, lambda: direct_evr(data, model, stim.size, DT))
        report.update({
            "evr_direct_s": evr_direct_s,
            "evr_direct": direct,
            "evr_abs_diff": abs(fast.ratio - direct),
            "evr_speedup_vs_direct": evr_direct_s / evr_fast_s,
        })
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if allensdk_python:
        with tempfile.TemporaryDirectory() as work:
            (Path(work) / "neuron_config.json").write_bytes(config_path.read_bytes())
            np.save(Path(work) / "stimulus.npy", stim)
            np.savez(Path(work) / "trains.npz", model=model,
                     **{f"data{i}": d for i, d in enumerate(data)})
            subprocess.run([allensdk_python, "-c", _ALLENSDK_SIDE, work,
                            str(ROOT / "tests" / "data" / "glif"), repr(DT)], check=True)
            theirs = json.loads((Path(work) / "allensdk.json").read_text())
        report.update({
            "allensdk_s": theirs["run_s"],
            "allensdk_us_per_step": theirs["run_s"] / stim.size * 1e6,
            "speedup_vs_allensdk": theirs["run_s"] / ours_s,
            "spike_steps_identical": theirs["spike_time_steps"] == model.tolist(),
            "published_evr_s": theirs["evr_s"],
            "published_evr": theirs["evr"],
            "evr_abs_diff_vs_published": abs(fast.ratio - theirs["evr"]),
            "evr_speedup_vs_published": theirs["evr_s"] / evr_fast_s,
            "allensdk_peak_rss_mb": theirs["peak_rss_mb"],
        })
    return report


def print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"GLIF{report['glif_level']} model {report['config']}: {report['steps']:,} "
                        f"steps at 200 kHz, {report['spikes']} spikes")
    for column in ("measure", "ours", "reference", "ratio"):
        table.add_column(column, justify="right")
    if "allensdk_s" in report:
        table.add_row("simulate (s)", f"{report['ours_s']:.4f}", f"{report['allensdk_s']:.2f}",
                      f"{report['speedup_vs_allensdk']:.0f}x")
        table.add_row("spike steps identical", "", "", str(report["spike_steps_identical"]))
        table.add_row("EVR vs published scipy (s)", f"{report['evr_fast_s']:.3f}",
                      f"{report['published_evr_s']:.3f}",
                      f"{report['evr_speedup_vs_published']:.1f}x")
        table.add_row("EVR |ours - published|", "", "",
                      f"{report['evr_abs_diff_vs_published']:.1e}")
    else:
        table.add_row("simulate (s)", f"{report['ours_s']:.4f}", "-", "-")
    if "evr_direct_s" in report:
        table.add_row("EVR vs direct convolution (s)", f"{report['evr_fast_s']:.3f}",
                      f"{report['evr_direct_s']:.3f}", f"{report['evr_speedup_vs_direct']:.1f}x")
        table.add_row("EVR |ours - direct|", f"{report['evr_fast']:.9f}",
                      f"{report['evr_direct']:.9f}", f"{report['evr_abs_diff']:.1e}")
    else:
        table.add_row("EVR (s)", f"{report['evr_fast_s']:.3f}", "-", "-")
    table.add_row("peak RSS (MB)", f"{report['peak_rss_mb']:.0f}",
                  f"{report.get('allensdk_peak_rss_mb', float('nan')):.0f}", "")
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--seconds", type=float, default=2.0, help="stimulus length")
    parser.add_argument("--allensdk-python", help="python of a virtualenv with allensdk 2.16.2")
    parser.add_argument("--no-direct-evr", action="store_true",
                        help="skip the direct-convolution EVR (slow on long sweeps)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    report = run(args.config, args.seconds, args.allensdk_python, not args.no_direct_evr)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
