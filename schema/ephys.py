"""Electrophysiology: recordings (ephys results), their sweeps, and the published cell features."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from ctmirror.features.names import EPHYS_CELL_FEATURES, EPHYS_CELL_FLAGS
from ctmirror.schema.base import Base, MirroredRecord, allen_id, describe
from ctmirror.schema.feature_docs import FEATURE_DESCRIPTIONS


class EphysResult(MirroredRecord, Base):
    """``model::EphysResult``: one cell's recording session; its NWB file hangs off it."""

    __tablename__ = "ephys_results"

    id: Mapped[int] = allen_id()
    failed: Mapped[bool | None]
    sampling_rate: Mapped[float | None]


class EphysSweep(MirroredRecord, Base):
    """``model::EphysSweep``: one stimulus sweep of a cell's recording (22 attributes)."""

    __tablename__ = "ephys_sweeps"

    id: Mapped[int] = allen_id()
    specimen_id: Mapped[int | None]
    sweep_number: Mapped[int | None]
    stimulus_name: Mapped[str | None]
    stimulus_description: Mapped[str | None]
    stimulus_units: Mapped[str | None]
    stimulus_absolute_amplitude: Mapped[float | None]
    stimulus_relative_amplitude: Mapped[float | None]
    stimulus_start_time: Mapped[float | None]
    stimulus_duration: Mapped[float | None]
    stimulus_interval: Mapped[float | None]
    num_spikes: Mapped[int | None]
    peak_deflection: Mapped[float | None]
    pre_vm_mv: Mapped[float | None]
    post_vm_mv: Mapped[float | None]
    slow_vm_mv: Mapped[float | None]
    vm_delta_mv: Mapped[float | None]
    pre_noise_rms_mv: Mapped[float | None]
    post_noise_rms_mv: Mapped[float | None]
    slow_noise_rms_mv: Mapped[float | None]
    leak_pa: Mapped[float | None]
    bridge_balance_mohm: Mapped[float | None]


class EphysFeature(MirroredRecord, Base):
    """``model::EphysFeature``: Allen's published cell-level ephys features (56 attributes)."""

    __tablename__ = "ephys_features"

    id: Mapped[int] = allen_id()
    specimen_id: Mapped[int | None]
    rheobase_sweep_id: Mapped[int | None]
    rheobase_sweep_number: Mapped[int | None]
    thumbnail_sweep_id: Mapped[int | None]
    adaptation: Mapped[float | None]
    avg_isi: Mapped[float | None]
    electrode_0_pa: Mapped[float | None]
    f_i_curve_slope: Mapped[float | None]
    has_burst: Mapped[bool | None]
    has_delay: Mapped[bool | None]
    has_pause: Mapped[bool | None]
    input_resistance_mohm: Mapped[float | None]
    latency: Mapped[float | None]
    ri: Mapped[float | None]
    sag: Mapped[float | None]
    seal_gohm: Mapped[float | None]
    tau: Mapped[float | None]
    vm_for_sag: Mapped[float | None]
    vrest: Mapped[float | None]
    fast_trough_t_long_square: Mapped[float | None]
    fast_trough_t_ramp: Mapped[float | None]
    fast_trough_t_short_square: Mapped[float | None]
    fast_trough_v_long_square: Mapped[float | None]
    fast_trough_v_ramp: Mapped[float | None]
    fast_trough_v_short_square: Mapped[float | None]
    peak_t_long_square: Mapped[float | None]
    peak_t_ramp: Mapped[float | None]
    peak_t_short_square: Mapped[float | None]
    peak_v_long_square: Mapped[float | None]
    peak_v_ramp: Mapped[float | None]
    peak_v_short_square: Mapped[float | None]
    slow_trough_t_long_square: Mapped[float | None]
    slow_trough_t_ramp: Mapped[float | None]
    slow_trough_t_short_square: Mapped[float | None]
    slow_trough_v_long_square: Mapped[float | None]
    slow_trough_v_ramp: Mapped[float | None]
    slow_trough_v_short_square: Mapped[float | None]
    threshold_i_long_square: Mapped[float | None]
    threshold_i_ramp: Mapped[float | None]
    threshold_i_short_square: Mapped[float | None]
    threshold_t_long_square: Mapped[float | None]
    threshold_t_ramp: Mapped[float | None]
    threshold_t_short_square: Mapped[float | None]
    threshold_v_long_square: Mapped[float | None]
    threshold_v_ramp: Mapped[float | None]
    threshold_v_short_square: Mapped[float | None]
    trough_t_long_square: Mapped[float | None]
    trough_t_ramp: Mapped[float | None]
    trough_t_short_square: Mapped[float | None]
    trough_v_long_square: Mapped[float | None]
    trough_v_ramp: Mapped[float | None]
    trough_v_short_square: Mapped[float | None]
    upstroke_downstroke_ratio_long_square: Mapped[float | None]
    upstroke_downstroke_ratio_ramp: Mapped[float | None]
    upstroke_downstroke_ratio_short_square: Mapped[float | None]


describe(EphysResult, {
    "id": "Allen ephys result id (key); its NWB file is the WellKnownFile attached to it",
    "failed": "the recording session failed quality control (true/false)",
    "sampling_rate": "sampling rate of the recording (Hz)",
})

describe(EphysSweep, {
    "id": "Allen sweep id (key)",
    "specimen_id": "the cell (Specimen.id)",
    "sweep_number": "N of Sweep_N in the cell's NWB file",
    "stimulus_name": "stimulus, e.g. 'Long Square', 'Short Square', 'Ramp', 'Noise 2', 'Test'",
    "stimulus_description": "stimulus code, e.g. 'C1LSFINEST150112[0]'",
    "stimulus_units": "'Amps' (current clamp) or 'Volts' (test pulse, voltage clamp)",
    "stimulus_absolute_amplitude": "stimulus amplitude (pA)",
    "stimulus_relative_amplitude": "stimulus amplitude relative to the cell's rheobase "
                                   "(dimensionless)",
    "stimulus_start_time": "stimulus onset (s from sweep start)",
    "stimulus_duration": "stimulus duration (s)",
    "stimulus_interval": "interval between repeated pulses (s)",
    "num_spikes": "spikes detected in the sweep (count)",
    "peak_deflection": "peak voltage deflection during the stimulus (mV)",
    "pre_vm_mv": "membrane potential before the stimulus (mV)",
    "post_vm_mv": "membrane potential after the stimulus (mV)",
    "slow_vm_mv": "slow membrane potential (mV)",
    "vm_delta_mv": "change of membrane potential from before to after the sweep (mV)",
    "pre_noise_rms_mv": "RMS noise before the stimulus (mV)",
    "post_noise_rms_mv": "RMS noise after the stimulus (mV)",
    "slow_noise_rms_mv": "RMS noise over a slow window (mV)",
    "leak_pa": "leak current (pA)",
    "bridge_balance_mohm": "bridge balance (MΩ)",
})

describe(EphysFeature, {
    "id": "Allen ephys feature record id (key)",
    "specimen_id": "the cell (Specimen.id)",
    "rheobase_sweep_id": "the rheobase long square (EphysSweep.id)",
    "rheobase_sweep_number": "sweep number of the rheobase long square",
    "thumbnail_sweep_id": "the hero long square shown in the thumbnail (EphysSweep.id)",
    "electrode_0_pa": "electrode offset current in the bath (pA)",
    "input_resistance_mohm": "input resistance from the voltage-clamp break-in sweep (MΩ)",
    "seal_gohm": "seal resistance (GΩ)",
    **{name: FEATURE_DESCRIPTIONS[name] for name in (*EPHYS_CELL_FEATURES, *EPHYS_CELL_FLAGS)},
})


__all__ = ["EphysFeature", "EphysResult", "EphysSweep"]
