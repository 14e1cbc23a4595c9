"""Cell-level features against ipfx 2.1.2's cell records, and malformed sweeps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ctmirror.features.ephys import IPFX
from ctmirror.features.ephys.cell import CELL_FEATURES, SweepRecording, cell_features
from ctmirror.readers.ephys import recordings_from_nwb

from .reference import DATA, warn_if_changed


def _agrees(got: float | None, want: float | None) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return abs(got - want) <= 0.01 * abs(want) + 1e-9


def test_cell_features_agree_with_ipfx(synth_snapshot: Path) -> None:
    reference = json.loads((DATA / "cell_reference.json").read_text())
    files = {p.name: p for p in synth_snapshot.rglob("*.nwb")}
    warn_if_changed({name: files[name] for name in reference},
                    {name: entry["sha256"] for name, entry in reference.items()},
                    "make_cell_reference.py")
    pairs = agreeing = 0
    disagreements = []
    for name, entry in sorted(reference.items()):
        path = files[name]
        recordings, problems = recordings_from_nwb(path)
        assert problems == {}
        cell = cell_features(recordings, IPFX)
        record = entry["record"]
        assert cell.rheobase_sweep_number == record["rheobase_sweep_num"]
        assert cell.hero_sweep_number == record["thumbnail_sweep_num"]
        for feature in CELL_FEATURES:
            pairs += 1
            got, want = cell.values.get(feature), record.get(feature)
            if _agrees(got, want):
                agreeing += 1
            else:
                disagreements.append((name, feature, got, want))
    print(f"{agreeing} of {pairs} (cell, feature) pairs within 1% of ipfx 2.1.2")
    for row in disagreements:
        print("  differs:", *row)
    assert pairs == len(reference) * len(CELL_FEATURES) >= 100
    assert agreeing / pairs >= 0.95


def _sweep(number: int, v: np.ndarray, i: np.ndarray, name: str = "Long Square"
           ) -> SweepRecording:
    return SweepRecording(number, name, "C1LSCOARSE150216", 50.0, 200_000.0, v, i)


@pytest.mark.parametrize(("v", "i", "reason"), [
    (np.zeros(0), np.zeros(0), "empty sweep"),
    (np.full(1000, np.nan), np.ones(1000), "all NaN"),
    (np.r_[np.zeros(500), np.nan, np.zeros(499)], np.ones(1000), "NaN samples inside"),
    (np.zeros(1000), np.zeros(1000), "no stimulus"),
    (np.zeros(1000), np.ones(900), "stimulus has 900 samples, response 1000"),
    (np.zeros(0), np.ones(1000), "stimulus without response: 1000 stimulus samples"),
])
def test_malformed_sweeps_are_recorded_and_the_cell_goes_on(
    v: np.ndarray, i: np.ndarray, reason: str
) -> None:
    cell = cell_features([_sweep(7, v, i)], IPFX)
    assert reason in cell.sweep_problems[7]
    assert cell.protocol_problems["long_square"] == "no usable sweeps"
    assert "vrest" not in cell.values


def test_a_sweep_without_a_usable_sampling_rate_is_recorded() -> None:
    sweep = SweepRecording(7, "Long Square", "C1LSCOARSE150216", 50.0, 0.0, np.zeros(10),
                           np.ones(10))
    cell = cell_features([sweep], IPFX)
    assert cell.sweep_problems[7] == "no usable sampling rate (0.0)"


def test_a_sweep_shorter_than_the_protocol_window_is_left_out_and_the_others_analysed(
    synth_snapshot: Path,
) -> None:
    nwb = sorted(synth_snapshot.rglob("*.nwb"))[0]
    recordings, _ = recordings_from_nwb(nwb, {"Long Square"})
    whole = cell_features(recordings, IPFX)
    assert whole.values["vrest"] is not None and whole.sweep_problems == {}
    # The last long square's recording ends one sample after its stimulus does: the stimulus
    # is whole, but the protocol window (and the sample after it) is not in the recording.
    short = max(recordings, key=lambda r: r.sweep_number)
    end = int(np.flatnonzero(np.diff(short.i))[-1]) + 2
    cut = SweepRecording(short.sweep_number, short.stimulus_name, short.stimulus_code,
                         short.stimulus_amplitude, short.sampling_rate, short.v[:end],
                         short.i[:end])
    cell = cell_features([*(r for r in recordings if r is not short), cut], IPFX)
    assert "shorter than its window" in cell.sweep_problems[short.sweep_number]
    assert short.sweep_number not in cell.sweeps
    assert len(cell.sweeps) == len(whole.sweeps) - 1
    assert cell.values["vrest"] is not None


def test_a_cell_without_recognised_protocols_has_only_empty_columns() -> None:
    noise = SweepRecording(3, "Noise 1", "C1NSSEED_1", 10.0, 200_000.0, np.zeros(100),
                           np.ones(100))
    cell = cell_features([noise], IPFX)
    assert cell.sweep_problems == {}
    assert set(cell.protocol_problems) == {"long_square", "short_square", "ramp"}
    assert cell.values == {"has_burst": None, "has_pause": None, "has_delay": None}


def test_every_cell_column_is_registered_by_the_analysis_that_computes_it() -> None:
    from ctmirror.features.names import EPHYS_CELL_FLAGS
    from ctmirror.features.registry import Level, get, names

    assert names(Level.CELL) == [*CELL_FEATURES, *EPHYS_CELL_FLAGS]
    assert len(CELL_FEATURES) == 45 and CELL_FEATURES[:3] == ("vrest", "ri", "tau")
    assert CELL_FEATURES[-1] == "upstroke_downstroke_ratio_ramp"
    by_function = {name: get(name).func.__name__ for name in names(Level.CELL)}
    assert by_function["vrest"] == by_function["threshold_i_long_square"] == "_long_squares"
    assert by_function["threshold_i_short_square"] == "_short_squares"
    assert by_function["peak_v_ramp"] == "_ramps"
    assert get("has_burst").kind is bool and get("sag").kind is float


def test_the_recomputed_table_has_a_column_for_every_computed_feature() -> None:
    from ctmirror.features.names import EPHYS_CELL_FLAGS
    from ctmirror.schema.ephys_recomputed import (
        RECOMPUTED_FEATURES,
        RECOMPUTED_FLAGS,
        ephys_features_recomputed,
    )

    assert RECOMPUTED_FEATURES == CELL_FEATURES
    assert RECOMPUTED_FLAGS == EPHYS_CELL_FLAGS == ("has_burst", "has_pause", "has_delay")
    columns = list(ephys_features_recomputed.c.keys())
    assert columns[8:-1] == [*RECOMPUTED_FEATURES, *RECOMPUTED_FLAGS]
    assert columns[-1] == "sweep_problems"


def test_nwb_and_parquet_give_the_same_recordings_and_skip_other_stimuli(
    synth_snapshot: Path, tmp_path: Path
) -> None:
    from ctmirror.convert.nwb_sweeps import convert_nwb_to_parquet
    from ctmirror.features.ephys.cell import CELL_STIMULI
    from ctmirror.readers.ephys import recordings_from_parquet

    nwb = sorted(synth_snapshot.rglob("*.nwb"))[0]
    parquet = tmp_path / "sweeps.parquet"
    convert_nwb_to_parquet(nwb, parquet, specimen_id=1, well_known_file_id=2)
    every, _ = recordings_from_nwb(nwb)
    chosen, _ = recordings_from_nwb(nwb, CELL_STIMULI)
    from_parquet, _ = recordings_from_parquet(parquet, CELL_STIMULI)
    assert {r.stimulus_name for r in chosen} <= CELL_STIMULI
    assert len(every) > len(chosen) > 0
    assert [r.sweep_number for r in from_parquet] == [r.sweep_number for r in chosen]
    for a, b in zip(chosen, from_parquet, strict=True):
        assert np.array_equal(a.v, b.v) and np.array_equal(a.i, b.i)
        assert (a.stimulus_code, a.stimulus_amplitude, a.sampling_rate) == (
            b.stimulus_code, b.stimulus_amplitude, b.sampling_rate)


def test_allen2016_short_square_means_take_the_common_amplitude_sweeps(
    synth_snapshot: Path,
) -> None:
    """AllenSDK's extractor keeps only the sweeps at the most common spiking amplitude before
    averaging their first spikes; a mean over every spiking short square would differ."""
    from ctmirror.features.ephys import ALLEN2016

    checked = 0
    for nwb in sorted(synth_snapshot.rglob("*.nwb")):
        recordings, _ = recordings_from_nwb(nwb)
        cell = cell_features(recordings, ALLEN2016)
        common = cell.values.get("threshold_i_short_square")
        if common is None:
            continue
        firsts = {n: (r.stimulus_amplitude, float(r.spikes["threshold_v"][0]))
                  for n, r in cell.sweeps.items()
                  if r.protocol == "short_square" and len(r.spikes["threshold_v"])}
        at_common = [v for amp, v in firsts.values() if amp == common]
        assert at_common
        assert cell.values["threshold_v_short_square"] == pytest.approx(np.mean(at_common),
                                                                      rel=1e-12)
        checked += len(firsts) > len(at_common)
    assert checked  # some cell has spiking short squares at another amplitude


def test_threads_give_the_same_recordings_and_cell(synth_snapshot: Path) -> None:
    """Reading and measuring the sweeps on two threads changes no value."""
    from ctmirror.features.ephys import ALLEN2016

    nwb = sorted(synth_snapshot.rglob("*.nwb"))[0]
    one, one_problems = recordings_from_nwb(nwb)
    two, two_problems = recordings_from_nwb(nwb, threads=2)
    assert one_problems == two_problems
    assert [r.sweep_number for r in one] == [r.sweep_number for r in two]
    for a, b in zip(one, two, strict=True):
        assert np.array_equal(a.v, b.v) and np.array_equal(a.i, b.i)
    for definitions in (IPFX, ALLEN2016):
        single = cell_features(one, definitions)
        threaded = cell_features(two, definitions, threads=2)
        assert threaded.values == single.values
        assert (threaded.rheobase_sweep_number, threaded.hero_sweep_number, threaded.sweep_problems,
                threaded.protocol_problems) == (single.rheobase_sweep_number,
                                                single.hero_sweep_number, single.sweep_problems,
                                                single.protocol_problems)
        assert list(threaded.sweeps) == list(single.sweeps)
        for number, result in single.sweeps.items():
            other = threaded.sweeps[number]
            assert result.train == other.train or str(result.train) == str(other.train)
            for name in result.spikes:
                assert np.array_equal(result.spikes[name], other.spikes[name], equal_nan=True) \
                    if result.spikes[name].dtype.kind == "f" \
                    else np.array_equal(result.spikes[name], other.spikes[name])


def test_stored_sweeps_give_what_the_loaded_recordings_give(
    synth_snapshot: Path, tmp_path: Path
) -> None:
    """Sweeps left in their Parquet file and read one at a time give the recordings, problems,
    cell features and per-sweep results of the whole file read at once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ctmirror.convert.nwb_sweeps import convert_nwb_to_parquet
    from ctmirror.features.ephys import ALLEN2016
    from ctmirror.features.ephys.sweeps import sweep_results
    from ctmirror.readers.ephys import recordings_from_parquet, stored_sweeps_from_parquet

    nwb = sorted(synth_snapshot.rglob("*.nwb"))[0]
    converted = tmp_path / "converted.parquet"
    convert_nwb_to_parquet(nwb, converted, specimen_id=1, well_known_file_id=2)
    table = pq.read_table(converted)
    # One current-clamp sweep loses its stimulus: both readers must leave it out the same way.
    clamp = table.column("clamp_mode").to_pylist()
    without = next(k for k, mode in enumerate(clamp) if mode == "CurrentClamp")
    parquet = tmp_path / "sweeps.parquet"
    with pq.ParquetWriter(parquet, table.schema) as writer:
        for k in range(table.num_rows):
            row = table.slice(k, 1)
            if k == without:
                field = row.schema.get_field_index("stimulus")
                row = row.set_column(field, row.schema.field(field),
                                     pa.array([None], type=row.schema.field(field).type))
            writer.write_table(row)

    loaded, loaded_problems = recordings_from_parquet(parquet)
    stored, stored_problems = stored_sweeps_from_parquet(parquet)
    number = table.column("sweep_number")[without].as_py()
    assert stored_problems == loaded_problems == {number: "no stimulus series"}
    assert [s.sweep_number for s in stored] == [r.sweep_number for r in loaded]
    for a, b in zip(loaded, stored, strict=True):
        v, i = b.samples()
        assert v.dtype == i.dtype == np.float64
        assert np.array_equal(a.v, v) and np.array_equal(a.i, i)
        assert (a.stimulus_name, a.stimulus_code, a.stimulus_amplitude, a.sampling_rate) == (
            b.stimulus_name, b.stimulus_code, b.stimulus_amplitude, b.sampling_rate)
    for definitions in (IPFX, ALLEN2016):
        whole, streamed = cell_features(loaded, definitions), cell_features(stored, definitions)
        assert streamed.values == whole.values
        assert (streamed.rheobase_sweep_number, streamed.hero_sweep_number,
                streamed.sweep_problems, streamed.protocol_problems) == (
            whole.rheobase_sweep_number, whole.hero_sweep_number, whole.sweep_problems,
            whole.protocol_problems)
        assert whole.rheobase_sweep_number is not None
        spikes_whole, rows_whole = sweep_results(loaded, definitions)
        spikes_streamed, rows_streamed = sweep_results(stored, definitions)
        assert str(rows_streamed) == str(rows_whole) and len(rows_whole) == len(loaded)
        assert spikes_streamed.keys() == spikes_whole.keys()
        for sweep, spikes in spikes_whole.items():
            for name in spikes:
                column = spikes[name]
                assert np.array_equal(column, spikes_streamed[sweep][name],
                                      equal_nan=column.dtype.kind == "f")


def test_the_sweep_scan_is_the_numpy_definition() -> None:
    from ctmirror.features.ephys.cell import _scan

    rng = np.random.default_rng(5)
    sweeps = [np.linspace(0.0, 100.0, 1_000)]  # a ramp: a change at every sample
    for _ in range(2_000):
        size = int(rng.integers(0, 40))
        steps = np.repeat(rng.choice([0.0, 50.0], size=size // 4 + 1), 4)[:size]
        noisy = rng.choice([0.0, 0.0, 2.0, np.nan], size=size, p=[0.4, 0.3, 0.2, 0.1])
        sweeps.append(steps if rng.random() < 0.5 else noisy)
    for i in sweeps:
        v = np.where(rng.random(i.size) < 0.1, np.nan, 1.0)
        if i.size and rng.random() < 0.3:
            v[-int(rng.integers(1, i.size + 1)):] = np.nan
        end, nan_inside, stimulus_nan, stimulus_zero, changes = _scan(v, i)
        recorded = np.flatnonzero(~np.isnan(v))
        assert end == (recorded[-1] + 1 if recorded.size else 0)
        assert nan_inside == int(np.isnan(v[:end]).sum())
        assert stimulus_nan == bool(np.isnan(i[:end]).any())
        if not stimulus_nan:
            assert stimulus_zero == bool((i[:end] == 0.0).all())
        every = np.flatnonzero(np.diff(i[:end]))
        kept = every if every.size <= 5 else np.r_[every[:4], every[-1]]
        assert np.array_equal(changes, kept)
