"""Model parameters read from the mirrored model files, linked to ``neuronal_models``.

Typed columns hold the parameters every model of a family has; ``config`` keeps the whole
document, so nothing in the file is lost. Rows are replaced whenever their source file changes
(``well_known_file_id`` and ``source_sha256`` say which bytes they came from).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from ctmirror.schema.base import Base


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


__all__ = ["BiophysicalFit", "BiophysicalFitParameter", "GlifNeuronConfig"]
