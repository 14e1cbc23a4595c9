"""Model parameters read from the mirrored model files, linked to ``neuronal_models``.

Typed columns hold the parameters every model of a family has; ``config`` keeps the whole
document, so nothing in the file is lost. Rows are replaced whenever their source file changes
(``well_known_file_id`` and ``source_sha256`` say which bytes they came from).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from ctmirror.schema.base import Base, describe


class GlifNeuronConfig(Base):
    """A GLIF model's ``neuron_config.json`` (SI units; voltages relative to rest)."""

    __tablename__ = "glif_neuron_configs"

    neuronal_model_id: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                                   autoincrement=False)
    well_known_file_id: Mapped[int]
    source_sha256: Mapped[str]
    level: Mapped[int]
    el_reference: Mapped[float | None]
    el: Mapped[float | None]
    c: Mapped[float | None]
    r_input: Mapped[float | None]
    th_inf: Mapped[float | None]
    dt: Mapped[float | None]
    spike_cut_length: Mapped[int | None]
    init_voltage: Mapped[float | None]
    init_threshold: Mapped[float | None]
    asc_tau_array: Mapped[list[float] | None]
    asc_amp_array: Mapped[list[float] | None]
    coeffs: Mapped[dict[str, Any] | None]
    voltage_dynamics_method: Mapped[str | None]
    threshold_dynamics_method: Mapped[str | None]
    asc_dynamics_method: Mapped[str | None]
    voltage_reset_method: Mapped[str | None]
    threshold_reset_method: Mapped[str | None]
    asc_reset_method: Mapped[str | None]
    config: Mapped[dict[str, Any]]


class BiophysicalFit(Base):
    """A biophysical model's fit file (``<id>_fit.json``): passive and run conditions."""

    __tablename__ = "biophysical_fits"

    neuronal_model_id: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                                   autoincrement=False)
    well_known_file_id: Mapped[int]
    source_sha256: Mapped[str]
    ra: Mapped[float | None]
    e_pas: Mapped[float | None]
    celsius: Mapped[float | None]
    v_init: Mapped[float | None]
    junction_potential: Mapped[float | None]
    fit_sweeps: Mapped[list[int] | None]
    cm: Mapped[list[dict[str, Any]] | None]
    erev: Mapped[list[dict[str, Any]] | None]
    config: Mapped[dict[str, Any]]


class BiophysicalFitParameter(Base):
    """One entry of a fit file's ``genome``: a channel density or passive value per section."""

    __tablename__ = "biophysical_fit_parameters"

    neuronal_model_id: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                                   autoincrement=False)
    section: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(primary_key=True)
    mechanism: Mapped[str | None]
    value: Mapped[float | None]

_SOURCE = {
    "neuronal_model_id": "the model (NeuronalModel.id)",
    "well_known_file_id": "the parameter file the row was read from (WellKnownFile.id)",
    "source_sha256": "sha256 of the file's bytes (hex)",
}

describe(GlifNeuronConfig, {
    **_SOURCE,
    "level": "GLIF level 1-5 the config's methods make",
    "el_reference": "measured resting potential the model's voltages are relative to (V)",
    "el": "reversal potential relative to rest, 0 in published files (V)",
    "c": "membrane capacitance (F)",
    "r_input": "input resistance (Ω)",
    "th_inf": "instantaneous threshold relative to rest (V)",
    "dt": "time step of the fit, not of a simulation (s)",
    "spike_cut_length": "samples cut after each spike (count of time steps)",
    "init_voltage": "voltage at the start of a run, relative to rest (V)",
    "init_threshold": "threshold at the start of a run, relative to rest (V)",
    "asc_tau_array": "time constants of the after-spike currents (s; JSON list)",
    "asc_amp_array": "amplitudes of the after-spike currents (A; JSON list)",
    "coeffs": "multipliers of th_inf, C, G, a, b and asc_amp_array (dimensionless; JSON)",
    "voltage_dynamics_method": "name of the voltage dynamics, 'linear_forward_euler'",
    "threshold_dynamics_method": "name of the threshold dynamics: 'inf', 'spike_component' "
                                 "or 'three_components_exact'",
    "asc_dynamics_method": "name of the after-spike current dynamics: 'exp' or 'none'",
    "voltage_reset_method": "name of the voltage reset: 'zero' or 'v_before'",
    "threshold_reset_method": "name of the threshold reset: 'inf' or 'three_components'",
    "asc_reset_method": "name of the after-spike current reset: 'sum' or 'none'",
    "config": "the whole neuron_config.json (JSON)",
})

describe(BiophysicalFit, {
    **_SOURCE,
    "ra": "axial resistance (Ω·cm)",
    "e_pas": "passive reversal potential (mV)",
    "celsius": "simulation temperature (°C)",
    "v_init": "initial membrane potential (mV)",
    "junction_potential": "liquid junction potential (mV)",
    "fit_sweeps": "sweep numbers the model was fitted to (JSON list)",
    "cm": "membrane capacitance per section (µF/cm²; JSON list)",
    "erev": "reversal potentials per section and ion (mV; JSON list)",
    "config": "the whole fit file (JSON)",
})

describe(BiophysicalFitParameter, {
    "neuronal_model_id": "the model (NeuronalModel.id)",
    "section": "section the value applies to: soma, axon, dend, apic",
    "name": "parameter name, e.g. 'gbar_NaV'",
    "mechanism": "NEURON mechanism the parameter belongs to (empty: passive)",
    "value": "the value (S/cm² for a channel density; else the parameter's NEURON unit)",
})


__all__ = ["BiophysicalFit", "BiophysicalFitParameter", "GlifNeuronConfig"]
