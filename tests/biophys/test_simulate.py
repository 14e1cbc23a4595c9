"""A real perisomatic model (package 472450023, tests/data/realdata_mini) compiled with the 16
perisomatic mechanisms the corpus bundles, run under the fixed step and cvode.

The expected spike times were measured with NEURON 9.0.2 on this stimulus (0.35 s at 200 kHz,
100 pA from 0.05 s to 0.30 s): 15 spikes in both solvers, cvode within 0.040 ms of the fixed
step. Tolerances: the fixed step within 2 samples (10 µs) of its measured times, cvode within
0.1 ms of the measured fixed-step times and of this run's fixed step (the issue's tolerance;
on 1 s trains cvode drifts further, see docs/biophysical.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("neuron", reason="NEURON is not installed (the ctmirror[neuron] extra)",
                    exc_type=ImportError)

from ctmirror.biophys.mechanisms import compile_mechanisms, mod_files_in  # noqa: E402
from ctmirror.biophys.response import analyse  # noqa: E402
from ctmirror.biophys.simulate import PerisomaticModel, Solver, run  # noqa: E402
from ctmirror.commands.biophys import app  # noqa: E402
from ctmirror.errors import InputError  # noqa: E402
from tests.biophys.test_without_neuron import MODEL  # noqa: E402

pytestmark = pytest.mark.slow  # nrnivmodl takes 25-45 s once per session

MODFILES = Path(__file__).parents[2] / "etl" / "replica" / "corpus" / "modfiles"
DT = 5e-6
FIXED_TIMES = [0.06064, 0.076675, 0.092955, 0.1095, 0.1262, 0.142985, 0.15983, 0.17672,
               0.193645, 0.21061, 0.22761, 0.244645, 0.26171, 0.278815, 0.29595]


def _stimulus() -> np.ndarray:
    current = np.zeros(70_000)
    current[10_000:60_000] = 100e-12
    return current


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nrnmech")


@pytest.fixture(scope="module")
def library(cache: Path) -> Path:
    return compile_mechanisms(mod_files_in(MODFILES), cache)


def test_compiled_once_per_content(library: Path, cache: Path, tmp_path: Path):
    copy = tmp_path / "modfiles"
    shutil.copytree(MODFILES, copy)
    assert compile_mechanisms(mod_files_in(copy), cache) == library  # same bytes: no build
    assert [p.name for p in cache.iterdir()] == [library.parent.parent.name]
    assert library.stat().st_size > 0


def test_fixed_step_spike_times(library: Path):
    current = _stimulus()
    result = run(PerisomaticModel.from_dir(MODEL), library, current, DT, Solver.FIXED)
    assert result.v.shape == current.shape and result.segments == 86
    assert result.v[0] == pytest.approx(-80.9755, abs=1e-3)  # v_init of the fit
    response = analyse(result.v, current, DT)
    assert response.window == pytest.approx((0.05, 0.299995), abs=1e-9)
    np.testing.assert_allclose(response.spike_times, FIXED_TIMES, atol=2 * DT, rtol=0)
    assert response.features["avg_rate"] == pytest.approx(60.0, abs=0.01)


def test_cvode_agrees_with_the_fixed_step(library: Path):
    model = PerisomaticModel.from_dir(MODEL)
    current = _stimulus()
    cvode = run(model, library, current, DT, Solver.CVODE)
    fixed = run(model, library, current, DT, Solver.FIXED)
    assert cvode.solver_points < current.size / 10  # it took steps longer than the samples
    cvode_times = analyse(cvode.v, current, DT).spike_times
    fixed_times = analyse(fixed.v, current, DT).spike_times
    assert cvode_times.size == fixed_times.size == 15
    np.testing.assert_allclose(cvode_times, fixed_times, atol=1e-4, rtol=0)
    np.testing.assert_allclose(cvode_times, FIXED_TIMES, atol=1e-4, rtol=0)


def test_no_stimulus_no_spikes(library: Path):
    result = run(PerisomaticModel.from_dir(MODEL), library, np.zeros(20_000), DT, Solver.CVODE)
    response = analyse(result.v, np.zeros(20_000), DT)
    assert response.spike_times.size == 0 and response.window is None
    assert float(result.v.max()) < -75.0


def test_missing_mechanism_is_an_input_error(library: Path, tmp_path: Path):
    model = PerisomaticModel.from_dir(MODEL)
    fit = dict(model.fit, genome=[*model.fit["genome"],
                                  {"section": "soma", "name": "gbar_Nope", "value": 1.0,
                                   "mechanism": "Nope"}])
    with pytest.raises(InputError, match="missing from the compiled .mod files: Nope"):
        run(PerisomaticModel(fit, model.swc), library, _stimulus(), DT)


def test_cli_uses_the_package_modfiles(cache: Path, library: Path, tmp_path: Path):
    package = tmp_path / "package"
    shutil.copytree(MODEL, package)
    shutil.copytree(MODFILES, package / "modfiles")
    stimulus = tmp_path / "stim.npy"
    np.save(stimulus, _stimulus())
    voltage = tmp_path / "v.npy"
    result = CliRunner().invoke(app, ["run", "--model-dir", str(package), "--stimulus",
                                      str(stimulus), "--dt", str(DT), "--cache", str(cache),
                                      "--voltage", str(voltage), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["solver"] == "fixed" and printed["segments"] == 86
    np.testing.assert_allclose(printed["spike_times"], FIXED_TIMES, atol=2 * DT, rtol=0)
    assert printed["features"]["spike_count"] == 15
    assert np.load(voltage).shape == (70_000,)


def test_a_second_mechanism_set_is_refused(library: Path, tmp_path: Path):
    run(PerisomaticModel.from_dir(MODEL), library, np.zeros(100), DT)  # loads `library`
    other = tmp_path / "x86_64" / "libnrnmech.so"
    with pytest.raises(InputError, match="already loaded the mechanisms"):
        run(PerisomaticModel.from_dir(MODEL), other, np.zeros(100), DT)
