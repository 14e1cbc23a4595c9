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
    """The series at ``path`` without its samples; None when it or its ``data`` is missing.
    Read through h5py's low-level API: a feature run reads the headers of every sweep, and
    the high-level objects and attribute lookups cost several times the reads."""
    group_id = _open(nwb.id, path)
    if not isinstance(group_id, h5py.h5g.GroupID):
        return None
    data_id = _open(group_id, "data")
    if not isinstance(data_id, h5py.h5d.DatasetID):
        return None
    start_id = _open(group_id, "starting_time")
    ancestry = [_decode(a) for a in np.atleast_1d(_attribute(group_id, "ancestry", []))]
    kind = next((a for a in reversed(ancestry) if a.endswith("ClampSeries")), None)
    kind = kind or _decode(_attribute(group_id, "neurodata_type", ""))
    return SeriesHeader(
        group=h5py.Group(group_id),
        data=h5py.Dataset(data_id),
        unit=_attr_text(data_id, "unit"),
        conversion=_attr_float(data_id, "conversion"),
        rate=None if start_id is None else _attr_float(start_id, "rate"),
        clamp_mode=next((mode for mode in ("CurrentClamp", "VoltageClamp")
                         if kind.startswith(mode)), None),
    )


def _open(parent: Any, path: str) -> Any:
    """The object at ``path`` below the low-level ``parent`` (its ID), or None."""
    try:
        return h5py.h5o.open(parent, path.encode())
    except KeyError:
        return None


def _attribute(object_id: Any, name: str, default: Any = None) -> Any:
    """Attribute ``name`` of a low-level object as h5py's ``attrs.get`` gives it."""
    key = name.encode()
    if not h5py.h5a.exists(object_id, key):
        return default
    attribute = h5py.h5a.open(object_id, key)
    if attribute.dtype.kind == "O" or attribute.shape is None:
        # variable-length or empty values need h5py's conversions
        return h5py.AttributeManager(h5py.Group(object_id) if isinstance(
            object_id, h5py.h5g.GroupID) else h5py.Dataset(object_id)).get(name, default)
    value = np.empty(attribute.shape, dtype=attribute.dtype)
    attribute.read(value)
    return value[()] if value.ndim == 0 else value


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
        if isinstance(item, h5py.h5d.DatasetID) and item.shape == ():
            scalars[name] = scalar_of(item)
    return scalars


def scalar_of(dataset: h5py.h5d.DatasetID) -> Any:
    """A scalar dataset (its low-level ID) as a JSON value, as the ``attributes`` column holds
    it (text decoded, NaN null)."""
    if dataset.dtype.kind == "O":  # variable-length strings need h5py's conversion
        return _plain(h5py.Dataset(dataset)[()])
    value = np.empty((), dtype=dataset.dtype)
    dataset.read(h5py.h5s.ALL, h5py.h5s.ALL, value)
    return _plain(value[()])


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


def _attr_text(object_id: Any, name: str) -> str | None:
    value = _attribute(object_id, name)
    return None if value is None else _decode(np.asarray(value).ravel()[0]
                                              if np.ndim(value) else value)


def _attr_float(object_id: Any, name: str) -> float | None:
    value = _attribute(object_id, name)
    if value is None:
        return None
    number = float(np.asarray(value).ravel()[0])
    return number if math.isfinite(number) else None


__all__ = ["RESPONSES", "STIMULI", "SeriesHeader", "scalar_datasets", "scalar_number",
           "scalar_of", "series_header", "sweep_numbers"]
