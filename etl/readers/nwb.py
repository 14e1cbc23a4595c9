"""The Allen NWB 1 layout, read: where a recording's sweeps are and what describes them.

* ``/acquisition/timeseries/Sweep_N`` (:data:`RESPONSES`): the response series of sweep N, its
  rate, units and scalar datasets (``aibs_stimulus_name``, ``aibs_stimulus_amplitude_pa``, ...);
* ``/stimulus/presentation/Sweep_N`` (:data:`STIMULI`): the stimulus series.

A series is read as a :class:`SeriesHeader` (group, unread ``data`` dataset, unit, conversion,
rate and clamp mode); its samples are read by the caller (``hdf5_chunks``), so the converter
can copy them as stored and the feature reader can scale them in one pass.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

RESPONSES = "acquisition/timeseries"
STIMULI = "stimulus/presentation"
_SWEEP_NAME = re.compile(r"^Sweep_(\d+)$")


def sweep_numbers(nwb: h5py.File) -> list[int]:
    """Sweep numbers of the file's responses, in order."""
    group = nwb.get(RESPONSES)
    names = list(group) if isinstance(group, h5py.Group) else []
    return sorted(int(m.group(1)) for m in map(_SWEEP_NAME.match, names) if m)


@dataclass(frozen=True)
class SeriesHeader:
    """A series' group, its ``data`` dataset (not read) and what scales and places it."""

    group: h5py.Group
    data: h5py.Dataset
    unit: str | None
    conversion: float | None
    rate: float | None
    clamp_mode: str | None


def series_header(nwb: h5py.File, path: str) -> SeriesHeader | None:
    """The series at ``path`` without its samples; None when it or its ``data`` is missing."""
    group = nwb.get(path)
    if not isinstance(group, h5py.Group):
        return None
    data = group.get("data")
    if not isinstance(data, h5py.Dataset):
        return None
    start = group.get("starting_time")
    ancestry = [_decode(a) for a in np.atleast_1d(group.attrs.get("ancestry", []))]
    kind = next((a for a in reversed(ancestry) if a.endswith("ClampSeries")), None)
    kind = kind or _decode(group.attrs.get("neurodata_type", ""))
    return SeriesHeader(
        group=group,
        data=data,
        unit=_attr_text(data, "unit"),
        conversion=_attr_float(data, "conversion"),
        rate=None if start is None else _attr_float(start, "rate"),
        clamp_mode=next((mode for mode in ("CurrentClamp", "VoltageClamp")
                         if kind.startswith(mode)), None),
    )


def _decode(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def scalar_datasets(group: h5py.Group, skip: Collection[str] = ()) -> dict[str, Any]:
    """The group's scalar datasets (but those named in ``skip``) as JSON values. Read through
    h5py's low-level API: a series holds a dozen of them and the high-level objects cost more
    than the reads."""
    scalars: dict[str, Any] = {}
    for raw_name in group.id:
        name = raw_name.decode("utf-8", errors="replace")
        if name in skip:
            continue
        item = h5py.h5o.open(group.id, raw_name)
        if not isinstance(item, h5py.h5d.DatasetID) or item.shape != ():
            continue
        if item.dtype.kind == "O":  # variable-length strings need h5py's conversion
            scalars[name] = _plain(group[name][()])
            continue
        value = np.empty((), dtype=item.dtype)
        item.read(h5py.h5s.ALL, h5py.h5s.ALL, value)
        scalars[name] = _plain(value[()])
    return scalars


def scalar_value(group: h5py.Group, name: str) -> Any:
    """The scalar dataset ``name`` of ``group`` as a JSON value, as the ``attributes`` column
    holds it (text decoded, NaN null); None when there is no such scalar dataset."""
    item = group.get(name)
    if not isinstance(item, h5py.Dataset) or item.shape != ():
        return None
    return _plain(item[()])


def _plain(value: Any) -> Any:
    """A scalar value read from HDF5 as a JSON value; NaN becomes null."""
    if isinstance(value, bytes | np.bytes_):
        return _decode(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, str | int | float | bool) else str(value)


def scalar_number(dataset: Any) -> float | None:
    """A scalar (or one-element) dataset as a finite float; None otherwise."""
    if not isinstance(dataset, h5py.Dataset) or dataset.shape not in ((), (1,)):
        return None
    value = np.asarray(dataset[()]).ravel()[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _attr_text(obj: h5py.HLObject, name: str) -> str | None:
    value = obj.attrs.get(name)
    return None if value is None else _decode(np.asarray(value).ravel()[0]
                                              if np.ndim(value) else value)


def _attr_float(obj: h5py.HLObject, name: str) -> float | None:
    value = obj.attrs.get(name)
    if value is None:
        return None
    number = float(np.asarray(value).ravel()[0])
    return number if math.isfinite(number) else None


__all__ = ["RESPONSES", "STIMULI", "SeriesHeader", "scalar_datasets", "scalar_number",
           "scalar_value", "series_header", "sweep_numbers"]
