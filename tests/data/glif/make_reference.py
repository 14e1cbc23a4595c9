"""Make ``reference.npz``: AllenSDK 2.16.2 GLIF runs and explained variance ratios to test against.

Run it with a Python that has ``allensdk==2.16.2`` (it pins numpy<1.24, so give it its own
virtualenv), never with the project's environment:

    python3 -m venv .venv-allensdk && .venv-allensdk/bin/pip install allensdk==2.16.2
    .venv-allensdk/bin/python tests/data/glif/make_reference.py tests/data/glif/configs

Every ``neuron_config.json`` under the directory given is run by ``GlifNeuron.run`` at dt = 5 us
(the recordings' 200 kHz, with ``spike_cut_length`` left in samples, as the published runs did) on
a current step and on a noise current, both scaled to the cell's rheobase. A few variants of real
configs exercise the reference's quirks (no spike cut, a reset above threshold that stops the run,
a cut that runs past the end of the sweep). For each run the file keeps the spike steps, the
interpolated spike times/voltages/thresholds, and voltage and threshold at a stride and around
every spike (not every sample, to stay small).

It also computes the explained variance ratio of two synthetic cases with the published method
(Teeter et al. 2018: scipy's gaussian window and fftconvolve, 'full' for the data's PSTH, 'same'
for data against model), for the project's own implementation to be checked against.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
from allensdk.model.glif.glif_neuron import GlifNeuron
from scipy.signal import fftconvolve
from scipy.signal.windows import gaussian

DT = 5e-6
SEED = 20180213
NOISE_HOLD = 20  # samples per noise value: 0.1 ms
NOISE_VALUES = 10_000  # 1 s of noise
STEP_DELAY, STEP_LENGTH = 20_000, 80_000  # 0.1 s at rest, then 0.4 s of step
STEP_FACTOR, NOISE_MEAN, NOISE_SD = 2.0, 1.5, 0.8  # multiples of the rheobase estimate
VOLTAGE_STRIDE = 500
AROUND_SPIKE = 3


def load_config(path: Path) -> dict:
    document = json.loads(path.read_text())
    if "El" not in document and len(document) == 1:
        document = next(iter(document.values()))
    return document


def rheobase(cfg: dict) -> float:
    """Steady current that brings V to threshold, counting the voltage-driven threshold term."""
    coeffs = cfg.get("coeffs", {})
    g = coeffs.get("G", 1.0) / cfg["R_input"]
    th_inf = cfg["th_inf"] * coeffs.get("th_inf", 1.0)
    adaptation = 0.0
    if cfg["threshold_dynamics_method"]["name"] == "three_components_exact":
        params = cfg["threshold_dynamics_method"]["params"]
        adaptation = (params["a_voltage"] * coeffs.get("a", 1.0)) / (
            params["b_voltage"] * coeffs.get("b", 1.0))
    return g * th_inf / max(1.0 - adaptation, 0.2)


def stimulus(kind: str, amplitude: float, pattern: np.ndarray) -> np.ndarray:
    """A case's stimulus: elementwise IEEE arithmetic only, so any numpy rebuilds it exactly."""
    if kind == "step":
        return np.concatenate([np.zeros(STEP_DELAY), np.full(STEP_LENGTH, STEP_FACTOR * amplitude)])
    return amplitude * (NOISE_MEAN + NOISE_SD * np.repeat(pattern, NOISE_HOLD))


def apply_overrides(cfg: dict, overrides: dict) -> dict:
    cfg = copy.deepcopy(cfg)
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = cfg
        for key in parents:
            node = node[key]
        node[leaf] = value
    return cfg


def run_allensdk(cfg: dict, stim: np.ndarray) -> tuple[dict, float]:
    cfg = dict(cfg, dt=DT)
    neuron = GlifNeuron.from_dict(cfg)
    start = time.perf_counter()
    out = neuron.run(stim)
    return out, time.perf_counter() - start


def sample_indices(n: int, spike_steps: np.ndarray, cut: int) -> np.ndarray:
    picked = [np.arange(0, n, VOLTAGE_STRIDE)]
    for s in spike_steps:
        picked.append(np.arange(s - AROUND_SPIKE, s + 1))
        picked.append(np.arange(s + cut, s + cut + AROUND_SPIKE + 1))
    idx = np.unique(np.concatenate(picked))
    return idx[(idx >= 0) & (idx < n)].astype(np.int64)


def published_evr(data_steps: list[np.ndarray], model_steps: np.ndarray, n: int, dt: float,
                  sigma: float = 0.01) -> tuple[float, float, float]:
    """Explained variance ratio as Teeter et al. computed it (one sigma)."""
    std = sigma / dt
    window = gaussian(int(std * 10), std)
    window = window / np.sum(window)

    def trains(steps_list):
        out = []
        for steps in steps_list:
            train = np.zeros(n)
            train[list(steps)] = 1.0
            out.append(train)
        return out

    def ev(x, y):
        var_diff = np.var(x - y)
        if var_diff == 0.0:
            return 1.0
        return (np.var(x) + np.var(y) - var_diff) / (np.var(x) + np.var(y))

    full = [fftconvolve(t, window, "full") for t in trains(data_steps)]
    psth = np.mean(np.array(full), axis=0)
    ev_data = float(np.mean([ev(c, psth) for c in full]))
    same = [fftconvolve(t, window, "same") for t in trains(data_steps)]
    model = fftconvolve(trains([model_steps])[0], window, "same")
    ev_model = float(np.mean([ev(d, model) for d in same]))
    return ev_data, ev_model, ev_model / ev_data


def evr_cases(rng: np.random.Generator) -> list[dict]:
    cases = []
    for name, dt, n, rate_hz, repeats in (("evr_200khz", 5e-6, 400_000, 12.0, 4),
                                           ("evr_50khz", 2e-5, 150_000, 20.0, 3)):
        duration = n * dt
        base = np.sort(rng.uniform(0.0, duration, int(rate_hz * duration)))
        data = []
        for _ in range(repeats):
            kept = base[rng.random(base.size) > 0.15]
            jittered = np.clip(kept + rng.normal(0.0, 0.004, kept.size), 0.0, duration - dt)
            data.append(np.unique((np.sort(jittered) / dt).astype(np.int64)))
        model = np.unique((np.clip(base + rng.normal(0.003, 0.006, base.size), 0, duration - dt)
                           / dt).astype(np.int64))
        ev_data, ev_model, ratio = published_evr(data, model, n, dt)
        cases.append({"name": name, "dt": dt, "n": n, "data": data, "model": model,
                      "ev_data": ev_data, "ev_model": ev_model, "ratio": ratio})
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", type=Path, help="directory searched for neuron_config.json")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("reference.npz"))
    args = parser.parse_args()

    rng = np.random.default_rng(SEED)
    pattern = rng.standard_normal(NOISE_VALUES)
    arrays: dict[str, np.ndarray] = {"noise_pattern": pattern}
    index: list[dict] = []

    config_paths = sorted(args.configs.rglob("neuron_config.json"))
    if not config_paths:
        raise SystemExit(f"no neuron_config.json under {args.configs}")
    runs = []
    for path in config_paths:
        for kind in ("step", "noise"):
            runs.append((path, kind, {}, None))
    # quirks on real configs: no spike cut; a reset above threshold; a cut past the end
    by_level = {load_config(p)["threshold_dynamics_method"]["name"]: p for p in config_paths}
    glif2 = next(p for p in config_paths
                 if load_config(p)["threshold_dynamics_method"]["name"] == "spike_component"
                 and load_config(p)["AScurrent_dynamics_method"]["name"] == "none")
    glif5 = by_level["three_components_exact"]
    runs.append((glif2, "noise", {"spike_cut_length": 0}, "cut0"))
    runs.append((glif5, "noise", {"spike_cut_length": 0}, "cut0"))
    runs.append((glif2, "step", {"voltage_reset_method.params.b": 0.5}, "bad_reset"))
    runs.append((glif5, "step", {}, "cut_past_end"))

    for number, (path, kind, overrides, variant) in enumerate(runs):
        cfg = apply_overrides(load_config(path), overrides)
        amplitude = rheobase(cfg)
        stim = stimulus(kind, amplitude, pattern)
        if variant == "cut_past_end":
            first, _ = run_allensdk(cfg, stim)
            stim = stim[: int(first["spike_time_steps"][0]) + cfg["spike_cut_length"] // 2]
        out, seconds = run_allensdk(cfg, stim)
        steps = np.asarray(out["spike_time_steps"], dtype=np.int64)
        idx = sample_indices(len(stim), steps, int(cfg["spike_cut_length"]))
        key = f"run{number:03d}"
        arrays[f"{key}__spike_time_steps"] = steps
        arrays[f"{key}__interpolated_spike_times"] = np.asarray(out["interpolated_spike_times"])
        arrays[f"{key}__interpolated_spike_voltage"] = np.asarray(out["interpolated_spike_voltage"])
        arrays[f"{key}__interpolated_spike_threshold"] = np.asarray(
            out["interpolated_spike_threshold"])
        arrays[f"{key}__sample_index"] = idx
        arrays[f"{key}__voltage"] = out["voltage"][idx]
        arrays[f"{key}__threshold"] = out["threshold"][idx]
        index.append({
            "key": key,
            "config": path.relative_to(args.configs).as_posix(),
            "stimulus": kind,
            "n_samples": len(stim),
            "amplitude": amplitude,
            "overrides": overrides,
            "variant": variant,
            "allensdk_seconds": seconds,
        })
        print(f"{key} {index[-1]['config']} {kind} {variant or ''}: {steps.size} spikes, "
              f"{seconds:.1f} s ({seconds / len(stim) * 1e6:.1f} us/step)", flush=True)

    evr_index = []
    for case in evr_cases(rng):
        key = case["name"]
        for i, steps in enumerate(case["data"]):
            arrays[f"{key}__data{i}"] = steps
        arrays[f"{key}__model"] = case["model"]
        evr_index.append({k: case[k] for k in ("name", "dt", "n", "ev_data", "ev_model", "ratio")}
                         | {"repeats": len(case["data"])})

    meta = {
        "allensdk": "2.16.2",
        "numpy": np.__version__,
        "dt": DT,
        "step": {"delay": STEP_DELAY, "length": STEP_LENGTH, "factor": STEP_FACTOR},
        "noise": {"hold": NOISE_HOLD, "mean": NOISE_MEAN, "sd": NOISE_SD},
        "runs": index,
        "evr": evr_index,
    }
    arrays["meta_json"] = np.array(json.dumps(meta))
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
