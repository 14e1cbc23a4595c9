"""NWB 1 recordings into the sweeps dataset: exact samples, gathered metadata, one row group per
sweep, and unreadable input reported without leaving a file behind."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest

from ctmirror.convert.nwb_sweeps import convert_nwb_to_parquet
from ctmirror.errors import NwbError

RATE = 200_000.0


def _series(group: h5py.Group, data: np.ndarray, unit: str, kind: str, **scalars: object) -> None:
    group.attrs["ancestry"] = np.array([b"TimeSeries", b"PatchClampSeries", kind.encode()])
    group.attrs["neurodata_type"] = np.bytes_("TimeSeries")
    dset = group.create_dataset("data", data=data, chunks=True, compression="gzip")
    dset.attrs["conversion"] = np.float32(1.0)
    dset.attrs["unit"] = np.bytes_(unit)
    start = group.create_dataset("starting_time", data=np.float64(0.0))
    start.attrs["rate"] = np.float32(RATE)
    group.create_dataset("num_samples", data=np.int64(data.size))
    for name, value in scalars.items():
        group.create_dataset(name, data=np.bytes_(value) if isinstance(value, str) else value)


def _epoch(nwb: h5py.File, name: str, start: int, count: int) -> None:
    response = nwb.create_group(f"epochs/{name}/response")
    response.create_dataset("idx_start", data=np.int64(start))
    response.create_dataset("count", data=np.int64(count))


def _write_nwb(path: Path, sweeps: dict[int, dict[str, object]]) -> None:
    with h5py.File(path, "w") as nwb:
        for number, sweep in sweeps.items():
            name = f"Sweep_{number}"
            clamp = sweep.get("clamp", "CurrentClamp")
            units = ("Amps", "Volts") if clamp == "CurrentClamp" else ("Volts", "Amps")
            if sweep.get("stimulus") is not None:
                _series(nwb.create_group(f"stimulus/presentation/{name}"), sweep["stimulus"],
                        units[0], f"{clamp}StimulusSeries")
            _series(nwb.create_group(f"acquisition/timeseries/{name}"), sweep["response"],
                    units[1], f"{clamp}Series", aibs_stimulus_name=sweep.get("name", "Long Square"),
                    aibs_stimulus_description="C1LSCOARSE150216", aibs_stimulus_amplitude_pa=90.0,
                    gain=np.float32(20.0), seal=np.float32(np.nan))
            # A variable-length string, as h5py writes a Python str.
            nwb[f"acquisition/timeseries/{name}"].create_dataset("electrode_name",
                                                                 data="Electrode 1")
            n = sweep["response"].size
            _epoch(nwb, name, 0, n)
            _epoch(nwb, f"Experiment_{number}", 3000, n - 3000)
            if "spikes" in sweep:
                nwb.create_dataset(f"analysis/spike_times/{name}", data=sweep["spikes"])


def _square(n: int, onset: int, offset: int, amplitude: float) -> np.ndarray:
    stimulus = np.zeros(n, np.float32)
    stimulus[200:400] = 1e-11  # a test pulse before the experiment window
    stimulus[onset:offset] = amplitude
    return stimulus


@pytest.fixture
def recording(tmp_path: Path) -> tuple[Path, dict[int, dict[str, object]]]:
    rng = np.random.default_rng(3)
    n = 12_000
    sweeps = {
        3: {"stimulus": _square(n, 5000, 9000, 9e-11),
            "response": (rng.normal(-0.07, 0.002, n)).astype(np.float32),
            "spikes": np.array([0.0261, 0.0302])},
        7: {"stimulus": _square(n, 4000, 4100, 5e-10),
            "response": (rng.normal(-0.07, 0.002, n)).astype(np.float32), "name": "Short Square"},
        9: {"clamp": "VoltageClamp", "stimulus": _square(n, 6000, 7000, 0.01),
            "response": (rng.normal(0.0, 1e-11, n)).astype(np.float32), "name": "Test"},
    }
    path = tmp_path / "cell.nwb"
    _write_nwb(path, sweeps)
    return path, sweeps


def test_every_sweep_round_trips_exactly_with_its_metadata(
    recording: tuple[Path, dict[int, dict[str, object]]], tmp_path: Path
) -> None:
    path, sweeps = recording
    out = tmp_path / "out" / "nwb-11.parquet"
    result = convert_nwb_to_parquet(path, out, specimen_id=42, well_known_file_id=11)
    assert (result.rows, result.skipped) == (3, [])
    rows = {r["sweep_number"]: r for r in pq.read_table(out).to_pylist()}
    assert sorted(rows) == [3, 7, 9]
    for number, sweep in sweeps.items():
        row = rows[number]
        # Bit for bit: float32 in, float32 out.
        assert np.array_equal(np.asarray(row["response"], np.float32), sweep["response"])
        assert np.array_equal(np.asarray(row["stimulus"], np.float32), sweep["stimulus"])
        assert (row["specimen_id"], row["well_known_file_id"]) == (42, 11)
        assert row["sampling_rate_hz"] == RATE and row["num_samples"] == 12_000
        assert (row["sweep_start_index"], row["sweep_count"]) == (0, 12_000)
        assert (row["experiment_start_index"], row["experiment_count"]) == (3000, 9000)
    assert rows[3]["clamp_mode"] == "CurrentClamp" and rows[9]["clamp_mode"] == "VoltageClamp"
    assert (rows[3]["stimulus_unit"], rows[3]["response_unit"]) == ("Amps", "Volts")
    assert (rows[9]["stimulus_unit"], rows[9]["response_unit"]) == ("Volts", "Amps")
    # The stimulus window starts after the test pulse, inside the experiment window.
    assert (rows[3]["stimulus_start_index"], rows[3]["stimulus_end_index"]) == (5000, 8999)
    assert (rows[7]["stimulus_start_index"], rows[7]["stimulus_end_index"]) == (4000, 4099)
    assert rows[3]["spike_times_s"] == [0.0261, 0.0302] and rows[7]["spike_times_s"] is None
    assert rows[7]["stimulus_name"] == "Short Square"
    assert rows[3]["stimulus_amplitude_pa"] == 90.0
    assert json.loads(rows[3]["attributes"]) == {"electrode_name": "Electrode 1", "gain": 20.0,
                                                 "seal": None}


def test_one_row_group_per_sweep_so_one_sweep_is_read_alone(
    recording: tuple[Path, dict[int, dict[str, object]]], tmp_path: Path
) -> None:
    path, sweeps = recording
    out = tmp_path / "nwb-11.parquet"
    convert_nwb_to_parquet(path, out, specimen_id=42, well_known_file_id=11)
    meta = pq.ParquetFile(out).metadata
    assert meta.num_row_groups == 3
    column = meta.schema.names.index("sweep_number")
    bounds = [(meta.row_group(i).column(column).statistics.min,
               meta.row_group(i).column(column).statistics.max) for i in range(3)]
    assert bounds == [(3, 3), (7, 7), (9, 9)]  # min/max statistics let readers skip the rest
    [(response,)] = duckdb.sql(f"SELECT response FROM '{out}' WHERE sweep_number = 7").fetchall()
    assert np.array_equal(np.asarray(response, np.float32), sweeps[7]["response"])


def test_integer_samples_are_kept_exactly_and_inexact_ones_skip_only_their_sweep(
    tmp_path: Path
) -> None:
    n = 6000
    counts = np.arange(n, dtype=np.int16) - 3000
    sweeps = {
        1: {"stimulus": np.zeros(n, np.float32), "response": counts},
        2: {"stimulus": np.zeros(n, np.float32), "response": np.full(n, 0.1, np.float64)},
        3: {"stimulus": None, "response": np.ones(n, np.float32)},
    }
    path = tmp_path / "mixed.nwb"
    _write_nwb(path, sweeps)
    result = convert_nwb_to_parquet(path, tmp_path / "o.parquet", specimen_id=1,
                                    well_known_file_id=2)
    assert result.rows == 2
    [(number, reason)] = result.skipped
    assert number == 2 and "float64" in reason and "exactly" in reason
    rows = {r["sweep_number"]: r for r in pq.read_table(tmp_path / "o.parquet").to_pylist()}
    assert np.array_equal(np.asarray(rows[1]["response"]), counts.astype(np.float32))
    assert rows[3]["stimulus"] is None and rows[3]["stimulus_start_index"] is None


def test_truncated_file_is_an_error_and_leaves_no_output(
    recording: tuple[Path, dict[int, dict[str, object]]], tmp_path: Path
) -> None:
    path, _ = recording
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    out = tmp_path / "nwb-1.parquet"
    with pytest.raises(NwbError, match="HDF5 does not open"):
        convert_nwb_to_parquet(path, out, specimen_id=1, well_known_file_id=1)
    assert list(tmp_path.glob("*.parquet")) == [] and list(tmp_path.glob(".*tmp*")) == []


def test_file_without_sweeps_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.nwb"
    with h5py.File(path, "w") as nwb:
        nwb.create_group("acquisition/timeseries")
    with pytest.raises(NwbError, match="no sweeps"):
        convert_nwb_to_parquet(path, tmp_path / "o.parquet", specimen_id=1, well_known_file_id=1)


def test_failure_part_way_keeps_the_previous_output(
    recording: tuple[Path, dict[int, dict[str, object]]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = recording
    out = tmp_path / "nwb-1.parquet"
    convert_nwb_to_parquet(path, out, specimen_id=1, well_known_file_id=1)
    before = out.read_bytes()
    import ctmirror.convert.nwb_sweeps as module

    calls = {"n": 0}
    real = module.sweep_row

    def failing(nwb: h5py.File, number: int) -> dict[str, object]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk went away")
        return real(nwb, number)

    monkeypatch.setattr(module, "sweep_row", failing)
    with pytest.raises(OSError, match="disk went away"):
        convert_nwb_to_parquet(path, out, specimen_id=1, well_known_file_id=1)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.suffix != ".nwb"] == [out.name]
