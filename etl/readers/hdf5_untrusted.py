"""Open a downloaded HDF5 file only if it cannot reach the host through HDF5 itself.

HDF5 lets a file pull in other files when it is read: an external link opens another HDF5
file, a dataset with external raw storage reads its bytes from any file named in its creation
properties, a virtual dataset maps other files' datasets. A hostile NWB could so copy a host
file into the converted Parquet. Allen NWB files use none of these, so a file that does is
refused as a whole before anything is read from it. The check walks every link and every
dataset's creation properties (metadata only; no sample is read).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py

from ctmirror.errors import NwbError

_LOCAL_LINKS = frozenset({h5py.h5l.TYPE_HARD, h5py.h5l.TYPE_SOFT})


def open_untrusted_hdf5(path: Path, *, datasets: bool = True) -> h5py.File:
    """``path`` opened read-only, after checking that nothing in it reaches another file.

    Raises ``NwbError`` when HDF5 cannot open it or when it holds an external link, a
    user-defined link, a dataset with external raw storage or a virtual dataset. With
    ``datasets=False`` only the links are checked (opening every dataset of an NWB file costs
    more than reading the few a caller needs): the caller then passes each dataset it reads
    to ``checked_dataset`` first."""
    name = Path(path).name
    try:
        hdf5 = h5py.File(path, "r")
    except OSError as exc:
        raise NwbError(f"{name}: HDF5 does not open ({exc})") from None
    try:
        reason = host_reference(hdf5, datasets=datasets)
    except BaseException:
        hdf5.close()
        raise
    if reason is not None:
        hdf5.close()
        raise NwbError(f"{name}: {reason}; a downloaded file may not read other files, "
                       "so it is not converted")
    return hdf5


class HostReferenceError(NwbError):
    """A dataset that a caller was about to read would read another file."""


def checked_dataset(dataset: h5py.Dataset) -> h5py.Dataset:
    """``dataset``, unless reading it would read another file (``HostReferenceError``)."""
    checked_dataset_id(dataset.id)
    return dataset


def checked_dataset_id(dataset: h5py.h5d.DatasetID) -> None:
    """``checked_dataset`` of a low-level dataset."""
    reason = _dataset_reference(dataset)
    if reason is not None:
        file_name = h5py.h5f.get_name(dataset).decode("utf-8", errors="replace")
        raise HostReferenceError(f"{Path(file_name).name}: {reason}; a downloaded file may "
                                 "not read other files, so it is not read")


def _dataset_reference(dataset: h5py.h5d.DatasetID) -> str | None:
    plist = dataset.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        return f"dataset {_name(dataset)} is a virtual dataset"
    if plist.get_external_count() > 0:
        return f"dataset {_name(dataset)} stores its data in an external file"
    return None


def _name(dataset: h5py.h5d.DatasetID) -> str:
    return "/" + _text(h5py.h5i.get_name(dataset) or b"").lstrip("/")


def host_reference(hdf5: h5py.File, *, datasets: bool = True) -> str | None:
    """The first link or dataset by which ``hdf5`` reads another file, or None (only the
    links are looked at with ``datasets=False``)."""
    found: list[str] = []

    def on_link(name: bytes, info: Any) -> int | None:
        if info.type not in _LOCAL_LINKS:
            kind = "an external" if info.type == h5py.h5l.TYPE_EXTERNAL else "a user-defined"
            found.append(f"/{_text(name)} is {kind} link")
            return 1  # stop the visit
        return None

    def on_object(name: bytes, info: Any) -> int | None:
        if info.type != h5py.h5o.TYPE_DATASET:
            return None
        reason = _dataset_reference(h5py.h5d.open(hdf5.id, name))
        if reason is not None:
            found.append(reason)
        return 1 if found else None

    # Both visits follow hard links only: a link to another file is reported, never opened.
    hdf5.id.links.visit(on_link, info=True)
    if not found and datasets:
        h5py.h5o.visit(hdf5.id, on_object, info=True)
    return found[0] if found else None


def _text(name: bytes) -> str:
    return name.decode("utf-8", errors="replace")


__all__ = ["HostReferenceError", "checked_dataset", "checked_dataset_id", "host_reference",
           "open_untrusted_hdf5"]
