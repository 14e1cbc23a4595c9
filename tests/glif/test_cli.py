"""`glif run` and `glif evr` through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from ctmirror.commands.glif import app
from ctmirror.errors import ConfigError
from ctmirror.glif import simulate
from ctmirror.metrics import explained_variance_ratio
from ctmirror.readers.glif_config import read_glif_config
from tests.glif.reference import CONFIGS

CONFIG = CONFIGS / "486052403" / "neuron_config.json"
runner = CliRunner()


def _stimulus(tmp_path: Path) -> tuple[Path, np.ndarray]:
    config = read_glif_config(CONFIG)
    current = np.full(100_000, 2.0 * config.th_inf * config.coeffs.th_inf / config.R_input)
    current[:10_000] = 0.0
    path = tmp_path / "stim.npy"
    np.save(path, current)
    return path, current


def test_run_json_and_voltage(tmp_path: Path):
    stim_path, current = _stimulus(tmp_path)
    out = tmp_path / "v.npy"
    result = runner.invoke(app, ["run", "--config", str(CONFIG), "--stimulus", str(stim_path),
                                 "--dt", "5e-6", "--json", "--voltage", str(out)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    expected = simulate(read_glif_config(CONFIG), current, 5e-6)
    assert printed["level"] == 4
    assert printed["spike_time_steps"] == expected.spike_time_steps.tolist()
    assert len(printed["spike_time_steps"]) > 5
    np.testing.assert_array_equal(np.load(out), expected.voltage)


def test_run_table(tmp_path: Path):
    stim_path, _ = _stimulus(tmp_path)
    result = runner.invoke(app, ["run", "--config", str(CONFIG), "--stimulus", str(stim_path),
                                 "--dt", "5e-6"])
    assert result.exit_code == 0, result.output
    assert "GLIF4" in result.output and "interpolated" in result.output


def test_evr_from_files_and_from_model(tmp_path: Path):
    stim_path, current = _stimulus(tmp_path)
    dt = 5e-6
    model = simulate(read_glif_config(CONFIG), current, dt).spike_time_steps
    rng = np.random.default_rng(5)
    paths, data = [], []
    for i in range(3):
        times = np.sort(model * dt + rng.normal(0, 0.002, model.size)).clip(0, 0.49)
        path = tmp_path / f"repeat{i}.txt"
        path.write_text("\n".join(repr(float(t)) for t in times))
        paths += ["--data-spikes", str(path)]
        data.append((times / dt).astype(np.int64))
    expected = explained_variance_ratio(data, model, current.size, dt).ratio
    steps_path = tmp_path / "model.npy"
    np.save(steps_path, model)

    by_steps = runner.invoke(app, ["evr", *paths, "--dt", str(dt), "--model-steps",
                                   str(steps_path), "--samples", str(current.size), "--json"])
    assert by_steps.exit_code == 0, by_steps.output
    assert json.loads(by_steps.output)["explained_variance_ratio"] == expected
    by_model = runner.invoke(app, ["evr", *paths, "--dt", str(dt), "--config", str(CONFIG),
                                   "--stimulus", str(stim_path)])
    assert by_model.exit_code == 0, by_model.output
    assert f"{expected:.12g}" in by_model.output


def test_evr_needs_one_model_source(tmp_path: Path):
    path = tmp_path / "d.txt"
    path.write_text("0.1\n")
    result = runner.invoke(app, ["evr", "--data-spikes", str(path), "--dt", "5e-6"])
    assert isinstance(result.exception, ConfigError)
