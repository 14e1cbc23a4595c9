"""Run one Allen perisomatic biophysical model on a long-square step with NEURON (PyPI ``neuron``).

    .venv/bin/python bench/biophysical_run.py MODEL_DIR --modfiles DIR \
        --neuron-python NRN_VENV/bin/python [--json]          # simulation + features
    NRN_VENV/bin/python bench/biophysical_run.py MODEL_DIR --modfiles DIR   # simulation only

MODEL_DIR is a model package (``<id>_fit.json``, the SWC, ``ephys_sweeps.json``); DIR holds the
16 perisomatic ``.mod`` files, which the package does not contain (see docs/biophysical.md). They
are compiled with ``nrnivmodl`` into ``--work`` once. The cell is built the way AllenSDK's
``allensdk.model.biophysical.utils.Utils`` builds a perisomatic model (Import3d SWC, axon replaced
by two 30 um x 1 um sections, passive and ``genome`` parameters from the fit json), integrated
with cvode as biophys_optimize does (``--fixed-step``: AllenSDK runner's fixed 5 us step). The
step (onset ``--delay``, default 1.02 s) takes the amplitude and duration of the fit json's
training sweeps (``fitting.sweeps``) from ``ephys_sweeps.json`` unless ``--amp-pa``/``--dur``.

NEURON is not a project dependency: with ``--neuron-python`` the simulation runs in that
interpreter and this process (the project's venv) detects spikes and computes the spike-train
features with ``ctmirror.features.ephys`` on the model trace. Nothing in the product imports
this file.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


# -- simulation (runs where ``neuron`` is importable) ----------------------------------------


def _compile(modfiles: Path, work: Path) -> tuple[Path, float]:
    lib = work / "x86_64" / "libnrnmech.so"
    if lib.exists():
        return lib, 0.0
    work.mkdir(parents=True, exist_ok=True)
    nrnivmodl = Path(sys.executable).with_name("nrnivmodl")
    began = time.perf_counter()
    subprocess.run([str(nrnivmodl), str(modfiles.resolve())], cwd=work, check=True,
                   stdout=subprocess.DEVNULL)
    return lib, time.perf_counter() - began


def _mechanisms(h: Any) -> set[str]:
    kinds = h.MechanismType(0)
    name = h.ref("")
    found = set()
    for index in range(int(kinds.count())):
        kinds.select(index)
        kinds.selected(name)
        found.add(name[0])
    return found


def _training_sweeps(package: Path, fit: dict[str, Any]) -> list[dict[str, Any]]:
    """The recorded sweeps the model was fitted to (``fitting.sweeps`` in ``ephys_sweeps.json``)."""
    sweeps = {s["sweep_number"]: s for s in json.loads((package / "ephys_sweeps.json").read_text())}
    return [sweeps[n] for n in fit["fitting"][0]["sweeps"] if n in sweeps]


def _build(h: Any, swc: str, fit: dict[str, Any]) -> None:
    """Perisomatic instantiation, after AllenSDK ``Utils.generate_morphology`` and
    ``load_cell_parameters`` (re-written, not copied)."""
    reader = h.Import3d_SWC_read()
    reader.input(swc)
    h.Import3d_GUI(reader, 0).instantiate(None)
    for sec in list(h.allsec()):
        if sec.name().startswith("axon"):
            h.delete_section(sec=sec)
        else:
            sec.nseg = 1 + 2 * int(sec.L / 40.0)
    h("create axon[2]")
    for sec in h.axon:
        sec.L, sec.diam = 30.0, 1.0
        sec.nseg = 1 + 2 * int(sec.L / 40.0)
    h.axon[0].connect(h.soma[0](0.5), 0.0)
    h.axon[1].connect(h.axon[0](1.0), 0.0)
    h.define_shape()

    passive = fit["passive"][0]
    for sec in h.allsec():
        sec.Ra = passive["ra"]
        sec.insert("pas")
        for seg in sec:
            seg.pas.e = passive["e_pas"]

    def sections(kind: str) -> list[Any]:  # hoc ``forsec "kind"``: name contains kind
        return [sec for sec in h.allsec() if kind in sec.name()]

    for entry in passive["cm"]:
        for sec in sections(entry["section"]):
            sec.cm = entry["cm"]
    for gene in fit["genome"]:
        for sec in sections(gene["section"]):
            if gene["mechanism"]:
                sec.insert(gene["mechanism"])
            for seg in sec:
                setattr(seg, gene["name"], gene["value"])
    for erev in fit["conditions"][0]["erev"]:
        for sec in sections(erev["section"]):
            sec.ek, sec.ena = erev["ek"], erev["ena"]


def simulate(package: Path, modfiles: Path, work: Path, amp_pa: float | None, delay_s: float,
             dur_s: float, tstop_s: float, dt_ms: float, cvode: bool) -> dict[str, Any]:
    lib, compile_s = _compile(modfiles, work)
    import neuron
    from neuron import h

    began = time.perf_counter()
    if "NaTs" not in _mechanisms(h):  # NEURON auto-loads ./x86_64 when started in ``work``
        h.nrn_load_dll(str(lib))
    h.load_file("stdrun.hoc")
    h.load_file("import3d.hoc")
    fit = json.loads(next(package.glob("*_fit.json")).read_text())
    swc = next(iter(glob.glob(str(package / "*.swc"))))
    _build(h, swc, fit)
    conditions = fit["conditions"][0]
    h.celsius = conditions["celsius"]
    h.v_init = conditions["v_init"]
    training = _training_sweeps(package, fit)
    amp = float(np.mean([s["stimulus_absolute_amplitude"] for s in training])) \
        if amp_pa is None else amp_pa
    if dur_s <= 0:
        dur_s = float(np.mean([s["stimulus_duration"] for s in training]))
        tstop_s = tstop_s if tstop_s > 0 else delay_s + dur_s + 0.5
    clamp = h.IClamp(h.soma[0](0.5))
    clamp.delay, clamp.dur, clamp.amp = delay_s * 1e3, dur_s * 1e3, amp * 1e-3
    h.cvode_active(1 if cvode else 0)
    if cvode:  # biophys_optimize.environment settings; record every step (a record interval
        h.cvode.atolscale("cai", 1e-4)  # would make cvode stop at each sample, ~35x slower)
        h.cvode.maxstep(10)
        t_rec = h.Vector().record(h._ref_t)
        v_rec = h.Vector().record(h.soma[0](0.5)._ref_v)
    else:
        h.dt = dt_ms
        v_rec = h.Vector().record(h.soma[0](0.5)._ref_v, dt_ms)
    h.tstop = tstop_s * 1e3
    instantiate_s = time.perf_counter() - began

    began = time.perf_counter()
    h.finitialize(h.v_init)
    h.continuerun(h.tstop)
    run_s = time.perf_counter() - began

    v = np.asarray(v_rec.as_numpy(), dtype=np.float64).copy()
    steps = v.size
    if cvode:  # onto the uniform grid the feature extractor expects
        grid = np.arange(int(round(tstop_s * 1e3 / dt_ms)) + 1) * dt_ms
        v = np.interp(grid, np.asarray(t_rec.as_numpy()), v)
    # quick count without the project's extractor: dV/dt rising through 20 V/s and v rising a
    # further 20 mV within 2 ms (drops the capacitive jump at stimulus onset)
    dvdt = np.diff(v) / dt_ms  # mV/ms = V/s
    up = np.flatnonzero((dvdt[1:] >= 20.0) & (dvdt[:-1] < 20.0)) + 1
    ahead = int(round(2.0 / dt_ms))
    up = np.array([k for k in up if v[k:k + ahead].max() - v[k] >= 20.0], dtype=np.int64)
    return {
        "neuron_version": neuron.__version__, "model": package.name,
        "sections": sum(1 for _ in h.allsec()), "segments": sum(s.nseg for s in h.allsec()),
        "amp_pa": amp, "delay_s": delay_s, "dur_s": dur_s, "tstop_s": tstop_s,
        "dt_ms": dt_ms, "cvode": cvode, "junction_potential_mv":
        fit["fitting"][0]["junction_potential"], "compile_s": compile_s,
        "instantiate_s": instantiate_s, "run_s": run_s, "run_s_per_bio_s": run_s / tstop_s,
        "solver_points": steps,
        "training_sweeps": [s["sweep_number"] for s in training],
        "training_stimulus": sorted({s["stimulus_name"] for s in training}),
        "recorded_spike_counts": [s["num_spikes"] for s in training],
        "spike_times_s": (up * dt_ms * 1e-3).tolist(), "v": v,
    }


# -- features (runs in the project's venv) ----------------------------------------------------


def features(v: np.ndarray, dt_ms: float, start: float, end: float) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from ctmirror.features.ephys import detect_spikes, spike_train_features

    t = np.arange(v.size) * dt_ms * 1e-3
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path)
    parser.add_argument("--modfiles", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "nrnmech")
    parser.add_argument("--amp-pa", type=float, default=None)
    parser.add_argument("--delay", type=float, default=1.02)
    parser.add_argument("--dur", type=float, default=0.0, help="s; default: training sweep's")
    parser.add_argument("--tstop", type=float, default=0.0, help="s; default delay+dur+0.5")
    parser.add_argument("--dt-ms", type=float, default=0.005)
    parser.add_argument("--fixed-step", action="store_true", help="AllenSDK runner: fixed dt")
    parser.add_argument("--neuron-python", default=None)
    parser.add_argument("--out", type=Path, default=None, help="write the trace to OUT.npz")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tstop = args.tstop if args.tstop > 0 or args.dur <= 0 else args.delay + args.dur + 0.5

    if args.neuron_python:
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "trace.npz"
            cmd = [args.neuron_python, __file__, str(args.package), "--modfiles",
                   str(args.modfiles), "--work", str(args.work), "--delay", str(args.delay),
                   "--dur", str(args.dur), "--tstop", str(tstop), "--dt-ms", str(args.dt_ms),
                   "--out", str(trace), "--json"]
            if args.amp_pa is not None:
                cmd += ["--amp-pa", str(args.amp_pa)]
            if args.fixed_step:
                cmd.append("--fixed-step")
            result = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                               text=True).stdout.strip().splitlines()[-1])
            v = np.load(trace)["v"]
        began = time.perf_counter()
        result["features"] = features(v, args.dt_ms, result["delay_s"],
                                      result["delay_s"] + result["dur_s"])
        result["features_s"] = time.perf_counter() - began
        if args.out:
            np.savez_compressed(args.out, v=v, dt_ms=args.dt_ms)
    else:
        result = simulate(args.package, args.modfiles, args.work, args.amp_pa, args.delay,
                          args.dur, tstop, args.dt_ms, not args.fixed_step)
        v = result.pop("v")
        if args.out:
            np.savez_compressed(args.out, v=v, dt_ms=args.dt_ms)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    main()
