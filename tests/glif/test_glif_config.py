"""Reading and validating neuron_config.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctmirror.errors import GlifConfigError
from ctmirror.glif.config import AscDynamics, ThresholdDynamics, ThresholdReset, VoltageReset
from ctmirror.readers.glif_config import parse_glif_config, read_glif_config
from tests.glif.reference import CONFIGS, raw_config

GLIF4_WRAPPED = "486052403/neuron_config.json"  # served wrapped as {"486052403": {...}}
GLIF5_PLAIN = "522987536/neuron_config.json"


def test_reads_wrapped_config_with_values():
    config = read_glif_config(CONFIGS / GLIF4_WRAPPED)
    assert config.level == 4
    assert config.threshold_dynamics is ThresholdDynamics.SPIKE_COMPONENT
    assert config.voltage_reset is VoltageReset.V_BEFORE
    assert config.spike_cut_length == 91
    assert config.C == 1.68038584943524e-10
    assert config.coeffs.th_inf == 1.1611864772796414
    assert config.v_reset_a == 0.5955141919453859
    assert config.th_reset_b_spike == 136.44931727602102
    assert config.asc_reset_r == (1.0, 1.0)
    assert config.fit_dt == 5e-05
    assert config.el_reference == -0.07170727920532227


def test_reads_plain_glif5_config():
    config = read_glif_config(CONFIGS / GLIF5_PLAIN)
    assert config.level == 5
    assert config.asc_dynamics is AscDynamics.EXP
    assert config.threshold_reset is ThresholdReset.THREE_COMPONENTS
    assert config.b_voltage != 0


def test_every_real_config_reads_and_levels_span_1_to_5():
    levels = [read_glif_config(p).level for p in sorted(CONFIGS.rglob("neuron_config.json"))]
    assert len(levels) == 36
    assert set(levels) == {1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"threshold_dynamics_method.name": "quadratic"}, "is not one of"),
        ({"asc_amp_array": [1e-11]}, "must match asc_tau_array"),
        ({"spike_cut_length": 2.5}, "whole number of samples"),
        ({"R_input": -1.0}, "must be positive"),
        ({"voltage_reset_method.params": {"a": 1.0}}, "params.b is required"),
        ({"AScurrent_reset_method.params.r": [1.0]}, "params.r must have 2 values"),
        ({"threshold_dynamics_method.params.b_voltage": 0}, "b_voltage"),
        ({"C": "big"}, "C must be a number"),
    ],
)
def test_bad_values_are_named(overrides, message):
    raw = raw_config(GLIF5_PLAIN, overrides)
    with pytest.raises(GlifConfigError, match=message):
        parse_glif_config(raw)


def test_missing_keys_listed_and_path_in_message(tmp_path: Path):
    raw = raw_config(GLIF5_PLAIN)
    del raw["th_inf"], raw["init_AScurrents"]
    path = tmp_path / "neuron_config.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(GlifConfigError, match=r"neuron_config.json: missing keys th_inf, "
                                              r"init_AScurrents"):
        read_glif_config(path)


def test_three_components_reset_needs_component_dynamics():
    raw = raw_config(GLIF4_WRAPPED, {"threshold_dynamics_method.name": "inf"})
    with pytest.raises(GlifConfigError, match="needs a component threshold dynamics"):
        parse_glif_config(raw)


def test_not_json_is_a_config_error(tmp_path: Path):
    path = tmp_path / "neuron_config.json"
    path.write_text("<html>site unavailable</html>")
    with pytest.raises(GlifConfigError, match="not JSON"):
        read_glif_config(path)
