"""The two named sets of ephys feature definitions, chosen by a parameter.

``allen2016`` is the AllenSDK extractor of 2016-2018 (``allensdk.ephys.ephys_features`` and
``ephys_extractor``), which produced the published ``EphysFeature`` table; ``ipfx`` is ipfx 2.1.2.
Each field is one documented difference between them (feature_spec sections 1 and 2.4); code
branches on these fields, never on the set's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ctmirror.errors import ConfigError

DefinitionName = Literal["allen2016", "ipfx"]


@dataclass(frozen=True)
class SpikeDetection:
    """Parameters of spike detection (feature_spec 1.3); units mV, V/s, s, Hz."""

    dv_cutoff: float = 20.0  # V/s: putative spike where dV/dt crosses this upwards
    thresh_frac: float = 0.05  # threshold where dV/dt falls to this fraction of mean upstroke
    min_height: float = 2.0  # mV from threshold to peak
    min_peak: float = -30.0  # mV
    max_interval: float = 0.005  # s from threshold to peak
    filter_hz: float | None = 10_000.0  # 4-pole Bessel low-pass for dV/dt; None: no filter
    clip_tolerance: float = 1.0  # mV: last spike clipped if V never returns to threshold + this
    reject_at_stim_start_interval: float = 0.0  # s (ipfx option; 0 = off)


@dataclass(frozen=True)
class TroughDetails:
    """Parameters of fast trough / ADP / slow trough (feature_spec 1.5)."""

    term_frac: float = 0.01
    adp_thresh: float = 0.5  # V/s on the 1 kHz derivative
    tol: float = 0.5  # mV
    flat_interval: float = 0.002  # s
    adp_max_delta_t: float = 0.005  # s
    adp_max_delta_v: float = 10.0  # mV
    heavy_filter_hz: float = 1_000.0


@dataclass(frozen=True)
class Definitions:
    """Everything that differs between the published definitions and ipfx."""

    name: DefinitionName
    spikes: SpikeDetection = SpikeDetection()
    troughs: TroughDetails = TroughDetails()
    # find_time_index: AllenSDK takes the first index with t >= x; ipfx the nearest sample.
    time_index: Literal["first_at_or_after", "nearest"] = "first_at_or_after"
    # Putative spikes: AllenSDK re-filters the window v[start:end+1]; ipfx slices the
    # whole-trace dV/dt.
    window_dvdt: Literal["refilter_window", "slice_whole_trace"] = "refilter_window"
    # Means over sweeps: AllenSDK np.mean (any NaN gives NaN); ipfx np.nanmean.
    nan_aware_means: bool = False
    # tau: ipfx caps the fit end at the median V-min time, rejects SNR < 20 and RMSE > 1 mV.
    tau_quality_gates: bool = False
    # sag: baseline and steady-state windows (s).
    sag_baseline_interval: float = 0.1
    # Rheobase: ipfx also requires a positive stimulus amplitude.
    rheobase_requires_positive_amp: bool = False
    # Sweeps of equal amplitude: AllenSDK keeps sweep-number order; ipfx sorts with pandas'
    # default (numpy's unstable quicksort), which can put a later sweep first.
    amplitude_sort: Literal["stable", "quicksort"] = "stable"
    # Hero sweep: none inside (rheo + 39, rheo + 61) pA -> AllenSDK gives no features,
    # ipfx takes the spiking sweep closest to rheo + 39 pA.
    hero_fallback: bool = False
    # Long-square window: AllenSDK fixed 1.02-2.02 s; ipfx from the stimulus of the first sweep.
    long_square_window_from_stimulus: bool = False
    # Short-square first-spike means: AllenSDK over the sweeps at the most common spiking
    # amplitude (its extractor keeps only those); ipfx over every short square with spikes.
    short_square_means_at_common_amplitude: bool = True
    # Stimulus names of each protocol's sweeps: the Allen pipeline passed "Long Square", "Short
    # Square" and "Ramp" to its extractor; ipfx's ontology pools the threshold and holding
    # variants (never the triple short squares, whose stimulus starts 1 s later).
    long_square_names: frozenset[str] = frozenset({"Long Square"})
    short_square_names: frozenset[str] = frozenset({"Short Square"})
    ramp_names: frozenset[str] = frozenset({"Ramp"})


ALLEN2016 = Definitions(name="allen2016")
IPFX = Definitions(
    name="ipfx",
    time_index="nearest",
    window_dvdt="slice_whole_trace",
    nan_aware_means=True,
    tau_quality_gates=True,
    sag_baseline_interval=0.03,
    rheobase_requires_positive_amp=True,
    amplitude_sort="quicksort",
    hero_fallback=True,
    long_square_window_from_stimulus=True,
    short_square_means_at_common_amplitude=False,
    long_square_names=frozenset({"Long Square", "Long Square Threshold",
                                 "Long Square SupraThreshold", "Long Square SubThreshold"}),
    short_square_names=frozenset({"Short Square", "Short Square Threshold",
                                  "Short Square - Hold -60mV", "Short Square - Hold -70mV",
                                  "Short Square - Hold -80mV"}),
)
DEFINITIONS: dict[str, Definitions] = {d.name: d for d in (ALLEN2016, IPFX)}


def definitions(name: str) -> Definitions:
    """The definition set called ``name`` (``allen2016`` or ``ipfx``)."""
    try:
        return DEFINITIONS[name]
    except KeyError:
        raise ConfigError(f"unknown definition set {name!r}; use one of: "
                          f"{', '.join(DEFINITIONS)}") from None


__all__ = ["ALLEN2016", "DEFINITIONS", "IPFX", "DefinitionName", "Definitions",
           "SpikeDetection", "TroughDetails", "definitions"]
