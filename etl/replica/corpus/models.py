"""Neuronal model templates, synthetic model parameter files and model zips.

Synthetic GLIF configs follow the published ``neuron_config.json`` layout of each level (the
method names and parameter sets of the real GLIF 1-5 files), with values derived from the cell's
published resting potential, input resistance and time constant, so AllenSDK's ``GlifNeuron``
can load and run them. Synthetic biophysical fits follow the published ``*_fit.json`` layout
(passive, fitting, conditions, genome). Pure apart from ``model_zip_bytes``, which builds bytes.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "ALL_ACTIVE",
    "GLIF_FILL_ORDER",
    "MODEL_NAME_PREFIX",
    "PERISOMATIC",
    "TEMPLATES",
    "biophysical_manifest",
    "json_bytes",
    "model_zip_bytes",
    "synthetic_fit",
    "synthetic_neuron_config",
]

LIF, LIF_R, LIF_ASC, LIF_R_ASC, LIF_R_ASC_A = 395310469, 395310479, 395310475, 471355161, 395310498
PERISOMATIC, ALL_ACTIVE = 329230710, 491455321

#: The seven published NeuronalModelTemplates: id -> (name, description).
TEMPLATES: dict[int, tuple[str, str]] = {
    PERISOMATIC: ("Biophysical - perisomatic", "Biophysical Neuronal Model Template"),
    ALL_ACTIVE: ("Biophysical - all active", "Biophysical Neuronal Model Template"),
    LIF: ("1 Leaky Integrate and Fire (LIF)", "GLIF Neuronal Model Template"),
    LIF_R: ("2 LIF + Reset Rules (LIF-R)", "GLIF Neuronal Model Template"),
    LIF_ASC: ("3 LIF + Afterspike Currents (LIF-ASC)", "GLIF Neuronal Model Template"),
    LIF_R_ASC: ("4 LIF-R + Afterspike Currents (LIF-R-ASC)", "GLIF Neuronal Model Template"),
    LIF_R_ASC_A: (
        "5 LIF-R-ASC + Threshold Adaptation (LIF-R-ASC-A)",
        "GLIF Neuronal Model Template",
    ),
}
#: Published model names are "<template name>_<specimen name>".
MODEL_NAME_PREFIX = {template: name for template, (name, _) in TEMPLATES.items()}
#: The GLIF levels a cell with n GLIF models gets, in order (cells publish 0, 2 or 5).
GLIF_FILL_ORDER = (LIF, LIF_ASC, LIF_R, LIF_R_ASC, LIF_R_ASC_A)

_RESET_RULES = frozenset({LIF_R, LIF_R_ASC, LIF_R_ASC_A})
_AFTERSPIKE_CURRENTS = frozenset({LIF_ASC, LIF_R_ASC, LIF_R_ASC_A})


def _method(name: str, **params: Any) -> dict[str, Any]:
    return {"params": params, "name": name}


def synthetic_neuron_config(
    rng: np.random.Generator,
    template_id: int,
    *,
    vrest_mv: float,
    ri_mohm: float,
    tau_ms: float,
    rheobase_pa: float | None = None,
) -> dict[str, Any]:
    """A GLIF ``neuron_config.json`` of the template's level for a cell with these features.

    With ``rheobase_pa`` the effective threshold (``th_inf * coeffs.th_inf``) is 80-100 % of
    the rheobase's steady-state voltage (``rheobase * R_input``), so the model fires on the
    cell's suprathreshold and noise sweeps as a fitted model would; without, it is drawn
    from 18-34 mV and 0.75-1.35.
    """
    if template_id not in GLIF_FILL_ORDER:
        raise ValueError(f"template {template_id} is not a GLIF template")
    r_input = float(ri_mohm) * 1e6 * float(rng.uniform(0.9, 1.1))
    capacitance = float(tau_ms) * 1e-3 / r_input
    th_inf = float(rng.uniform(0.018, 0.034))
    a_spike = float(rng.uniform(0.001, 0.002))
    b_spike = float(rng.uniform(30.0, 140.0))
    resets = template_id in _RESET_RULES
    currents = template_id in _AFTERSPIKE_CURRENTS
    adapting = template_id == LIF_R_ASC_A
    tau_choices = np.array([0.3333333333333333, 0.03333333333333334, 0.01, 0.0033333333333333335])
    asc_tau = sorted(rng.choice(tau_choices, size=2, replace=False).tolist(), reverse=True)

    if adapting:
        threshold_dynamics = _method(
            "three_components_exact",
            b_voltage=float(rng.uniform(5, 40)),
            a_spike=a_spike,
            b_spike=b_spike,
            a_voltage=float(rng.uniform(1, 10)),
        )
    elif resets:
        threshold_dynamics = _method(
            "spike_component", b_voltage=0, a_spike=a_spike, b_spike=b_spike, a_voltage=0
        )
    else:
        threshold_dynamics = _method("inf")
    config: dict[str, Any] = {
        "El_reference": float(vrest_mv) * 1e-3,
        "C": capacitance,
        "asc_amp_array": [
            float(rng.uniform(-2.5e-10, -5e-12)),
            float(rng.uniform(-2.5e-10, 5e-10)),
        ],
        "init_threshold": th_inf,
        "threshold_reset_method": (
            _method("three_components", a_spike=a_spike, b_spike=b_spike)
            if resets
            else _method("inf")
        ),
        "th_inf": th_inf,
        "spike_cut_length": int(rng.integers(40, 140)),
        "init_AScurrents": [0.0, 0.0],
        "init_voltage": 0.0,
        "threshold_dynamics_method": threshold_dynamics,
        "voltage_reset_method": (
            _method(
                "v_before", a=float(rng.uniform(0.55, 0.99)), b=float(rng.uniform(-0.016, 0.006))
            )
            if resets
            else _method("zero")
        ),
        "extrapolation_method_name": "endpoints",
        "dt": 5e-05,
        "voltage_dynamics_method": _method("linear_forward_euler"),
        "El": 0.0,
        "asc_tau_array": asc_tau,
        "R_input": r_input,
        "AScurrent_dynamics_method": _method("exp") if currents else _method("none"),
        "AScurrent_reset_method": (_method("sum", r=[1.0, 1.0]) if currents else _method("none")),
        "dt_multiplier": 10,
        "th_adapt": None,
        "coeffs": {
            "a": 1,
            "C": 1,
            "b": 1,
            "G": 1,
            "th_inf": float(rng.uniform(0.75, 1.35)),
            "asc_amp_array": [1.0, 1.0],
        },
        "type": "GLIF",
    }
    if rheobase_pa is not None:
        fraction = 0.8 + 0.2 * (th_inf - 0.018) / 0.016  # the same draw, mapped onto [0.8, 1)
        config["th_inf"] = config["init_threshold"] = (
            rheobase_pa * 1e-12 * r_input * fraction / config["coeffs"]["th_inf"])
    return config


_MECHANISMS = {
    "soma": (
        "Im",
        "Ih",
        "NaTs",
        "Nap",
        "K_P",
        "K_T",
        "SK",
        "Kv3_1",
        "Ca_HVA",
        "Ca_LVA",
        "CaDynamics",
    ),
    "axon": ("NaTa", "K_P", "K_T", "Kv3_1", "Ca_HVA", "Ca_LVA", "SK", "Nap", "Im", "CaDynamics"),
    "dend": ("Ih", "NaTs", "Kv3_1", "Im", "SK", "Ca_HVA", "Ca_LVA", "CaDynamics"),
}


def synthetic_fit(
    rng: np.random.Generator, template_id: int, *, vrest_mv: float, sweep_numbers: list[int]
) -> dict[str, Any]:
    """A biophysical ``*_fit.json``: perisomatic fits put active channels on the soma only."""
    all_active = template_id == ALL_ACTIVE
    sections = ("soma", "axon", "dend") if all_active else ("soma",)
    e_pas = float(vrest_mv) + float(rng.uniform(-5.0, 5.0))
    genome = [
        {
            "value": float(10 ** rng.uniform(-6, -0.5)),
            "section": section,
            "name": f"gbar_{mech}" if mech != "CaDynamics" else "gamma_CaDynamics",
            "mechanism": mech,
        }
        for section in sections
        for mech in _MECHANISMS[section]
    ]
    genome += [
        {"value": float(rng.uniform(1e-5, 1e-4)), "section": s, "name": "g_pas", "mechanism": ""}
        for s in ("soma", "axon", "apic", "dend")
    ]
    fitting_sweeps = (
        sorted(rng.choice(sweep_numbers, size=min(2, len(sweep_numbers)), replace=False).tolist())
        if sweep_numbers
        else []
    )
    return {
        "passive": [
            {
                "ra": float(rng.uniform(60.0, 140.0)),
                "cm": [
                    {"section": s, "cm": 1.0 if s in ("soma", "axon") else float(rng.uniform(1, 8))}
                    for s in ("soma", "axon", "apic", "dend")
                ],
                "e_pas": e_pas,
            }
        ],
        "fitting": [{"junction_potential": -14.0, "sweeps": [int(s) for s in fitting_sweeps]}],
        "conditions": [
            {
                "celsius": 34.0,
                "erev": [{"ena": 53.0, "section": s, "ek": -107.0} for s in sections],
                "v_init": e_pas,
            }
        ],
        "genome": genome,
    }


def biophysical_manifest(
    *,
    model_type: str,
    fit_name: str,
    swc_name: str | None,
    marker_name: str | None,
    nwb_name: str,
    sweep_numbers: list[int],
) -> dict[str, Any]:
    """The ``manifest.json`` AllenSDK's BiophysicalApi writes beside a biophysical model."""
    files = [
        {"type": "dir", "spec": ".", "key": "BASEDIR"},
        {"type": "dir", "spec": "work", "key": "WORKDIR", "parent": "BASEDIR"},
    ]
    if swc_name:
        files.append({"type": "file", "spec": swc_name, "key": "MORPHOLOGY"})
    if marker_name:
        files.append({"type": "file", "spec": marker_name, "key": "MARKER"})
    files += [
        {"type": "dir", "spec": "modfiles", "key": "MODFILE_DIR"},
        {"type": "file", "format": "NWB", "spec": nwb_name, "key": "stimulus_path"},
        {
            "parent_key": "WORKDIR",
            "type": "file",
            "format": "NWB",
            "spec": nwb_name,
            "key": "output_path",
        },
    ]
    return {
        "biophys": [{"model_file": ["manifest.json", fit_name], "model_type": model_type}],
        "runs": [{"sweeps": [int(n) for n in sweep_numbers]}],
        "neuron": [{"hoc": ["stdgui.hoc", "import3d.hoc"]}],
        "manifest": files,
    }


def json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2) + "\n").encode()


def model_zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A zip of the files, with a fixed timestamp so that equal inputs give equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2016, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()
