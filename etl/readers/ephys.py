"""Current-clamp sweeps for the feature code, read from an NWB 1 file or from the mirror's
``sweeps`` Parquet file: v in mV and i in pA (stored values x conversion x unit scale)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from ctmirror.errors import NwbError
from ctmirror.features.ephys.cell import SweepRecording
from ctmirror.readers.hdf5_chunks import ScaledReads, scaled_float64
from ctmirror.readers.hdf5_untrusted import (
    HostReferenceError,
    checked_dataset,
    checked_dataset_id,
    open_untrusted_hdf5,
)
from ctmirror.readers.nwb import (
    RESPONSES,
    STIMULI,
    SeriesHeader,
    scalar_of,
    series_header,
    sweep_numbers,
)

#: Scale from the stored unit to mV (response) and pA (stimulus).
_TO_MV = {"Volts": 1e3, "V": 1e3, "volts": 1e3, "mV": 1.0}
_TO_PA = {"Amps": 1e12, "A": 1e12, "amps": 1e12, "pA": 1.0}
_COLUMNS = ("sweep_number", "clamp_mode", "stimulus_name", "stimulus_description",
            "stimulus_amplitude_pa", "sampling_rate_hz", "stimulus_unit", "response_unit",
            "stimulus_conversion", "response_conversion", "stimulus", "response")


def recording_from_row(row: Mapping[str, Any]) -> SweepRecording | None:
    """A current-clamp ``sweeps`` row as a recording; None for voltage clamp. Raises
    ``ValueError`` naming what is missing (the caller records it against the sweep)."""
    if row.get("clamp_mode") != "CurrentClamp":
        return None
    if row.get("stimulus") is None:
        raise ValueError("no stimulus series")
    to_mv, to_pa = _unit_scales(row.get("response_unit"), row.get("stimulus_unit"))
    return SweepRecording(
        sweep_number=int(row["sweep_number"]),
        stimulus_name=row.get("stimulus_name"),
        stimulus_code=row.get("stimulus_description"),
        stimulus_amplitude=row.get("stimulus_amplitude_pa"),
        sampling_rate=float(row.get("sampling_rate_hz") or 0.0),
        v=_scaled(row["response"], row.get("response_conversion") or 1.0, to_mv),
        i=_scaled(row["stimulus"], row.get("stimulus_conversion") or 1.0, to_pa),
    )


def _unit_scales(response_unit: Any, stimulus_unit: Any) -> tuple[float, float]:
    """The factors to mV and to pA; ``ValueError`` unless the units are a voltage response to
    a current stimulus."""
    to_mv, to_pa = _TO_MV.get(str(response_unit)), _TO_PA.get(str(stimulus_unit))
    if to_mv is None or to_pa is None:
        raise ValueError(f"units {response_unit!r}/{stimulus_unit!r} are not a voltage "
                         "response to a current stimulus")
    return to_mv, to_pa


def _scaled(stored: Any, conversion: float, unit_scale: float) -> NDArray[np.float64]:
    """stored x conversion x unit scale in float64, in that order (as the references compute
    it, so the values are the same to the last bit), in one pass into one new array."""
    return scaled_float64(stored, conversion, unit_scale)


def recordings(rows: Iterable[Mapping[str, Any]]) -> tuple[list[SweepRecording],
                                                            dict[int, str]]:
    """Current-clamp recordings of ``rows`` and, by sweep number, why others were left out."""
    found: list[SweepRecording] = []
    problems: dict[int, str] = {}
    for row in rows:
        try:
            recording = recording_from_row(row)
        except ValueError as exc:
            problems[int(row["sweep_number"])] = str(exc)
            continue
        if recording is not None:
            found.append(recording)
    return found, problems


def recordings_from_nwb(path: Path, stimulus_names: Collection[str] | None = None,
                        threads: int = 1) -> tuple[list[SweepRecording], dict[int, str]]:
    """Every current-clamp sweep of an Allen NWB 1 file, or only those whose stimulus name is
    in ``stimulus_names`` (the others' samples are then not read). The same recordings as the
    file's ``sweeps`` Parquet gives (``recordings_from_parquet``), read without the columns the
    features do not use and scaled to float64 while they are inflated, the sweeps on up to
    ``threads`` threads at once; a sweep whose samples float32 cannot hold, which the
    conversion leaves out, is read here at its own precision."""
    # Every dataset read below goes through ``checked_dataset``.
    nwb = open_untrusted_hdf5(path, datasets=False)
    pending: list[SweepRecording] = []
    problems: dict[int, str] = {}
    # The samples of a sweep are inflated while HDF5 is asked about the next sweeps.
    with nwb, ScaledReads(nwb, threads) as reads:
        numbers = sweep_numbers(nwb)
        if not numbers:
            raise NwbError(f"{Path(path).name}: no sweeps (no Sweep_N under "
                           "/acquisition/timeseries)")
        for number in numbers:
            name = _scalar_text(nwb, f"{RESPONSES}/Sweep_{number}/aibs_stimulus_name")
            if stimulus_names is not None and name not in stimulus_names:
                continue
            try:
                sweep = _nwb_sweep(nwb, number, name)
            except HostReferenceError:
                raise  # the whole file is refused
            except (NwbError, ValueError) as exc:
                problems[number] = str(exc)
                continue
            if sweep is None:
                continue
            recording, response, stimulus, to_mv, to_pa = sweep
            pending.append(recording)
            reads.submit(response.data, (response.conversion or 1.0, to_mv))
            reads.submit(stimulus.data, (stimulus.conversion or 1.0, to_pa))
        samples = reads.results()
    found = [replace(recording, v=samples[2 * k], i=samples[2 * k + 1])
             for k, recording in enumerate(pending)]
    return found, problems


_NOT_READ = np.empty(0)


def _nwb_sweep(nwb: h5py.File, number: int, stimulus_name: str | None
               ) -> tuple[SweepRecording, SeriesHeader, SeriesHeader, float, float] | None:
    """``recording_from_row(sweep_row(nwb, number))`` without reading what it does not use:
    the recording without its samples, the response and stimulus series to read them from,
    and their unit scales; None for voltage clamp."""
    response = series_header(nwb, f"{RESPONSES}/Sweep_{number}")
    if response is None:
        raise NwbError("no response series")
    if response.clamp_mode != "CurrentClamp":
        return None
    stimulus = series_header(nwb, f"{STIMULI}/Sweep_{number}")
    if stimulus is None:
        raise ValueError("no stimulus series")
    to_mv, to_pa = _unit_scales(response.unit, stimulus.unit)
    checked_dataset(response.data)
    checked_dataset(stimulus.data)
    amplitude = _checked_scalar(response.group, "aibs_stimulus_amplitude_pa")
    recording = SweepRecording(
        sweep_number=number,
        stimulus_name=stimulus_name,
        stimulus_code=_scalar_text(response.group, "aibs_stimulus_description"),
        stimulus_amplitude=float(amplitude) if isinstance(amplitude, int | float) else None,
        sampling_rate=float(response.rate or 0.0),
        v=_NOT_READ,
        i=_NOT_READ,
    )
    return recording, response, stimulus, to_mv, to_pa


def _scalar_text(group: h5py.Group, name: str) -> str | None:
    value = _checked_scalar(group, name)
    return None if value is None else str(value)


def _checked_scalar(group: h5py.Group, path: str) -> Any:
    """The scalar dataset at ``path`` below ``group`` as a JSON value (``scalar_of``), None
    when there is none; ``HostReferenceError`` when it would read another file."""
    try:
        item = h5py.h5o.open(group.id, path.encode())
    except KeyError:
        return None
    if not isinstance(item, h5py.h5d.DatasetID):
        return None
    checked_dataset_id(item)
    return scalar_of(item) if item.shape == () else None


def recordings_from_parquet(path: Path, stimulus_names: Collection[str] | None = None
                            ) -> tuple[list[SweepRecording], dict[int, str]]:
    """Every current-clamp sweep of a ``sweeps`` Parquet file (one row group at a time), or
    only those whose stimulus name is in ``stimulus_names`` (others are not decoded)."""
    parquet = pq.ParquetFile(path)
    name_column = parquet.schema_arrow.get_field_index("stimulus_name")

    def wanted(group: int) -> bool:
        if stimulus_names is None:
            return True
        stats = parquet.metadata.row_group(group).column(name_column).statistics
        # One sweep per row group: its min and max are the sweep's stimulus name.
        return stats is None or not stats.has_min_max or stats.min in stimulus_names

    groups = [group for group in range(parquet.num_row_groups) if wanted(group)]
    # One call for all row groups: pyarrow decodes them on its thread pool.
    table = parquet.read_row_groups(groups, columns=list(_COLUMNS), use_threads=True)
    rows = (row for row in _rows(table)
            if stimulus_names is None or row["stimulus_name"] in stimulus_names)
    return recordings(rows)


#: A sample column scaled to at least this many bytes hands Arrow's cached memory back after
#: its read. Decoding a list column takes nearly four times its float32 bytes (repetition and
#: definition levels, pages, values: 100 MiB of Arrow's pool for a 7 M-sample sweep), which
#: the pool would keep through the measurement or model run that follows, at a worker's peak.
#: Smaller reads keep the cache for the next: a release after each costs more time (a cell's
#: CPU +25%) than it saves memory.
RELEASE_AFTER_BYTES = 16 * 2**20


def _stored_samples(parquet: pq.ParquetFile, group: int, row: int, name: str
                    ) -> NDArray[np.float32]:
    """One row's sample column as stored (a view of Arrow's buffer)."""
    # One row group on this thread: Arrow's thread pool would only add its overhead.
    table = parquet.read_row_group(group, columns=[name], use_threads=False)
    samples: NDArray[np.float32] = next(_rows(table.slice(row, 1)))[name]
    return samples


def _scaled_samples(parquet: pq.ParquetFile, group: int, row: int, name: str,
                    *factors: float) -> NDArray[np.float64]:
    """One row's sample column in float64, each value times the factors in turn."""
    # The stored view (and with it Arrow's buffers) is let go before the pool is released.
    scaled = scaled_float64(_stored_samples(parquet, group, row, name), *factors)
    if scaled.nbytes >= RELEASE_AFTER_BYTES:
        pa.default_memory_pool().release_unused()
    return scaled


@dataclass(frozen=True)
class StoredSweep:
    """A current-clamp sweep of a ``sweeps`` Parquet file whose samples stay in the file: each
    ``samples()`` reads its row and scales them as ``recording_from_row`` does (the same
    values), so a cell's sweeps can be measured one at a time in bounded memory."""

    sweep_number: int
    stimulus_name: str | None
    stimulus_code: str | None
    stimulus_amplitude: float | None
    sampling_rate: float
    path: Path
    row_group: int
    row: int  # within the row group
    to_mv: tuple[float, float]
    to_pa: tuple[float, float]

    def samples(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """v in mV and i in pA, in float64."""
        parquet = pq.ParquetFile(self.path)
        # One column at a time: its decoded float32 is let go before the next is read.
        v = _scaled_samples(parquet, self.row_group, self.row, "response", *self.to_mv)
        return v, _scaled_samples(parquet, self.row_group, self.row, "stimulus", *self.to_pa)


def stored_sweeps_from_parquet(path: Path) -> tuple[list[StoredSweep], dict[int, str]]:
    """``recordings_from_parquet(path)`` without reading the samples: every current-clamp
    sweep as a ``StoredSweep`` and, by sweep number, why others were left out."""
    parquet = pq.ParquetFile(path)
    scalars = [c for c in _COLUMNS if c not in _SAMPLE_COLUMNS]
    table = parquet.read(columns=scalars)
    found: list[StoredSweep] = []
    problems: dict[int, str] = {}
    for (group, index), row in zip(_places(parquet), table.to_pylist(), strict=True):
        if row.get("clamp_mode") != "CurrentClamp":
            continue
        try:
            if _stimulus_is_null(parquet, group, index):
                raise ValueError("no stimulus series")
            to_mv, to_pa = _unit_scales(row.get("response_unit"), row.get("stimulus_unit"))
        except ValueError as exc:
            problems[int(row["sweep_number"])] = str(exc)
            continue
        found.append(StoredSweep(
            sweep_number=int(row["sweep_number"]),
            stimulus_name=row.get("stimulus_name"),
            stimulus_code=row.get("stimulus_description"),
            stimulus_amplitude=row.get("stimulus_amplitude_pa"),
            sampling_rate=float(row.get("sampling_rate_hz") or 0.0),
            path=Path(path), row_group=group, row=index,
            to_mv=(row.get("response_conversion") or 1.0, to_mv),
            to_pa=(row.get("stimulus_conversion") or 1.0, to_pa)))
    return found, problems


def _places(parquet: pq.ParquetFile) -> list[tuple[int, int]]:
    """(row group, row within it) of every row of the file, in file order."""
    return [(group, row) for group in range(parquet.num_row_groups)
            for row in range(parquet.metadata.row_group(group).num_rows)]


def _stimulus_is_null(parquet: pq.ParquetFile, group: int, row: int) -> bool:
    """Whether the row's stimulus is null, from the row group's metadata when it tells (the
    conversion writes one sweep per row group), else from the column."""
    chunks = parquet.metadata.row_group(group)
    for k in range(chunks.num_columns):
        if chunks.num_rows == 1 and chunks.column(k).path_in_schema.startswith("stimulus."):
            # A null (or empty) list is one level of the leaf; a stimulus is many values.
            if chunks.column(k).num_values > 1:
                return False
    stimulus = parquet.read_row_group(group, columns=["stimulus"]).column(0)
    return not stimulus[row].is_valid


_SAMPLE_COLUMNS = ("stimulus", "response")


def _rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    """The table's rows as dicts, the sample lists as numpy views of the Arrow buffers (a
    Python list of millions of floats would cost seconds per sweep)."""
    scalars = table.drop_columns([c for c in _SAMPLE_COLUMNS if c in table.column_names])
    samples = {name: table.column(name).combine_chunks() for name in _SAMPLE_COLUMNS
               if name in table.column_names}
    for index, row in enumerate(scalars.to_pylist()):
        for name, column in samples.items():
            row[name] = None if column[index].values is None \
                else column[index].values.to_numpy(zero_copy_only=False)
        yield row


@dataclass(frozen=True)
class StimulusSweep:
    """A current-clamp sweep's injected current and its published spike times, for driving a
    model. The samples stay in the ``sweeps`` Parquet file until ``stimulus()`` reads them (a
    cell's stimuli together do not fit a worker's memory): as stored, ``stimulus_a()`` in A
    (stored x ``to_amps``), sample 0 at the sweep start."""

    sweep_number: int
    stimulus_name: str | None
    sampling_rate: float
    to_amps: float
    #: ``analysis/spike_times`` of the sweep in s from its start; None when the file has none.
    spike_times_s: NDArray[np.float64] | None
    path: Path
    row_group: int
    row: int  # within the row group
    #: The file's footer, shared by its sweeps so that each read does not parse it again.
    metadata: pq.FileMetaData | None = field(default=None, compare=False, repr=False)

    def stimulus(self) -> NDArray[np.float32]:
        """The stimulus samples as stored."""
        return _stored_samples(pq.ParquetFile(self.path, metadata=self.metadata),
                               self.row_group, self.row, "stimulus")

    def stimulus_a(self) -> NDArray[np.float64]:
        """The injected current in A, in float64."""
        return _scaled_samples(pq.ParquetFile(self.path, metadata=self.metadata),
                               self.row_group, self.row, "stimulus", self.to_amps)


#: Scale from the stored stimulus unit to A.
_TO_A = {"Amps": 1.0, "A": 1.0, "amps": 1.0, "pA": 1e-12}
_STIMULUS_SCALARS = ("sweep_number", "clamp_mode", "stimulus_name", "sampling_rate_hz",
                     "stimulus_unit", "stimulus_conversion", "spike_times_s")


def stimulus_sweeps_from_parquet(path: Path) -> tuple[list[StimulusSweep], dict[int, str]]:
    """Every current-clamp sweep of a ``sweeps`` Parquet file, its stimulus left in the file
    (responses are not read), and, by sweep number, why other current-clamp sweeps were left
    out."""
    parquet = pq.ParquetFile(path)
    table = parquet.read(columns=list(_STIMULUS_SCALARS))
    found: list[StimulusSweep] = []
    problems: dict[int, str] = {}
    for (group, index), row in zip(_places(parquet), table.to_pylist(), strict=True):
        if row["clamp_mode"] != "CurrentClamp":
            continue
        number = int(row["sweep_number"])
        to_amps = _TO_A.get(str(row["stimulus_unit"]))
        rate = row["sampling_rate_hz"]
        if _stimulus_is_null(parquet, group, index):
            problems[number] = "no stimulus series"
        elif to_amps is None:
            problems[number] = f"stimulus unit {row['stimulus_unit']!r} is not a current"
        elif not rate or not rate > 0:
            problems[number] = f"sampling rate {rate!r} is not positive"
        else:
            spikes = row["spike_times_s"]
            found.append(StimulusSweep(
                sweep_number=number,
                stimulus_name=row["stimulus_name"],
                sampling_rate=float(rate),
                to_amps=to_amps * (row["stimulus_conversion"] or 1.0),
                spike_times_s=None if spikes is None else np.asarray(spikes, dtype=np.float64),
                path=Path(path), row_group=group, row=index, metadata=parquet.metadata,
            ))
    return found, problems
