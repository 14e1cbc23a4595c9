"""Instantiate an Allen perisomatic model from its fit json and SWC and run a current clamp.

The cell is built the way AllenSDK's ``allensdk.model.biophysical.utils.Utils`` builds a
"perisomatic" model (re-written, not copied): Import3d SWC, nseg = 1 + 2·int(L/40), the axon
replaced by two 30 µm × 1 µm sections, then Ra, ``pas``, cm, the fitted ``genome``, ek/ena,
celsius and v_init from the fit json. NEURON keeps one global model per process: every run
deletes the sections of the previous one, and a process loads one mechanism library only."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ctmirror.biophys import require_neuron
from ctmirror.errors import InputError

FloatArray = NDArray[np.float64]

#: The NeuronalModelTemplate whose BiophysicalModelDescription files are the perisomatic
#: mechanisms (the packages name a ``modfiles`` folder they do not contain).
PERISOMATIC_TEMPLATE_ID = 329230710


class Solver(StrEnum):
    #: fixed step at the stimulus' sampling interval, as AllenSDK's runner integrates (the
    #: published runs' spikes)
    FIXED = "fixed"
    #: variable step with biophys_optimize's tolerances: 15-60x faster on steps but slower on a
    #: ramp (it stops at every changed sample), and its spike times drift from the fixed step's
    #: by up to 37 ms over a 1 s train (docs/biophysical.md)
    CVODE = "cvode"


@dataclass(frozen=True)
class PerisomaticModel:
    """What the fit json and the SWC of a model package give."""

    fit: dict[str, Any]
    swc: Path

    @classmethod
    def from_dir(cls, model_dir: Path) -> PerisomaticModel:
        fits = sorted(model_dir.glob("*_fit.json"))
        swcs = [p for p in sorted(model_dir.glob("*.swc")) if "marker" not in p.name]
        if not fits and (model_dir / "fit_parameters.json").is_file():
            raise InputError(f"{model_dir}: an all-active model package (fit_parameters.json); "
                             f"only perisomatic models are run")
        if len(fits) != 1:
            raise InputError(f"{model_dir}: expected one *_fit.json, found {len(fits)}")
        if len(swcs) != 1:
            raise InputError(f"{model_dir}: expected one reconstruction .swc, found {len(swcs)}")
        return cls.from_files(fits[0], swcs[0])

    @classmethod
    def from_files(cls, fit_path: Path, swc: Path) -> PerisomaticModel:
        """The model of a ``*_fit.json`` and a reconstruction ``.swc`` (e.g. mirrored files)."""
        try:
            fit = json.loads(fit_path.read_text())
            for key in ("passive", "genome", "conditions"):
                fit[key][0]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise InputError(f"{fit_path}: not a perisomatic fit ({type(exc).__name__}: "
                             f"{exc})") from None
        if not swc.is_file():
            raise InputError(f"{swc}: no such reconstruction")
        return cls(fit, swc)

    @property
    def mechanisms(self) -> set[str]:
        return {str(g["mechanism"]) for g in self.fit["genome"] if g.get("mechanism")}


@dataclass(frozen=True)
class RunResult:
    """Soma voltage (mV, one sample per stimulus sample) and run statistics."""

    v: FloatArray
    dt: float  # s
    solver: Solver
    segments: int
    solver_points: int
    run_s: float  # wall time of the integration


def run(model: PerisomaticModel, library: Path, stimulus_a: FloatArray, dt: float,
        solver: Solver = Solver.FIXED) -> RunResult:
    """Inject ``stimulus_a`` (A, one value per ``dt`` seconds) at the soma and record the soma
    voltage on the same grid."""
    current = np.ascontiguousarray(stimulus_a, dtype=np.float64)
    if current.ndim != 1 or current.size < 2:
        raise InputError("the stimulus needs at least two samples")
    if not np.isfinite(current).all():
        raise InputError("the stimulus has non-finite values")
    if not dt > 0:
        raise InputError(f"dt must be positive, got {dt}")
    h = _neuron(library)
    missing = model.mechanisms - _mechanism_names(h)
    if missing:
        raise InputError(f"mechanisms missing from the compiled .mod files: "
                         f"{', '.join(sorted(missing))}")
    _build(h, model)
    dt_ms = dt * 1e3
    tstop_ms = (current.size - 1) * dt_ms
    clamp = h.IClamp(h.soma[0](0.5))
    clamp.delay, clamp.dur = 0.0, 1e9
    nanoamps = current * 1e9
    if solver is Solver.FIXED:  # as AllenSDK's runner: one value per step
        h.cvode_active(0)
        h.dt = dt_ms
        play = h.Vector(nanoamps)
        play.play(clamp._ref_amp, dt_ms)
        v_rec = h.Vector().record(h.soma[0](0.5)._ref_v, dt_ms)
        t_rec = None
    else:
        h.cvode_active(1)
        h.cvode.atolscale("cai", 1e-4)
        h.cvode.maxstep(10)
        # only the samples where the current changes: each is a discontinuity the solver
        # stops at, and a step stimulus has a handful of them
        changes = np.concatenate([[0], np.flatnonzero(np.diff(nanoamps)) + 1])
        play = h.Vector(nanoamps[changes])
        times = h.Vector(changes * dt_ms)
        play.play(clamp._ref_amp, times, 0)
        # every solver step is recorded (a record interval would stop cvode at each sample)
        t_rec = h.Vector().record(h._ref_t)
        v_rec = h.Vector().record(h.soma[0](0.5)._ref_v)
    # half a step past the last sample: the fixed-step loop would otherwise lose the last one
    # to rounding of t (69999 samples recorded for 70000)
    h.tstop = tstop_ms + 0.5 * dt_ms
    began = time.perf_counter()
    h.finitialize(h.v_init)
    h.continuerun(h.tstop)
    run_s = time.perf_counter() - began
    v = np.array(v_rec.as_numpy(), dtype=np.float64)
    points = int(v.size)
    grid = np.arange(current.size) * dt_ms
    if t_rec is not None:
        v = np.interp(grid, np.array(t_rec.as_numpy(), dtype=np.float64), v)
    elif v.size < current.size:
        raise InputError(f"NEURON recorded {v.size} samples of {current.size}")
    else:
        v = v[:current.size]
    segments = sum(int(sec.nseg) for sec in h.allsec())
    del play, clamp
    return RunResult(v, dt, solver, segments, points, run_s)


def _neuron(library: Path) -> Any:
    require_neuron()
    from neuron import h

    global _loaded
    if _loaded is None:
        if h.nrn_load_dll(str(library)) != 1:
            raise InputError(f"NEURON could not load {library}")
        h.load_file("stdrun.hoc")
        h.load_file("import3d.hoc")
        _loaded = library
    elif _loaded != library:
        # NEURON cannot unload a mechanism library or load a second one with the same names
        raise InputError(f"this process already loaded the mechanisms of {_loaded}; "
                         f"run models of another mechanism set in another process")
    return h


#: The mechanism library this process loaded (NEURON holds one for the process' life).
_loaded: Path | None = None


def _mechanism_names(h: Any) -> set[str]:
    kinds = h.MechanismType(0)
    name = h.ref("")
    found = set()
    for index in range(int(kinds.count())):
        kinds.select(index)
        kinds.selected(name)
        found.add(str(name[0]))
    return found


def _build(h: Any, model: PerisomaticModel) -> None:
    for sec in list(h.allsec()):  # the previous run's cell
        h.delete_section(sec=sec)
    reader = h.Import3d_SWC_read()
    reader.input(str(model.swc))
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

    fit = model.fit
    passive = fit["passive"][0]
    for sec in h.allsec():
        sec.Ra = passive["ra"]
        sec.insert("pas")
        for seg in sec:
            seg.pas.e = passive["e_pas"]

    def sections(kind: str) -> list[Any]:  # hoc ``forsec "kind"``: the name contains kind
        return [sec for sec in h.allsec() if kind in sec.name()]

    for entry in passive["cm"]:
        for sec in sections(entry["section"]):
            sec.cm = _as_hoc(entry["cm"])
    for gene in fit["genome"]:
        for sec in sections(gene["section"]):
            if gene["mechanism"]:
                sec.insert(gene["mechanism"])
            for seg in sec:
                setattr(seg, gene["name"], _as_hoc(gene["value"]))
    conditions = fit["conditions"][0]
    for erev in conditions["erev"]:
        for sec in sections(erev["section"]):
            sec.ek, sec.ena = _as_hoc(erev["ek"]), _as_hoc(erev["ena"])
    h.celsius = conditions["celsius"]
    h.v_init = conditions["v_init"]


def _as_hoc(value: float) -> float:
    """``value`` to 6 significant digits: AllenSDK's Utils sets cm, the genome and ek/ena through
    hoc statements formatted with ``%g``, so the published runs used these values (with the full
    doubles the soma voltage drifts up to 1.8 mV from AllenSDK's at spike edges over a 1 s
    train; rounded, it is the same to 1e-14 mV)."""
    return float(f"{value:g}")


__all__ = ["PERISOMATIC_TEMPLATE_ID", "PerisomaticModel", "RunResult", "Solver", "run"]
