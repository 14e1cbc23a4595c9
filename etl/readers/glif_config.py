"""Read a GLIF ``neuron_config.json`` into a validated :class:`~ctmirror.glif.config.GlifConfig`.

Accepts the file as the API serves it (the config object itself) and as AllenSDK's examples save
it (``{"<neuronal_model_id>": config}``). Keys that AllenSDK's ``GlifNeuron.from_dict`` requires
must be present; extra keys are ignored, as there. Every problem found is reported at once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from ctmirror.errors import GlifConfigError
from ctmirror.glif.config import (
    AscDynamics,
    AscReset,
    GlifCoeffs,
    GlifConfig,
    ThresholdDynamics,
    ThresholdReset,
    VoltageDynamics,
    VoltageReset,
)

REQUIRED_KEYS = (
    "El", "dt", "asc_tau_array", "R_input", "C", "asc_amp_array", "spike_cut_length", "th_inf",
    "th_adapt", "AScurrent_dynamics_method", "voltage_dynamics_method",
    "threshold_dynamics_method", "voltage_reset_method", "AScurrent_reset_method",
    "threshold_reset_method", "init_voltage", "init_threshold", "init_AScurrents",
)

E = TypeVar("E", bound=Enum)


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one validation predicate: ``ok`` or not, with the reason."""

    ok: bool
    reason: str = ""


def read_glif_config(path: Path) -> GlifConfig:
    """Parse and validate the ``neuron_config.json`` at ``path``."""
    try:
        document = json.loads(Path(path).read_text())
    except OSError as exc:
        raise GlifConfigError(f"{path}: cannot read ({exc.strerror}); check the path") from None
    except json.JSONDecodeError as exc:
        raise GlifConfigError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}); "
                              "re-download the model's neuron_config.json") from None
    try:
        return parse_glif_config(document)
    except GlifConfigError as exc:
        raise GlifConfigError(f"{path}: {exc}") from None


def parse_glif_config(document: Any) -> GlifConfig:
    """Validate a decoded ``neuron_config.json`` document and build the config."""
    raw = unwrap_model_id(document)
    problems = [c.reason for c in (check_required_keys(raw),) if not c.ok]
    if problems:
        raise GlifConfigError("; ".join(problems))
    config = _build(raw)
    problems = [c.reason for c in check_consistency(config) if not c.ok]
    if problems:
        raise GlifConfigError("; ".join(problems))
    return config


def unwrap_model_id(document: Any) -> Mapping[str, Any]:
    """Return the config object, unwrapping ``{"<model id>": config}`` if needed."""
    if not isinstance(document, Mapping):
        raise GlifConfigError("neuron_config.json must hold a JSON object")
    if "El" not in document and len(document) == 1:
        (key, inner), = document.items()
        if str(key).isdigit() and isinstance(inner, Mapping):
            return inner
    return document


def check_required_keys(raw: Mapping[str, Any]) -> CheckResult:
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        return CheckResult(False, f"missing keys {', '.join(missing)}: not a GLIF neuron_config")
    return CheckResult(True)


def check_consistency(config: GlifConfig) -> list[CheckResult]:
    """Predicates over a built config; each failing one names the bad value."""
    n = config.n_asc
    results = [
        _check(len(config.asc_amp_array) == n and len(config.init_AScurrents) == n,
               f"asc_amp_array ({len(config.asc_amp_array)}) and init_AScurrents "
               f"({len(config.init_AScurrents)}) must match asc_tau_array ({n})"),
        _check(len(config.asc_amp_coeffs()) == n,
               f"coeffs.asc_amp_array must have {n} values"),
        _check(config.asc_reset is not AscReset.SUM or len(config.asc_reset_r) == n,
               f"AScurrent_reset_method params.r must have {n} values"),
        _check(all(tau > 0 for tau in config.asc_tau_array),
               "asc_tau_array values must be positive"),
        _check(config.R_input > 0 and config.C > 0, "R_input and C must be positive"),
        _check(config.coeffs.C != 0 and config.coeffs.G != 0, "coeffs C and G must be non-zero"),
        _check(config.spike_cut_length >= 0, "spike_cut_length must be >= 0"),
        _check(
            config.threshold_reset is not ThresholdReset.THREE_COMPONENTS
            or config.threshold_dynamics is not ThresholdDynamics.INF,
            "threshold_reset_method three_components needs a component threshold dynamics "
            "(spike_component or three_components_exact), not inf",
        ),
        _check(
            not (config.asc_reset is AscReset.NONE and config.asc_dynamics is AscDynamics.EXP
                 and any(a != 0 for a in config.init_AScurrents)),
            "AScurrent_reset_method none with exp dynamics needs init_AScurrents all zero",
        ),
    ]
    if config.threshold_dynamics is ThresholdDynamics.THREE_COMPONENTS_EXACT:
        b_v = config.b_voltage * config.coeffs.b
        g_over_c = (1.0 / config.R_input) * config.coeffs.G / (config.C * config.coeffs.C)
        results.append(_check(b_v != 0 and b_v != g_over_c,
                              "three_components_exact needs b_voltage * coeffs.b non-zero and "
                              "different from G/C"))
    numbers = [config.El, config.C, config.R_input, config.th_inf, config.init_voltage,
               config.init_threshold, *config.asc_tau_array, *config.asc_amp_array]
    results.append(_check(all(math.isfinite(x) for x in numbers),
                          "parameters must be finite numbers"))
    return results


def _check(ok: bool, reason: str) -> CheckResult:
    return CheckResult(True) if ok else CheckResult(False, reason)


def _method(raw: Mapping[str, Any], key: str, kind: type[E]) -> tuple[E, Mapping[str, Any]]:
    block = raw[key]
    if not isinstance(block, Mapping) or "name" not in block:
        raise GlifConfigError(f"{key} must be an object with a 'name'")
    try:
        method = kind(block["name"])
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise GlifConfigError(f"{key} {block['name']!r} is not one of: {allowed}") from None
    params = block.get("params") or {}
    if not isinstance(params, Mapping):
        raise GlifConfigError(f"{key}.params must be an object")
    return method, params


def _number(source: Mapping[str, Any], key: str, where: str, default: float | None = None
            ) -> float:
    value = source.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GlifConfigError(f"{where}{key} must be a number, got {value!r}")
    return float(value)


def _numbers(value: Any, where: str) -> tuple[float, ...]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in value
    ):
        raise GlifConfigError(f"{where} must be a list of numbers, got {value!r}")
    return tuple(float(x) for x in value)


def _build(raw: Mapping[str, Any]) -> GlifConfig:
    voltage_dynamics, _ = _method(raw, "voltage_dynamics_method", VoltageDynamics)
    threshold_dynamics, th_dyn = _method(raw, "threshold_dynamics_method", ThresholdDynamics)
    asc_dynamics, _ = _method(raw, "AScurrent_dynamics_method", AscDynamics)
    voltage_reset, v_reset = _method(raw, "voltage_reset_method", VoltageReset)
    threshold_reset, th_reset = _method(raw, "threshold_reset_method", ThresholdReset)
    asc_reset, asc_reset_params = _method(raw, "AScurrent_reset_method", AscReset)

    raw_coeffs = raw.get("coeffs") or {}
    if not isinstance(raw_coeffs, Mapping):
        raise GlifConfigError("coeffs must be an object")
    coeff_amps = raw_coeffs.get("asc_amp_array")
    coeffs = GlifCoeffs(
        **{name: _number(raw_coeffs, name, "coeffs.", 1.0) for name in ("th_inf", "C", "G", "a",
                                                                       "b")},
        asc_amp_array=None if coeff_amps is None else _numbers(coeff_amps, "coeffs.asc_amp_array"),
    )

    cut = raw["spike_cut_length"]
    if isinstance(cut, bool) or not isinstance(cut, int | float) or int(cut) != cut:
        raise GlifConfigError(f"spike_cut_length must be a whole number of samples, got {cut!r}")

    el_reference = raw.get("El_reference")
    return GlifConfig(
        El=_number(raw, "El", ""),
        C=_number(raw, "C", ""),
        R_input=_number(raw, "R_input", ""),
        th_inf=_number(raw, "th_inf", ""),
        spike_cut_length=int(cut),
        asc_tau_array=_numbers(raw["asc_tau_array"], "asc_tau_array"),
        asc_amp_array=_numbers(raw["asc_amp_array"], "asc_amp_array"),
        init_voltage=_number(raw, "init_voltage", ""),
        init_threshold=_number(raw, "init_threshold", ""),
        init_AScurrents=_numbers(raw["init_AScurrents"], "init_AScurrents"),
        coeffs=coeffs,
        voltage_dynamics=voltage_dynamics,
        threshold_dynamics=threshold_dynamics,
        asc_dynamics=asc_dynamics,
        voltage_reset=voltage_reset,
        threshold_reset=threshold_reset,
        asc_reset=asc_reset,
        th_dyn_b_spike=_required_if(threshold_dynamics is not ThresholdDynamics.INF, th_dyn,
                                    "b_spike", "threshold_dynamics_method.params."),
        a_voltage=_required_if(threshold_dynamics is ThresholdDynamics.THREE_COMPONENTS_EXACT,
                               th_dyn, "a_voltage", "threshold_dynamics_method.params."),
        b_voltage=_required_if(threshold_dynamics is ThresholdDynamics.THREE_COMPONENTS_EXACT,
                               th_dyn, "b_voltage", "threshold_dynamics_method.params."),
        v_reset_a=_required_if(voltage_reset is VoltageReset.V_BEFORE, v_reset, "a",
                               "voltage_reset_method.params."),
        v_reset_b=_required_if(voltage_reset is VoltageReset.V_BEFORE, v_reset, "b",
                               "voltage_reset_method.params."),
        th_reset_a_spike=_required_if(threshold_reset is ThresholdReset.THREE_COMPONENTS,
                                      th_reset, "a_spike", "threshold_reset_method.params."),
        th_reset_b_spike=_required_if(threshold_reset is ThresholdReset.THREE_COMPONENTS,
                                      th_reset, "b_spike", "threshold_reset_method.params."),
        asc_reset_r=_numbers(asc_reset_params.get("r"), "AScurrent_reset_method.params.r")
        if asc_reset is AscReset.SUM else (),
        fit_dt=_number(raw, "dt", ""),
        el_reference=None if el_reference is None else _number(raw, "El_reference", ""),
    )


def _required_if(needed: bool, params: Mapping[str, Any], key: str, where: str) -> float:
    if not needed:
        return 0.0
    if key not in params:
        raise GlifConfigError(f"{where}{key} is required by this method")
    return _number(params, key, where)


__all__ = [
    "REQUIRED_KEYS",
    "CheckResult",
    "check_consistency",
    "check_required_keys",
    "parse_glif_config",
    "read_glif_config",
    "unwrap_model_id",
]
