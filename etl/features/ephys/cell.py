"""Cell-level features: the published ``EphysFeature`` columns from a cell's sweeps
(feature_spec 2.1-2.4).

The sweeps are grouped by protocol (long squares, short squares, ramps), each protocol's window
is found, every sweep's spikes and spike train are measured, and the selection rules pick the
sweeps the published columns come from: the rheobase sweep (lowest spiking amplitude), the hero
sweep (the lowest amplitude 39-61 pA above rheobase), the short squares' most common spiking
amplitude. A protocol whose analysis cannot run (no spiking or no subthreshold long square, a
single spiking sweep for the f-I slope, ...) leaves its columns empty and says why in
``protocol_problems``; a malformed sweep (empty, a stimulus without a response, NaN samples
inside the recording, no stimulus, no usable sampling rate, a recording that ends before its
protocol's window does) is left out with its reason in ``sweep_problems``. Neither stops the
cell. A recording that stopped early (NaN to the end, as in the published files) is analysed up
to its last sample. The time base comes from the sampling rate, so it is uniform by
construction.

Columns that cannot be computed from public NWB files, and are therefore not produced:
``electrode_0_pa``, ``seal_gohm``, ``input_resistance_mohm`` and
``initial_access_resistance_mohm`` (voltage-clamp QC of the bath, seal and break-in sweeps,
which the published recordings do not hold), and ``rheobase_sweep_id``/``thumbnail_sweep_id``
(database ids; the sweep numbers are given instead).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from threading import Lock
from typing import Protocol, TypeVar

import numpy as np
from numba import njit
from numpy.typing import NDArray

from ctmirror.features.ephys.definitions import ALLEN2016, IPFX, Definitions, SpikeDetection
from ctmirror.features.ephys.dvdt import (
    LANES,
    TimeIndexRule,
    UniformTimes,
    filtered_dvdts,
    time_index,
)
from ctmirror.features.ephys.spike_train import (
    SHORT_SQUARE_MIN_THRESH_FRAC,
    short_square_cutoffs,
    short_square_rise,
    short_square_thresh_frac,
    short_square_upstrokes,
    short_square_window,
    spike_train_features,
)
from ctmirror.features.ephys.spikes import (
    SpikeTable,
    detect_spikes,
    release_buffers,
    spike_dvdts,
)
from ctmirror.features.ephys.subthreshold import (
    baseline_voltage,
    input_resistance,
    sag,
    time_constant,
    voltage_deflection,
)
from ctmirror.features.ephys.threads import SweepPool, map_in_threads
from ctmirror.features.names import EPHYS_CELL_FEATURES, EPHYS_CELL_FLAGS, FIRST_SPIKE_FEATURES
from ctmirror.features.registry import Level, check_complete, feature_group

#: Every stimulus name the cell-level features read, under either definition set.
CELL_STIMULI: frozenset[str] = frozenset().union(*(
    getattr(d, f"{protocol}_names") for d in (ALLEN2016, IPFX)
    for protocol in ("long_square", "short_square", "ramp")))
COARSE_LONG_SQUARE_CODE = "C1LSCOARSE"
#: Subthreshold minimum amplitude by the coarse long squares' amplitude step (pA).
SUBTHRESHOLD_MIN_AMP_BY_STEP = {20.0: -100.0, 40.0: -200.0}
DEFAULT_SUBTHRESHOLD_MIN_AMP = -100.0
SAG_TARGET_MV = -100.0
HERO_MIN_OFFSET_PA, HERO_MAX_OFFSET_PA = 39.0, 61.0
#: AllenSDK's fixed long-square window (s from sweep start).
ALLEN2016_LONG_SQUARE_WINDOW = (1.02, 2.02)
ALLEN2016_RAMP_START = 1.02
PRESTIM_S = 0.5  # the experiment epoch starts this long before the stimulus
BASELINE_INTERVAL_S = 0.1  # v_baseline (vrest) and the time constant's baseline
TEST_PULSE_MAX_S = 0.4
SHORT_SQUARE_ESTIMATE_WINDOW_S = 0.001
#: The short squares' filtered dV/dt held between their analysis passes (bytes); a sweep past
#: it is filtered again in each pass. Counted in the worker's 1 GiB (bench_feature_memory).
HELD_DVDT_BYTES = 256 * 2**20
#: The published ``EphysFeature`` columns ``cell_features`` computes (registered at level
#: ``cell`` by the protocol analyses below), in table order.
CELL_FEATURES: tuple[str, ...] = EPHYS_CELL_FEATURES

FloatArray = NDArray[np.float64]
R = TypeVar("R")


@dataclass(frozen=True)
class SweepRecording:
    """One current-clamp sweep as recorded: v in mV, i in pA, sample 0 at the sweep start."""

    sweep_number: int
    stimulus_name: str | None
    stimulus_code: str | None
    stimulus_amplitude: float | None  # pA, as the sweep's metadata gives it
    sampling_rate: float
    v: FloatArray
    i: FloatArray

    def samples(self) -> tuple[FloatArray, FloatArray]:
        """v and i in float64."""
        return np.asarray(self.v, dtype=np.float64), np.asarray(self.i, dtype=np.float64)


class SweepSource(Protocol):
    """A current-clamp sweep whose samples are read when asked for (a ``SweepRecording``, or a
    sweep still in its file): the features hold one sweep's samples at a time."""

    @property
    def sweep_number(self) -> int: ...
    @property
    def stimulus_name(self) -> str | None: ...
    @property
    def stimulus_code(self) -> str | None: ...
    @property
    def stimulus_amplitude(self) -> float | None: ...
    @property
    def sampling_rate(self) -> float: ...

    def samples(self) -> tuple[FloatArray, FloatArray]:
        """v in mV and i in pA, in float64 (the same values at every call)."""
        ...


@dataclass(frozen=True)
class SweepResult:
    """A sweep as analysed: its window, spikes and spike-train features."""

    sweep_number: int
    protocol: str
    start: float
    end: float
    spikes: SpikeTable
    train: dict[str, float]
    stimulus_amplitude: float | None = None
    v_baseline: float | None = None


@dataclass(frozen=True)
class CellFeatures:
    values: dict[str, float | bool | None]
    rheobase_sweep_number: int | None = None
    hero_sweep_number: int | None = None
    sweeps: dict[int, SweepResult] = field(default_factory=dict)
    sweep_problems: dict[int, str] = field(default_factory=dict)
    protocol_problems: dict[str, str] = field(default_factory=dict)


class ProtocolError(Exception):
    """A protocol's cell features cannot be computed; the message says why."""


class TimeBases:
    """The time bases of one cell's sweeps: ``time_base(size, rate, shift)`` as a view of one
    array per (rate, shift), made once at the longest size asked for (sample k has the same
    bits at any size). A cell's sweeps share a few of them, and each analysis pass would
    otherwise make a new array as long as the sweep (memory to fault in, and to fill). At
    most ``HELD`` of them are kept (a protocol's sweeps share one), so a cell whose sweeps
    all have time bases of their own holds no more than before."""

    HELD = 4

    def __init__(self) -> None:
        self._arrays: dict[tuple[float, float], FloatArray] = {}
        self._lock = Lock()

    def get(self, size: int, rate: float, shift: float) -> FloatArray:
        with self._lock:
            array = self._arrays.get((rate, shift))
            if array is not None and array.size >= size:
                return array[:size]
            array = time_base(size, rate, shift)
            if (rate, shift) in self._arrays or len(self._arrays) < self.HELD:
                self._arrays[rate, shift] = array
        return array


@dataclass(frozen=True)
class _Sweep:
    """A checked sweep without its samples: ``load`` reads them again when a step needs them."""

    number: int
    code: str
    amplitude: float | None
    source: SweepSource
    #: The recorded part's length, and the time base's rate and shift (see ``time_base``).
    size: int
    rate: float
    shift: float
    #: Samples after which the current changes (``flatnonzero(diff(i))``), found once: the
    #: first four and the last when there are more than five (see ``_scan``).
    changes: NDArray[np.intp]
    time_bases: TimeBases

    def time_at(self, k: int) -> float:
        """``times()[k]`` without making the time base (the same bits)."""
        return k / self.rate - self.shift

    def times(self) -> FloatArray:
        return self.time_bases.get(self.size, self.rate, self.shift)

    def time_points(self) -> UniformTimes:
        """``times()`` sample by sample, for ``time_index``."""
        return UniformTimes(self.size, self.rate, self.shift)

    def load(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """t, v and i of the recorded part."""
        v, i = self.source.samples()
        return self.times(), v[:self.size], i[:self.size]


#: A protocol's analysis: its sweeps, the definitions, the sweep problems to add to and the
#: pool to measure the sweeps on, giving the cell's values, each sweep's result and the
#: protocol's selected sweep numbers (if any).
_ProtocolResult = tuple[dict[str, float | None], dict[int, SweepResult], tuple[int | None, ...]]
_ProtocolAnalysis = Callable[[list[_Sweep], Definitions, dict[int, str], SweepPool],
                             _ProtocolResult]


def cell_features(sweeps: Sequence[SweepSource], definitions: Definitions = ALLEN2016,
                  threads: int = 1) -> CellFeatures:
    """The published ``EphysFeature`` columns of one cell; see the module doc. The sweeps are
    prepared and measured on up to ``threads`` threads (the same values for any number); the
    samples of a sweep are held while it is measured, not for the whole cell."""
    problems: dict[int, str] = {}
    prepared: dict[str, list[_Sweep]] = {"long_square": [], "short_square": [], "ramp": []}
    chosen = [(protocol, recording)
              for recording in sorted(sweeps, key=lambda s: s.sweep_number)
              if (protocol := _protocol(recording.stimulus_name, definitions)) is not None]

    time_bases = TimeBases()

    def prepare(item: tuple[str, SweepSource]) -> _Sweep | ProtocolError:
        try:
            return _prepare(item[1], definitions, time_bases)
        except ProtocolError as exc:
            return exc

    with SweepPool(threads) as pool:
        for (protocol, recording), sweep in zip(chosen, pool.map(prepare, chosen),
                                                strict=True):
            if isinstance(sweep, ProtocolError):
                problems[recording.sweep_number] = str(sweep)
            else:
                prepared[protocol].append(sweep)
        analyses = [item for item in _ANALYSES if prepared[item[0]]]

        def analyse(item: tuple[str, _ProtocolAnalysis]
                    ) -> tuple[_ProtocolResult | Exception, dict[int, str]]:
            protocol, analysis = item
            found: dict[int, str] = {}  # this protocol's sweep problems, merged in order
            try:
                return analysis(prepared[protocol], definitions, found, pool), found
            except (ProtocolError, ValueError, FloatingPointError,
                    np.linalg.LinAlgError) as exc:
                return exc, found
            finally:
                release_buffers()

        # On several threads the protocols are analysed at once, their sweeps measured on
        # the one pool: a protocol's serial steps (fits, the short squares' passes over all
        # their sweeps, fewer sweeps than threads) overlap another's sweeps.
        outcomes = map_in_threads(analyse, analyses, len(analyses) if threads > 1 else 1)
    by_protocol = {protocol: outcome for (protocol, _), outcome
                   in zip(analyses, outcomes, strict=True)}
    values: dict[str, float | bool | None] = {}
    results: dict[int, SweepResult] = {}
    protocol_problems: dict[str, str] = {}
    rheobase: int | None = None
    hero: int | None = None
    for protocol, _ in _ANALYSES:
        if protocol not in by_protocol:
            protocol_problems[protocol] = "no usable sweeps"
            continue
        outcome, found = by_protocol[protocol]
        problems.update(found)
        if isinstance(outcome, Exception):
            protocol_problems[protocol] = str(outcome)
            continue
        values.update(outcome[0])
        results.update(outcome[1])
        if protocol == "long_square":
            rheobase, hero = outcome[2]
    values.update(_unset_flags())
    return CellFeatures(values=_plain(values), rheobase_sweep_number=rheobase,
                        hero_sweep_number=hero, sweeps=results, sweep_problems=problems,
                        protocol_problems=protocol_problems)


def _protocol(name: str | None, definitions: Definitions) -> str | None:
    for protocol in ("long_square", "short_square", "ramp"):
        if name in getattr(definitions, f"{protocol}_names"):
            return protocol
    return None


def _prepare(recording: SweepSource, definitions: Definitions, time_bases: TimeBases
             ) -> _Sweep:
    """Checks, the recorded part (up to the last non-NaN sample) and the time base: from the
    sweep start (allen2016) or from the start of the experiment epoch, 0.5 s before the
    stimulus (ipfx)."""
    v, i = recording.samples()
    if v.size == 0 and i.size == 0:
        raise ProtocolError("empty sweep")
    if v.size == 0:
        raise ProtocolError(f"stimulus without response: {i.size} stimulus samples, "
                            "no response samples")
    if i.size != v.size:
        raise ProtocolError(f"stimulus has {i.size} samples, response {v.size}")
    rate = recording.sampling_rate
    if not rate or not np.isfinite(rate) or rate <= 0:
        raise ProtocolError(f"no usable sampling rate ({rate!r})")
    filter_hz = definitions.spikes.filter_hz
    if filter_hz and rate <= 2.0 * filter_hz:
        # The reference's Bessel filter design fails there (ipfx #546); it is this sweep's fault.
        raise ProtocolError(f"sampled at {rate / 1e3:g} kHz: the {filter_hz / 1e3:g} kHz dV/dt "
                            f"filter needs more than {2.0 * filter_hz / 1e3:g} kHz")
    # The recorded part ends at the last non-NaN sample (usually the last sample).
    end, nan_inside, stimulus_nan, stimulus_zero, changes = _scan(v, i)
    if end == 0:
        raise ProtocolError("stimulus without response: the response is all NaN")
    if nan_inside:
        raise ProtocolError(f"{nan_inside} NaN samples inside the recording")
    if stimulus_nan:
        raise ProtocolError("stimulus has NaN samples")
    if stimulus_zero:
        raise ProtocolError("no stimulus (the current is zero throughout)")
    rate = recording.sampling_rate
    shift = 0.0
    if definitions.long_square_window_from_stimulus:
        onset = _stimulus_onset(changes, rate)
        if onset is None:
            raise ProtocolError("no stimulus after the test pulse")
        shift = (onset - int(PRESTIM_S * rate)) / rate
    return _Sweep(recording.sweep_number, recording.stimulus_code or "",
                  recording.stimulus_amplitude, recording, end, rate, shift, changes,
                  time_bases)


def time_base(size: int, rate: float, shift: float) -> FloatArray:
    """``np.arange(size) / rate - shift`` (the same bits) in one pass: sample k at k / rate s
    from the sweep start, less ``shift``."""
    # Allocated by numpy, which asks Linux for huge pages for large arrays: first touching
    # fresh memory costs about a quarter of what it costs in 4 KB pages (numba's allocator).
    return _time_base_into(np.empty(size), rate, shift)


@njit(cache=True, nogil=True)
def _time_base_into(t: FloatArray, rate: float, shift: float) -> FloatArray:
    for k in range(t.size):
        t[k] = k / rate - shift
    return t


#: Changes of the current a sweep keeps (see ``_scan``): the onset reads the first four, the
#: stimulus window the third and the last.
_CHANGES_KEPT = 5


@njit(cache=True, nogil=True)
def _scan(v: FloatArray, i: FloatArray) -> tuple[int, int, bool, bool, NDArray[np.intp]]:
    """One pass over a sweep: the end of the recorded part (after its last non-NaN sample; 0
    if there is none), the NaN samples before that end, whether the stimulus has NaN there or
    is zero throughout, and the samples after which the current changes
    (``flatnonzero(diff(i))`` of the recorded part): all of them when there are at most
    ``_CHANGES_KEPT``, else the first ``_CHANGES_KEPT - 1`` and the last (all that the
    stimulus onset and window read; a ramp changes at every sample)."""
    end = v.size
    while end > 0 and np.isnan(v[end - 1]):
        end -= 1
    # Counts without branches, which the compiler turns into vector instructions.
    nan_inside = 0
    stimulus_nans = 0
    stimulus_zeros = 0
    for k in range(end):
        nan_inside += np.isnan(v[k])
        stimulus_nans += np.isnan(i[k])
        stimulus_zeros += i[k] == 0.0
    # The changes: the first ones from the start, the last one from the end back to there.
    changes = np.empty(_CHANGES_KEPT, dtype=np.intp)
    found = 0
    k = 0
    while k + 1 < end and found < _CHANGES_KEPT - 1:
        if i[k + 1] - i[k] != 0.0:
            changes[found] = k
            found += 1
        k += 1
    last = end - 2
    while last >= k and i[last + 1] - i[last] == 0.0:
        last -= 1
    if last >= k:
        changes[found] = last
        found += 1
    return (end, nan_inside, stimulus_nans > 0, stimulus_zeros + stimulus_nans == end,
            changes[:found].copy())


def _stimulus_onset(changes: NDArray[np.intp], rate: float) -> int | None:
    """First sample of the stimulus after the test pulse (a pair of changes starting in the
    first 0.4 s, if there is one)."""
    if changes.size and changes[0] < TEST_PULSE_MAX_S * rate:
        changes = changes[2:]
    return int(changes[0]) + 1 if changes.size >= 2 else None


def _stimulus_window(sweep: _Sweep) -> tuple[float, float] | None:
    """Start and duration of the sweep's stimulus after the test pulse; None without one or
    when the recording stops before the stimulus ends."""
    # The first two changes are taken to be the test pulse, present or not, as ipfx does.
    changes = sweep.changes[2:]
    if changes.size == 0:
        return None
    first, last = int(changes[0]) + 1, int(changes[-1])
    if first >= last:
        return None
    return sweep.time_at(first), sweep.time_at(last) - sweep.time_at(first - 1)


def _protocol_window(sweeps: list[_Sweep]) -> tuple[float, float]:
    """The stimulus start and duration of a protocol, from its first sweep (as ipfx) or, when
    that one stopped during its stimulus (ipfx #516: the whole protocol then fails there),
    from the first sweep with a whole stimulus."""
    for sweep in sweeps:
        window = _stimulus_window(sweep)
        if window is not None:
            return window
    raise ProtocolError("no sweep has a whole stimulus after the test pulse")


def _covering(sweeps: list[_Sweep], first: float, last: float, rule: TimeIndexRule,
              protocol: str, problems: dict[int, str]) -> list[_Sweep]:
    """The sweeps whose recording reaches from ``first`` to ``last`` (s); the others are put in
    ``problems``. If none does, the window does not fit the protocol at all (not a fault of
    single sweeps): a ``ProtocolError``."""
    covered: list[_Sweep] = []
    short: list[_Sweep] = []
    for sweep in sweeps:
        t = sweep.time_points()
        try:
            time_index(t, first, rule)
            # One sample to spare after ``last``: dV/dt there is still defined.
            reaches = time_index(t, last, rule) < t.size - 1
        except ValueError:
            reaches = False
        (covered if reaches else short).append(sweep)
    if not covered:
        raise ProtocolError(f"no sweep covers the {protocol} window ({first:g} to {last:g} s): "
                            f"the first runs from {short[0].time_at(0):g} to "
                            f"{short[0].time_at(short[0].size - 1):g} s")
    for sweep in short:
        problems[sweep.number] = (
            f"shorter than its window: the recording runs from {sweep.time_at(0):g} to "
            f"{sweep.time_at(sweep.size - 1):g} s, the {protocol} window from {first:g} to "
            f"{last:g} s")
    return covered


# -- long squares ---------------------------------------------------------------------------


def _first_spike_columns(protocol: str) -> tuple[str, ...]:
    return tuple(f"{name}_{protocol}" for name in FIRST_SPIKE_FEATURES)


def _groups(sweeps: list[_Sweep], pool: SweepPool) -> list[list[_Sweep]]:
    """The sweeps two by two on several threads (their filter passes then run side by side,
    ``filtered_dvdts``), one by one on one thread: a feature worker of a sync, on one thread,
    holds one sweep's samples at a time (its memory bound)."""
    size = LANES if pool.threads > 1 else 1
    return [sweeps[k:k + size] for k in range(0, len(sweeps), size)]


def _measured(pool: SweepPool, sweeps: list[_Sweep], definitions: Definitions,
              window: Callable[[FloatArray], tuple[float, float]],
              measure: Callable[[_Sweep, FloatArray, FloatArray, FloatArray,
                                 tuple[FloatArray, FloatArray]], R]) -> list[R]:
    """``measure(sweep, t, v, i, (dV/dt, the window's dV/dt))`` of each sweep, in order, its
    detection window ``window(t)``; the sweeps in ``_groups`` on the pool."""

    def group_measured(group: Sequence[_Sweep]) -> list[R]:
        loaded = [sweep.load() for sweep in group]
        dvdts = spike_dvdts([(t, v, *window(t)) for t, v, _ in loaded], definitions)
        return [measure(sweep, *samples, found)
                for sweep, samples, found in zip(group, loaded, dvdts, strict=True)]

    return [result for results in pool.map(group_measured, _groups(sweeps, pool))
            for result in results]


@feature_group(("vrest", "ri", "tau", "sag", "vm_for_sag", "f_i_curve_slope", "adaptation",
                "latency", "avg_isi", *_first_spike_columns("long_square")), Level.CELL)
def _long_squares(sweeps: list[_Sweep], definitions: Definitions, problems: dict[int, str],
                  pool: SweepPool) -> tuple[dict[str, float | None], dict[int, SweepResult],
                                         tuple[int | None, int | None]]:
    rule = definitions.time_index
    if definitions.long_square_window_from_stimulus:
        start, duration = _protocol_window(sweeps)
        end = start + duration
    else:
        start, end = ALLEN2016_LONG_SQUARE_WINDOW
    sweeps = _covering(sweeps, start - BASELINE_INTERVAL_S, end, rule, "long-square",
                       problems)

    def measure(sweep: _Sweep, t: FloatArray, v: FloatArray, i: FloatArray,
                dvdts: tuple[FloatArray, FloatArray]
                ) -> tuple[SweepResult, tuple[float, float]]:
        spikes = detect_spikes(t, v, i, start=start, end=end, definitions=definitions,
                               dvdt=dvdts[0], window_dvdt=dvdts[1])
        train = spike_train_features(spikes, t, start, end)
        amp = float(i[time_index(t, start, rule) + 1])
        base = baseline_voltage(t, v, start, BASELINE_INTERVAL_S, rule)
        return (SweepResult(sweep.number, "long_square", start, end, spikes, train, amp, base),
                sag(t, v, i, start, end, rule=rule,
                    baseline_interval=definitions.sag_baseline_interval))

    results: dict[int, SweepResult] = {}
    deflections: dict[int, float] = {}
    sags: dict[int, float] = {}
    for result, (sag_value, deflection) in _measured(pool, sweeps, definitions,
                                                     lambda t: (start, end), measure):
        results[result.sweep_number] = result
        sags[result.sweep_number], deflections[result.sweep_number] = sag_value, deflection
    values: dict[str, float | None] = {}
    baselines = [r.v_baseline for r in results.values()]
    values["vrest"] = _mean(baselines, definitions)
    spiking = [r for r in results.values() if r.train["avg_rate"] > 0]
    quiet = [r for r in results.values() if r.train["avg_rate"] == 0]
    if not spiking:
        raise ProtocolError("no spiking long square")
    order = np.argsort([_amplitude(r) for r in spiking],
                       kind="stable" if definitions.amplitude_sort == "stable" else "quicksort")
    by_amp = [spiking[k] for k in order]
    candidates = [r for r in by_amp if _amplitude(r) > 0] \
        if definitions.rheobase_requires_positive_amp else by_amp
    if not candidates:
        raise ProtocolError("no spiking long square with a positive amplitude")
    rheobase = candidates[0]
    if len(spiking) < 2:
        raise ProtocolError("one spiking long square: no f-I slope")
    design = np.vstack([[_amplitude(r) for r in spiking], np.ones(len(spiking))]).T
    values["f_i_curve_slope"] = float(np.linalg.lstsq(
        design, np.array([r.train["avg_rate"] for r in spiking]), rcond=None)[0][0])
    hero = _hero(_amplitude(rheobase), by_amp, definitions)
    values["adaptation"] = hero.train["adapt"]
    values["latency"] = hero.train["latency"]
    values["avg_isi"] = hero.train["mean_isi"] * 1e3
    values.update(_first_spike(rheobase.spikes, "long_square"))
    if not quiet:
        raise ProtocolError("no subthreshold long square")
    levels = np.array([deflections[r.sweep_number] for r in quiet])
    closest = quiet[int(np.argmin(np.abs(levels - SAG_TARGET_MV)))]
    values["sag"] = sags[closest.sweep_number]
    values["vm_for_sag"] = deflections[closest.sweep_number]
    low = _subthreshold_min_amp(sweeps)
    chosen = [s for s in sweeps if any(r.sweep_number == s.number for r in quiet)
              and low < _amplitude(results[s.number]) < 0]
    if not chosen:
        raise ProtocolError(f"no subthreshold long square between {low:g} and 0 pA")
    # A few sweeps (the subthreshold ones within the amplitude range): held together.
    loaded = [s.load() for s in chosen]
    max_fit_end = None
    if definitions.tau_quality_gates:
        max_fit_end = float(np.median([
            t[voltage_deflection(t, v, i, start, end, "min", rule)[1]] for t, v, i in loaded]))

    def fit(sweep: tuple[FloatArray, FloatArray, FloatArray]) -> float:
        return time_constant(*sweep, start, end, rule=rule, max_fit_end=max_fit_end,
                             quality_gates=definitions.tau_quality_gates)

    taus = pool.map(fit, loaded)
    values["ri"] = input_resistance(loaded, start, end, rule=rule)
    tau = float(np.nanmean(taus)) if not np.all(np.isnan(taus)) else float("nan")
    values["tau"] = tau * 1e3
    return values, results, (rheobase.sweep_number, hero.sweep_number)


def _hero(rheobase_amp: float, by_amp: list[SweepResult], definitions: Definitions
          ) -> SweepResult:
    low, high = rheobase_amp + HERO_MIN_OFFSET_PA, rheobase_amp + HERO_MAX_OFFSET_PA
    inside = [r for r in by_amp if low < _amplitude(r) < high]
    if inside:
        return inside[0]
    if not definitions.hero_fallback:
        raise ProtocolError(f"no spiking long square between {low:g} and {high:g} pA")
    return min(by_amp, key=lambda r: abs(low - _amplitude(r)))


def _amplitude(result: SweepResult) -> float:
    """The stimulus amplitude of a long or short square's result (every one is given it)."""
    if result.stimulus_amplitude is None:
        raise ProtocolError(f"sweep {result.sweep_number} has no stimulus amplitude")
    return result.stimulus_amplitude


def _subthreshold_min_amp(sweeps: list[_Sweep]) -> float:
    """-100 or -200 pA by the coarse long squares' amplitude step; -100 without them."""
    amps = sorted(s.amplitude for s in sweeps
                  if s.code.startswith(COARSE_LONG_SQUARE_CODE) and s.amplitude is not None)
    if not amps:
        return DEFAULT_SUBTHRESHOLD_MIN_AMP
    steps = np.round(np.diff(amps))
    steps = np.unique(steps[steps > 0])
    if steps.size == 0:
        raise ProtocolError("every coarse long square has the same amplitude")
    step = float(steps.min())
    if step not in SUBTHRESHOLD_MIN_AMP_BY_STEP:
        raise ProtocolError(f"unknown coarse long square amplitude step {step:g} pA")
    return SUBTHRESHOLD_MIN_AMP_BY_STEP[step]


# -- short squares and ramps ----------------------------------------------------------------


class _HeldDvdt:
    """Filtered dV/dt of sweeps kept from one pass over them to the next, up to a byte budget
    (filled by the threads in any order; a sweep not held is filtered again: the same bits)."""

    def __init__(self, budget: int) -> None:
        self._held: dict[int, FloatArray] = {}
        self._left = budget
        self._lock = Lock()

    def get(self, number: int) -> FloatArray | None:
        return self._held.get(number)

    def offer(self, number: int, dvdt: FloatArray) -> FloatArray:
        """``dvdt``, held if the budget has room for it."""
        with self._lock:
            if dvdt.nbytes <= self._left:
                self._held[number] = dvdt
                self._left -= dvdt.nbytes
        return dvdt


@feature_group(_first_spike_columns("short_square"), Level.CELL)
def _short_squares(sweeps: list[_Sweep], definitions: Definitions, problems: dict[int, str],
                   pool: SweepPool) -> tuple[dict[str, float | None], dict[int, SweepResult],
                                          tuple[()]]:
    rule = definitions.time_index
    onset, _ = _protocol_window(sweeps)
    # The window starts at time 0 of the time base (the amplitude is sought after it) and must
    # hold the estimate window after the onset.
    sweeps = _covering(sweeps, min(0.0, onset), onset + SHORT_SQUARE_ESTIMATE_WINDOW_S, rule,
                       "short-square", problems)
    # The detection parameters come from every sweep's dV/dt, and the detection uses them:
    # three passes over the sweeps. Each sweep is filtered once and its dV/dt held for the
    # later passes, up to HELD_DVDT_BYTES in all; beyond that a sweep is filtered again.
    params = definitions.spikes
    first, last = short_square_window(sweeps[0].time_points(), onset, definitions,
                                      SHORT_SQUARE_ESTIMATE_WINDOW_S)
    held = _HeldDvdt(HELD_DVDT_BYTES)

    def filtered(group: Sequence[_Sweep]
                 ) -> list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]]:
        loaded = [sweep.load() for sweep in group]
        dvdts = [held.get(sweep.number) for sweep in group]
        todo = [k for k, dvdt in enumerate(dvdts) if dvdt is None]
        for k, new in zip(todo, filtered_dvdts([loaded[k][:2] for k in todo],
                                               params.filter_hz), strict=True):
            dvdts[k] = held.offer(group[k].number, new)
        found = []
        for (t, v, i), dvdt in zip(loaded, dvdts, strict=True):
            assert dvdt is not None  # filtered above
            found.append((t, v, i, dvdt))
        return found

    groups = _groups(sweeps, pool)
    rises = pool.map(lambda group: [short_square_rise(dvdt, first, last)
                                    for *_, dvdt in filtered(group)], groups)
    dv_cutoff, min_thresh = short_square_cutoffs([rise for found in rises for rise in found])

    def upstrokes(group: Sequence[_Sweep]) -> list[float]:
        return [value for t, v, _, dvdt in filtered(group)
                for value in short_square_upstrokes(t, v, dvdt, params, dv_cutoff)]

    upstroke_values = [value for values in pool.map(upstrokes, groups) for value in values]
    thresh_frac = short_square_thresh_frac(min_thresh, upstroke_values)
    detection: SpikeDetection = replace(
        params, dv_cutoff=dv_cutoff,
        thresh_frac=max(SHORT_SQUARE_MIN_THRESH_FRAC, thresh_frac))

    def measure(sweep: _Sweep, t: FloatArray, v: FloatArray, i: FloatArray,
                dvdt: FloatArray) -> SweepResult:
        spikes = detect_spikes(t, v, i, definitions=definitions, detection=detection,
                               dvdt=dvdt)
        train = spike_train_features(spikes, t, float(t[0]), float(t[-1]), exclude_clipped=True)
        # The amplitude is the largest current after time 0 of the sweep's time base.
        amp = float(i[time_index(t, 0.0, rule) + 1:].max())
        return SweepResult(sweep.number, "short_square", float(t[0]), float(t[-1]), spikes,
                           train, amp)

    measured = pool.map(lambda group: [measure(sweep, *found) for sweep, found
                                        in zip(group, filtered(group), strict=True)], groups)
    results = {r.sweep_number: r for found in measured for r in found}
    spiking = [r for r in results.values() if r.train["avg_rate"] > 0]
    if not spiking:
        raise ProtocolError("no spiking short square")
    counts = Counter(_amplitude(r) for r in spiking).most_common()
    top = counts[0][1]
    common = min(amp for amp, count in counts if count == top)
    averaged = [r for r in spiking if _amplitude(r) == common] \
        if definitions.short_square_means_at_common_amplitude else list(results.values())
    values = _mean_first_spike([r.spikes for r in averaged], "short_square", definitions)
    values["threshold_i_short_square"] = common
    return values, results, ()


@feature_group(_first_spike_columns("ramp"), Level.CELL)
def _ramps(sweeps: list[_Sweep], definitions: Definitions, problems: dict[int, str],
           pool: SweepPool) -> tuple[dict[str, float | None], dict[int, SweepResult], tuple[()]]:
    if definitions.long_square_window_from_stimulus:
        start, _ = _protocol_window(sweeps)
    else:
        start = ALLEN2016_RAMP_START
    # A ramp's window runs to its last sample; the recording must at least reach the start.
    sweeps = _covering(sweeps, start, start, definitions.time_index, "ramp", problems)

    def measure(sweep: _Sweep, t: FloatArray, v: FloatArray, i: FloatArray,
                dvdts: tuple[FloatArray, FloatArray]) -> SweepResult:
        end = float(t[-1])
        spikes = detect_spikes(t, v, i, start=start, end=end, definitions=definitions,
                               dvdt=dvdts[0], window_dvdt=dvdts[1])
        return SweepResult(sweep.number, "ramp", start, end, spikes,
                           spike_train_features(spikes, t, start, end))

    results = {r.sweep_number: r for r in _measured(pool, sweeps, definitions,
                                                    lambda t: (start, float(t[-1])), measure)}
    values = _mean_first_spike([r.spikes for r in results.values()], "ramp", definitions)
    return values, results, ()


#: The protocols' analyses, in the order their columns and problems are merged.
_ANALYSES: tuple[tuple[str, _ProtocolAnalysis], ...] = (
    ("long_square", _long_squares), ("short_square", _short_squares), ("ramp", _ramps))


@feature_group(EPHYS_CELL_FLAGS, Level.CELL, kind=bool)
def _unset_flags() -> dict[str, float | bool | None]:
    """The published burst, pause and delay flags: the 2016+ definitions leave them empty."""
    return dict.fromkeys(EPHYS_CELL_FLAGS)


check_complete(Level.CELL)


# -- aggregation ----------------------------------------------------------------------------


def _first_spike(spikes: SpikeTable, protocol: str) -> dict[str, float | None]:
    return {f"{name}_{protocol}": float(spikes[name][0]) for name in FIRST_SPIKE_FEATURES}


def _mean_first_spike(tables: list[SpikeTable], protocol: str, definitions: Definitions
                      ) -> dict[str, float | None]:
    firsts = [t for t in tables if len(t)]
    # ipfx takes nanmean, AllenSDK mean (a NaN, e.g. a last spike's slow trough, gives NaN).
    return {f"{name}_{protocol}": _mean([float(t[name][0]) for t in firsts], definitions)
            for name in FIRST_SPIKE_FEATURES}


def _mean(values: list[float | None], definitions: Definitions) -> float:
    array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if array.size == 0:
        return float("nan")
    if definitions.nan_aware_means:
        return float(np.nanmean(array)) if not np.all(np.isnan(array)) else float("nan")
    return float(array.mean())


def _plain(values: Mapping[str, float | np.floating | bool | None]
           ) -> dict[str, float | bool | None]:
    """NaN becomes None, as in the published table; numpy floats become Python floats."""
    out: dict[str, float | bool | None] = {}
    for name, value in values.items():
        if isinstance(value, float | np.floating) and not np.isfinite(value):
            out[name] = None
        elif isinstance(value, np.floating):
            out[name] = float(value)
        else:
            out[name] = value
    return out


__all__ = ["CELL_FEATURES", "CELL_STIMULI", "CellFeatures", "ProtocolError", "SweepRecording",
           "SweepResult", "SweepSource", "cell_features", "time_base"]
