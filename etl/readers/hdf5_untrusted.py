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


def open_untrusted_hdf5(path: Path) -> h5py.File:
    """``path`` opened read-only, after checking that nothing in it reaches another file.

    Raises ``NwbError`` when HDF5 cannot open it or when it holds an external link, a
    user-defined link, a dataset with external raw storage or a virtual dataset."""
    name = Path(path).name
    try:
        hdf5 = h5py.File(path, "r")
    except OSError as exc:
        raise NwbError(f"{name}: HDF5 does not open ({exc})") from None
    try:
        reason = host_reference(hdf5)
    except BaseException:
        hdf5.close()
        raise
    if reason is not None:
        hdf5.close()
        raise NwbError(f"{name}: {reason}; a downloaded file may not read other files, "
                       "so it is not converted")
    return hdf5


def host_reference(hdf5: h5py.File) -> str | None:
    """The first link or dataset by which ``hdf5`` reads another file, or None."""
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
        plist = h5py.h5d.open(hdf5.id, name).get_create_plist()
        if plist.get_layout() == h5py.h5d.VIRTUAL:
            found.append(f"dataset /{_text(name)} is a virtual dataset")
        elif plist.get_external_count() > 0:
            found.append(f"dataset /{_text(name)} stores its data in an external file")
        return 1 if found else None

    # Both visits follow hard links only: a link to another file is reported, never opened.
    hdf5.id.links.visit(on_link, info=True)
    if not found:
        h5py.h5o.visit(hdf5.id, on_object, info=True)
    return found[0] if found else None


def _text(name: bytes) -> str:
    return name.decode("utf-8", errors="replace")


__all__ = ["host_reference", "open_untrusted_hdf5"]
