"""An Allen NWB 1 recording into the ``sweeps`` dataset: one row (and one row group) per sweep.

Samples are copied exactly as stored (float32, with the series' ``conversion`` beside them), so
a sweep read back from Parquet equals the NWB dataset bit for bit. What the Allen layout spreads
over several groups is gathered into the sweep's row:

* ``/acquisition/timeseries/Sweep_N``: the response, its rate, units and scalar datasets;
* ``/stimulus/presentation/Sweep_N``: the stimulus;
* ``/epochs/Sweep_N`` and ``/epochs/Experiment_N``: the sweep and experiment windows
  (``idx_start``/``count`` of the response);
* ``/analysis/spike_times/Sweep_N``: the published spike times.

A sweep that cannot be read (no response, samples that float32 cannot hold exactly) is left
out with its reason; a file with no readable sweep is an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from ctmirror.convert.parquet_io import write_parquet_atomic
from ctmirror.errors import NwbError
from ctmirror.readers.hdf5_chunks import read_1d
from ctmirror.readers.hdf5_untrusted import open_untrusted_hdf5
from ctmirror.readers.nwb import (
    RESPONSES,
    STIMULI,
    scalar_datasets,
    scalar_number,
    series_header,
    sweep_numbers,
)
from ctmirror.schema.parquet import CONVERTER_VERSION, SWEEPS

SAMPLE_COLUMNS = ("stimulus", "response")
# Byte-stream-split lays each float's bytes out by significance, so zstd finds the stimulus's
# smooth or piecewise-constant waveforms (0.4x of the plain layout's bytes) and compresses the
# response's noisy low bytes at about 1.7 times the rate of the plain layout, for 25-37% more
# response bytes (measured on full-length corpus recordings: zstd level 1 writes a response
# sample in 13-15 ns instead of 22-24; 83 MB instead of 66 for 62 M samples whose NWB, gzip,
# holds 93 MB with the stimuli). Compressing the responses was most of a conversion's time,
# and the writer thread that does it is the one the conversion waits for (docs/scale.md).
SAMPLE_ELEMENTS = [f"{column}.list.element" for column in SAMPLE_COLUMNS]
# zstd level 1 writes the byte-split responses in 13 ns per sample against 23 at level 3, for 4%
# more bytes; the stimuli, nearly all zeros and steps, stay at the default level.
RESPONSE_LEVELS = {"response.list.element": 1}
# The writer builds a list column's repetition and definition levels one batch of values at a
# time; at Arrow's default of 1,024 values per batch that per-batch work is about a third of
# encoding a sweep of millions of samples (measured: 1.2 s vs 0.8 s CPU for 60 M samples
# uncompressed).
SAMPLE_WRITE_BATCH = 1 << 20
# Datasets of a series that have their own column (or are the samples themselves).
_COLUMN_DATASETS = frozenset({"data", "num_samples", "starting_time"})


@dataclass(frozen=True)
class SweepConversion:
    rows: int
    skipped: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Series:
    samples: NDArray[np.float32]
    unit: str | None
    conversion: float | None
    rate: float | None
    starting_time: float | None
    clamp_mode: str | None
    scalars: dict[str, Any]


def convert_nwb_to_parquet(nwb_path: Path, out: Path, *, specimen_id: int,
                           well_known_file_id: int) -> SweepConversion:
    """Write every readable sweep of ``nwb_path`` to ``out``; see the module doc."""
    skipped: list[tuple[int, str]] = []
    nwb = open_untrusted_hdf5(nwb_path)
    with nwb:
        numbers = sweep_numbers(nwb)
        if not numbers:
            raise NwbError(f"{Path(nwb_path).name}: no sweeps (no Sweep_N under /{RESPONSES}); "
                           "not an Allen NWB 1 recording")

        def row_groups() -> Iterator[pa.Table]:
            for number in numbers:
                try:
                    row = sweep_row(nwb, number)
                except NwbError as exc:
                    skipped.append((number, str(exc)))
                    continue
                yield _table(row, specimen_id=specimen_id,
                             well_known_file_id=well_known_file_id)

        rows = write_parquet_atomic(
            out, SWEEPS.schema, row_groups(),
            byte_stream_split=SAMPLE_ELEMENTS, compression_levels=RESPONSE_LEVELS,
            metadata={"ctmirror.converter_version": str(CONVERTER_VERSION),
                      "ctmirror.source": Path(nwb_path).name},
            write_batch_size=SAMPLE_WRITE_BATCH,
        )
    if rows == 0:
        out.unlink(missing_ok=True)
        reasons = "; ".join(f"sweep {n}: {r}" for n, r in skipped[:3])
        raise NwbError(f"{Path(nwb_path).name}: no readable sweeps ({reasons})")
    return SweepConversion(rows=rows, skipped=skipped)


def sweep_row(nwb: h5py.File, number: int) -> dict[str, Any]:
    """The ``sweeps`` columns of one sweep (without the file's ids)."""
    name = f"Sweep_{number}"
    response = _series(nwb, f"{RESPONSES}/{name}", with_scalars=True)
    if response is None:
        raise NwbError("no response series")
    stimulus = _series(nwb, f"{STIMULI}/{name}", with_scalars=False)
    sweep_start, sweep_count = _epoch(nwb, f"Sweep_{number}")
    experiment_start, experiment_count = _epoch(nwb, f"Experiment_{number}")
    onset, offset = (None, None) if stimulus is None else _stimulus_window(
        stimulus.samples, experiment_start or 0)
    spikes = nwb.get(f"analysis/spike_times/{name}")
    scalars = dict(response.scalars)
    amplitude = scalars.pop("aibs_stimulus_amplitude_pa", None)
    stimulus_name = scalars.pop("aibs_stimulus_name", None)
    description = scalars.pop("aibs_stimulus_description", None)
    return {
        "sweep_number": number,
        "clamp_mode": response.clamp_mode,
        "stimulus_name": None if stimulus_name is None else str(stimulus_name),
        "stimulus_description": None if description is None else str(description),
        "stimulus_amplitude_pa": amplitude if isinstance(amplitude, int | float) else None,
        "sampling_rate_hz": response.rate,
        "starting_time_s": response.starting_time,
        "num_samples": int(response.samples.size),
        "stimulus_unit": None if stimulus is None else stimulus.unit,
        "response_unit": response.unit,
        "stimulus_conversion": None if stimulus is None else stimulus.conversion,
        "response_conversion": response.conversion,
        "sweep_start_index": sweep_start,
        "sweep_count": sweep_count,
        "experiment_start_index": experiment_start,
        "experiment_count": experiment_count,
        "stimulus_start_index": onset,
        "stimulus_end_index": offset,
        "spike_times_s": None if not isinstance(spikes, h5py.Dataset)
        else np.asarray(spikes[()], dtype=np.float64).ravel(),
        "attributes": json.dumps(scalars, sort_keys=True),
        "stimulus": None if stimulus is None else stimulus.samples,
        "response": response.samples,
    }


def _series(nwb: h5py.File, path: str, *, with_scalars: bool) -> _Series | None:
    header = series_header(nwb, path)
    if header is None:
        return None
    samples = read_1d(header.data)
    if samples.dtype != np.float32:
        as_float32 = samples.astype(np.float32)
        # Lossless or nothing: int16 digitiser counts fit, float64 values usually do not.
        if not np.array_equal(as_float32.astype(samples.dtype), samples, equal_nan=True):
            raise NwbError(f"/{path}/data is {samples.dtype} and float32 cannot hold it exactly")
        samples = as_float32
    return _Series(
        samples=samples,
        unit=header.unit,
        conversion=header.conversion,
        rate=header.rate,
        starting_time=scalar_number(header.group.get("starting_time")),
        clamp_mode=header.clamp_mode,
        scalars=scalar_datasets(header.group, _COLUMN_DATASETS) if with_scalars else {},
    )


def _epoch(nwb: h5py.File, name: str) -> tuple[int | None, int | None]:
    response = nwb.get(f"epochs/{name}/response")
    if not isinstance(response, h5py.Group):
        return None, None
    start, count = scalar_number(response.get("idx_start")), scalar_number(response.get("count"))
    return (None if start is None else int(start)), (None if count is None else int(count))


def _stimulus_window(stimulus: NDArray[np.float32], search_from: int
                     ) -> tuple[int | None, int | None]:
    """First and last non-zero stimulus sample at or after ``search_from`` (the test pulse
    comes before the experiment window and is not the stimulus)."""
    active = stimulus[search_from:] != 0
    if not active.any():
        return None, None
    # argmax finds the first True without listing every non-zero sample (noise stimuli
    # have millions).
    last = active.size - 1 - int(np.argmax(active[::-1]))
    return search_from + int(np.argmax(active)), search_from + last


def _table(row: dict[str, Any], *, specimen_id: int, well_known_file_id: int) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    for field_ in SWEEPS.schema:
        if field_.name == "specimen_id":
            value: Any = specimen_id
        elif field_.name == "well_known_file_id":
            value = well_known_file_id
        else:
            value = row[field_.name]
        if field_.name in SAMPLE_COLUMNS or field_.name == "spike_times_s":
            columns[field_.name] = _list_array(value, field_.type)
        else:
            columns[field_.name] = pa.array([value], field_.type)
    return pa.table(columns, schema=SWEEPS.schema)


def _list_array(values: NDArray[Any] | None, type_: pa.ListType) -> pa.Array:
    """A one-row list column over ``values`` without copying the samples."""
    if values is None:
        return pa.nulls(1, type_)
    items = pa.array(values, type_.value_type)
    return pa.ListArray.from_arrays(pa.array([0, len(items)], pa.int32()), items, type=type_)


__all__ = ["SweepConversion", "convert_nwb_to_parquet", "sweep_row"]
