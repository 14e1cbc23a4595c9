"""Poisoning a copy of the synthetic snapshot: hostile files and records, served as real ones.

The replica serves what ``files.jsonl`` lists with the size and sha256 written there, so a
replaced file downloads as verified bytes: what it holds is up to the readers and converters.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ctmirror.replica.snapshot import Snapshot, StoredFile


def replace_file(snapshot: Path, key: tuple[str, int], data: bytes) -> None:
    """Serve ``data`` for one stored file, with a matching files.jsonl entry."""
    lines = (snapshot / "files.jsonl").read_text().splitlines()
    out = []
    for line in lines:
        entry = json.loads(line)
        if (entry["kind"], entry["id"]) == key:
            (snapshot / entry["relpath"]).write_bytes(data)
            entry["size"] = len(data)
            entry["sha256"] = hashlib.sha256(data).hexdigest()
        out.append(json.dumps(entry))
    (snapshot / "files.jsonl").write_text("\n".join(out) + "\n")


def pick(snapshot: Path, suffix: str, *, skip: int = 0, exclude: str = "") -> StoredFile:
    """The stored file with this suffix, in id order, after ``skip`` others."""
    files = sorted((f for f in Snapshot(snapshot).files() if f.relpath.endswith(suffix)
                    and not (exclude and exclude in f.relpath)), key=lambda f: f.id)
    return files[skip]


def edit_records(snapshot: Path, model: str,
                 edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
                 *, raw: Callable[[str], str] | None = None) -> None:
    """Rewrite one model's records; ``raw`` then edits the JSON text (for what ``json`` will
    not write, such as a lone surrogate escape)."""
    path = snapshot / "records" / f"{model}.jsonl"
    records = edit([json.loads(line) for line in path.read_text().splitlines()])
    text = "".join(json.dumps(r) + "\n" for r in records)
    path.write_text(raw(text) if raw else text)


def zip_with(members: dict[str, bytes | str], *, compression: int = zipfile.ZIP_STORED
             ) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return buffer.getvalue()


def zero_bomb(size: int) -> bytes:
    """A model package whose one member inflates to ``size`` zero bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("neuron_config.json", "w", force_zip64=True) as member:
            block = bytes(1 << 20)
            for _ in range(size // len(block)):
                member.write(block)
    return buffer.getvalue()


def nwb_reaching_the_host(original: Path, host_file: Path, how: str) -> bytes:
    """The NWB with its first sweep's samples taken from ``host_file`` on the reading machine:
    ``external`` raw storage, an ``external-link`` or a ``virtual`` dataset."""
    buffer = io.BytesIO(original.read_bytes())
    with h5py.File(buffer, "r+") as nwb:
        sweeps = sorted(n for n in nwb["acquisition/timeseries"] if n.startswith("Sweep_"))
        group = nwb["acquisition/timeseries"][sweeps[0]]
        old = group["data"]
        shape, dtype, attrs = old.shape, old.dtype, dict(old.attrs)
        del group["data"]
        if how == "external":
            size = int(np.prod(shape)) * dtype.itemsize
            group.create_dataset("data", shape=shape, dtype=dtype,
                                 external=[(str(host_file), 0, size)])
        elif how == "external-link":
            group["data"] = h5py.ExternalLink(str(host_file), "/data")
        elif how == "virtual":
            layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
            layout[:] = h5py.VirtualSource(str(host_file), "/data", shape=shape)
            group.create_virtual_dataset("data", layout)
        else:
            raise ValueError(how)
        if how == "external":
            for name, value in attrs.items():
                group["data"].attrs[name] = value
    return buffer.getvalue()


def host_hdf5(path: Path, shape: tuple[int, ...], dtype: np.dtype[Any], marker: float) -> None:
    """A local HDF5 file whose ``/data`` holds ``marker`` everywhere (for links and VDS)."""
    with h5py.File(path, "w") as out:
        out.create_dataset("data", data=np.full(shape, marker, dtype=dtype))
