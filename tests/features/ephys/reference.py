"""The ipfx 2.1.2 reference spike tables (``tests/data/ephys``) and the traces they were made
from: the real traces stored beside them and the synthetic recordings of the test corpus."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

DATA = Path(__file__).parent.parent.parent / "data" / "ephys"
RATE = 200_000.0


@dataclass(frozen=True)
class Case:
    key: str
    t: np.ndarray
    v: np.ndarray
    i: np.ndarray | None
    start: float | None
    end: float | None
    expected: dict[str, np.ndarray]
    train: np.ndarray


def warn_if_changed(files: dict[str, Path], sha256: dict[str, str], script: str) -> None:
    """Warn when a corpus recording's bytes differ from the ones a reference was made from.

    Not an error: the synthetic recordings are rebuilt on each machine, and another numpy or
    HDF5 build can change the last bits of a file without changing its features. The tests'
    value comparisons decide; this says where to look when they fail.
    """
    for name, path in files.items():
        if hashlib.sha256(path.read_bytes()).hexdigest() != sha256[name]:
            warnings.warn(f"{name} differs from the recording the reference was made from; "
                          f"if the comparisons fail, regenerate with tests/data/ephys/{script}",
                          stacklevel=2)


def load_reference(reference: str = "ipfx") -> tuple[dict[str, object], dict[str, np.ndarray]]:
    stem = "spike_reference" if reference == "ipfx" else f"spike_reference_{reference}"
    meta = json.loads((DATA / f"{stem}.json").read_text())
    with np.load(DATA / f"{stem}.npz") as arrays:
        return meta, {name: arrays[name] for name in arrays.files}


def cases(snapshot: Path | None, reference: str = "ipfx") -> Iterator[Case]:
    """Every reference case (``ipfx`` or ``allensdk``); synthetic ones only when ``snapshot``
    (the test corpus) is given."""
    meta, arrays = load_reference(reference)
    nwb_files = {p.name: p for p in snapshot.rglob("*.nwb")} if snapshot else {}
    if snapshot is not None:
        warn_if_changed({name: nwb_files[name] for name in meta["nwb_sha256"]},  # type: ignore[union-attr]
                        meta["nwb_sha256"], "make_spike_reference.py")  # type: ignore[arg-type]
    traces: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for n, key in enumerate(meta["case_order"]):  # type: ignore[union-attr]
        info = meta["cases"][key]  # type: ignore[index]
        rows = arrays["case"] == n
        expected = {column: arrays[column][rows] for column in (*meta["columns"], "isi_type")}
        if "sweep" not in info:
            if info["file"] not in traces:
                traces[info["file"]] = np.loadtxt(DATA / info["file"], unpack=True)
            t, v = traces[info["file"]]
            yield Case(key, t, v, None, info["start"], info["end"], expected, arrays["train"][n])
        elif snapshot is not None:
            with h5py.File(nwb_files[info["file"]], "r") as nwb:
                v = nwb[f"acquisition/timeseries/{info['sweep']}/data"][()].astype(float) * 1e3
                i = nwb[f"stimulus/presentation/{info['sweep']}/data"][()].astype(float) * 1e12
            t = np.arange(v.size) / RATE
            yield Case(key, t, v, i, info["start"], info["end"], expected, arrays["train"][n])
