"""GLIF model parameters as a frozen value: what ``neuron_config.json`` describes, validated.

Units are SI (V, A, F, Ohm, s). Voltages are relative to rest (``El`` is normally 0 and the measured
resting potential is ``el_reference``). ``fit_dt`` is the time step the model was fitted at; the
simulation takes its own ``dt`` (the recording's sampling interval), while ``spike_cut_length``
stays a number of *samples*, exactly as AllenSDK runs the published models.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AscDynamics(StrEnum):
    """How after-spike currents evolve between spikes."""

    EXP = "exp"
    NONE = "none"


class VoltageDynamics(StrEnum):
    LINEAR_FORWARD_EULER = "linear_forward_euler"


class ThresholdDynamics(StrEnum):
    """``inf``: constant; ``spike_component``: + decaying spike term; ``three_components_exact``:
    + a voltage-driven term integrated exactly over one step."""

    INF = "inf"
    SPIKE_COMPONENT = "spike_component"
    THREE_COMPONENTS_EXACT = "three_components_exact"


class AscReset(StrEnum):
    SUM = "sum"
    NONE = "none"


class VoltageReset(StrEnum):
    ZERO = "zero"
    V_BEFORE = "v_before"


class ThresholdReset(StrEnum):
    INF = "inf"
    THREE_COMPONENTS = "three_components"


@dataclass(frozen=True)
class GlifCoeffs:
    """Multipliers the optimiser fitted on top of the measured parameters."""

    th_inf: float = 1.0
    C: float = 1.0
    G: float = 1.0
    a: float = 1.0
    b: float = 1.0
    asc_amp_array: tuple[float, ...] | None = None  # None: all ones


@dataclass(frozen=True)
class GlifConfig:
    """One GLIF neuron (levels 1-5) with its six dynamics and reset rules."""

    El: float
    C: float
    R_input: float
    th_inf: float
    spike_cut_length: int
    asc_tau_array: tuple[float, ...]
    asc_amp_array: tuple[float, ...]
    init_voltage: float
    init_threshold: float
    init_AScurrents: tuple[float, ...]
    coeffs: GlifCoeffs
    voltage_dynamics: VoltageDynamics
    threshold_dynamics: ThresholdDynamics
    asc_dynamics: AscDynamics
    voltage_reset: VoltageReset
    threshold_reset: ThresholdReset
    asc_reset: AscReset
    # threshold_dynamics_method.params (its a_spike is never used: the reset adds a_spike)
    th_dyn_b_spike: float = 0.0
    a_voltage: float = 0.0
    b_voltage: float = 0.0
    # voltage_reset_method.params (v_before: V <- a * V + b)
    v_reset_a: float = 0.0
    v_reset_b: float = 0.0
    # threshold_reset_method.params (three_components)
    th_reset_a_spike: float = 0.0
    th_reset_b_spike: float = 0.0
    # AScurrent_reset_method.params (sum): fraction of each current carried over a spike
    asc_reset_r: tuple[float, ...] = ()
    fit_dt: float | None = None
    el_reference: float | None = None

    @property
    def level(self) -> int:
        """The GLIF level (1 LIF, 2 LIF-R, 3 LIF-ASC, 4 LIF-R-ASC, 5 LIF-R-ASC-A)."""
        has_asc = self.asc_dynamics is AscDynamics.EXP
        if self.threshold_dynamics is ThresholdDynamics.THREE_COMPONENTS_EXACT:
            return 5
        if self.threshold_dynamics is ThresholdDynamics.SPIKE_COMPONENT:
            return 4 if has_asc else 2
        return 3 if has_asc else 1

    @property
    def n_asc(self) -> int:
        return len(self.asc_tau_array)

    def asc_amp_coeffs(self) -> tuple[float, ...]:
        if self.coeffs.asc_amp_array is None:
            return (1.0,) * self.n_asc
        return self.coeffs.asc_amp_array


__all__ = [
    "AscDynamics",
    "AscReset",
    "GlifCoeffs",
    "GlifConfig",
    "ThresholdDynamics",
    "ThresholdReset",
    "VoltageDynamics",
    "VoltageReset",
]
