"""Run one model's simulations in a child process, each under a deadline.

NEURON keeps one model and one mechanism library per process and a hung integration cannot be
interrupted from Python, so every model runs in its own child (``python -m
ctmirror.biophys.child``): the parent sends the model and the stimuli, the child writes each
sweep's soma voltage to a ``.npy`` file and reports it on one line; the parent waits at most
``timeout_s`` for each line and kills the child when a simulation takes longer."""

from __future__ import annotations

import os
import pickle
import selectors
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ctmirror.errors import InputError


@dataclass(frozen=True)
class Simulation:
    sweep_number: int
    stimulus_a: NDArray[np.float64]
    dt: float


@dataclass(frozen=True)
class Request:
    fit: Path
    swc: Path
    library: Path
    solver: str
    simulations: tuple[Simulation, ...]


@dataclass(frozen=True)
class Simulated:
    sweep_number: int
    v: NDArray[np.float64]
    run_s: float


class SimulationError(InputError):
    """A simulation failed or exceeded its deadline."""


def simulate_in_child(request: Request, timeout_s: float) -> Iterator[Simulated]:
    """Each simulation's voltage, in order; ``SimulationError`` when the child fails or a
    simulation takes longer than ``timeout_s``."""
    with tempfile.TemporaryDirectory(prefix="ctmirror-nrn-") as tmp:
        work = Path(tmp)
        (work / "request.pkl").write_bytes(pickle.dumps(request))
        env = {**os.environ, "NEURON_MODULE_OPTIONS": "-nogui"}
        child = subprocess.Popen([sys.executable, "-m", "ctmirror.biophys.child", str(work)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                 cwd=work)
        assert child.stdout is not None
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(child.stdout, selectors.EVENT_READ)
                for simulation in request.simulations:
                    if not selector.select(timeout_s):
                        raise SimulationError(f"sweep {simulation.sweep_number}: the simulation "
                                              f"took longer than {timeout_s:g} s")
                    line = child.stdout.readline().decode().strip()
                    kind, _, rest = line.partition(" ")
                    if kind != "done":
                        child.wait(timeout=10)
                        raise SimulationError(rest or _last_line(child) or
                                              f"the simulation process exited with "
                                              f"{child.returncode}")
                    path = work / f"v-{simulation.sweep_number}.npy"
                    v = np.load(path)
                    path.unlink()
                    yield Simulated(simulation.sweep_number, v, float(rest))
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            for stream in (child.stdout, child.stderr):
                if stream is not None:
                    stream.close()


def _last_line(child: subprocess.Popen[bytes]) -> str:
    assert child.stderr is not None
    lines = child.stderr.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


def _serve(work: Path) -> int:
    from ctmirror.biophys.simulate import PerisomaticModel, Solver, run

    request: Request = pickle.loads((work / "request.pkl").read_bytes())
    try:
        model = PerisomaticModel.from_files(request.fit, request.swc)
        for simulation in request.simulations:
            result = run(model, request.library, simulation.stimulus_a, simulation.dt,
                         Solver(request.solver))
            np.save(work / f"v-{simulation.sweep_number}.npy", result.v)
            print(f"done {result.run_s}", flush=True)
    except Exception as exc:  # anything the model does wrong is this model's failure
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"error {message}", flush=True)
        return 2
    return 0


def _main(argv: Sequence[str]) -> int:
    return _serve(Path(argv[0]))


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))


__all__ = ["Request", "SimulationError", "Simulated", "Simulation", "simulate_in_child"]
