"""Current-clamp sweeps for the feature code, read from an NWB 1 file or from the mirror's
``sweeps`` Parquet file: v in mV and i in pA (stored values x conversion x unit scale)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow.parquet as pq

from etl.convert.nwb_sweeps import sweep_numbers, sweep_row
from etl.errors import NwbError
from etl.features.ephys.cell import SweepRecording

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
    to_mv = _TO_MV.get(str(row.get("response_unit")))
    to_pa = _TO_PA.get(str(row.get("stimulus_unit")))
    if to_mv is None or to_pa is None:
        raise ValueError(f"units {row.get('response_unit')!r}/{row.get('stimulus_unit')!r} "
                         "are not a voltage response to a current stimulus")
    v = np.asarray(row["response"], dtype=np.float64) * (row.get("response_conversion") or 1.0)
    i = np.asarray(row["stimulus"], dtype=np.float64) * (row.get("stimulus_conversion") or 1.0)
    return SweepRecording(
        sweep_number=int(row["sweep_number"]),
        stimulus_name=row.get("stimulus_name"),
        stimulus_code=row.get("stimulus_description"),
        stimulus_amplitude=row.get("stimulus_amplitude_pa"),
        sampling_rate=float(row.get("sampling_rate_hz") or 0.0),
        v=v * to_mv,
        i=i * to_pa,
    )


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


def recordings_from_nwb(path: Path, stimulus_names: Collection[str] | None = None
                        ) -> tuple[list[SweepRecording], dict[int, str]]:
    """Every current-clamp sweep of an Allen NWB 1 file, or only those whose stimulus name is
    in ``stimulus_names`` (the others' samples are then not read)."""
    try:
        nwb = h5py.File(path, "r")
    except OSError as exc:
        raise NwbError(f"{Path(path).name}: HDF5 does not open ({exc})") from None
    rows: list[dict[str, Any]] = []
    problems: dict[int, str] = {}
    with nwb:
        numbers = sweep_numbers(nwb)
        if not numbers:
            raise NwbError(f"{Path(path).name}: no sweeps (no Sweep_N under "
                           "/acquisition/timeseries)")
        for number in numbers:
            if stimulus_names is not None and _stimulus_name(nwb, number) not in stimulus_names:
                continue
            try:
                rows.append(sweep_row(nwb, number))
            except NwbError as exc:
                problems[number] = str(exc)
    found, more = recordings(rows)
    return found, {**problems, **more}


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

    rows = (row for group in range(parquet.num_row_groups) if wanted(group)
            for row in parquet.read_row_group(group, columns=list(_COLUMNS)).to_pylist()
            if stimulus_names is None or row["stimulus_name"] in stimulus_names)
    return recordings(rows)


def _stimulus_name(nwb: h5py.File, number: int) -> str | None:
    dataset = nwb.get(f"acquisition/timeseries/Sweep_{number}/aibs_stimulus_name")
    if not isinstance(dataset, h5py.Dataset):
        return None
    value = dataset[()]
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


__all__ = ["recording_from_row", "recordings", "recordings_from_nwb", "recordings_from_parquet"]
