"""A downloaded NWB never reads another file: external raw storage, external links and virtual
datasets pointing at host files make the file a conversion error, and the host bytes reach no
output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from ctmirror.convert.nwb_sweeps import convert_nwb_to_parquet
from ctmirror.errors import NwbError
from ctmirror.readers.ephys import recordings_from_nwb
from ctmirror.readers.hdf5_untrusted import host_reference
from tests.convert.test_nwb_sweeps import _square, _write_nwb

N = 12_000
#: The host file's bytes, read as float32 samples if a reader followed the reference.
SECRET = np.full(N, 1234.5, dtype=np.float32)

DATA = "acquisition/timeseries/Sweep_5/data"


def _external_storage(nwb: h5py.File, host: Path, other: Path) -> None:
    attrs = dict(nwb[DATA].attrs)
    del nwb[DATA]
    dset = nwb.create_dataset(DATA, shape=(N,), dtype=np.float32,
                              external=[(str(host), 0, SECRET.nbytes)])
    dset.attrs.update(attrs)


def _external_link(nwb: h5py.File, host: Path, other: Path) -> None:
    with h5py.File(other, "w") as target:
        target.create_dataset("secret", data=SECRET)
    del nwb[DATA]
    nwb[DATA] = h5py.ExternalLink(str(other), "/secret")


def _virtual_dataset(nwb: h5py.File, host: Path, other: Path) -> None:
    with h5py.File(other, "w") as target:
        target.create_dataset("secret", data=SECRET)
    attrs = dict(nwb[DATA].attrs)
    del nwb[DATA]
    layout = h5py.VirtualLayout(shape=(N,), dtype=np.float32)
    layout[:] = h5py.VirtualSource(str(other), "secret", shape=(N,))
    nwb.create_virtual_dataset(DATA, layout).attrs.update(attrs)


HOSTILE: dict[str, Callable[[h5py.File, Path, Path], None]] = {
    "external raw storage": _external_storage,
    "external link": _external_link,
    "virtual dataset": _virtual_dataset,
}


def _hostile_nwb(tmp_path: Path, make: Callable[[h5py.File, Path, Path], None]) -> Path:
    host = tmp_path / "host.bin"
    host.write_bytes(SECRET.tobytes())
    rng = np.random.default_rng(5)
    path = tmp_path / "hostile.nwb"
    _write_nwb(path, {
        number: {"stimulus": _square(N, 5000, 9000, 9e-11),
                 "response": rng.normal(-0.07, 0.002, N).astype(np.float32)}
        for number in (3, 5)
    })
    with h5py.File(path, "a") as nwb:
        make(nwb, host, tmp_path / "other.h5")
    return path


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_file_that_reads_another_file_is_not_converted(tmp_path: Path, kind: str) -> None:
    path = _hostile_nwb(tmp_path, HOSTILE[kind])
    out = tmp_path / "sweeps.parquet"
    with pytest.raises(NwbError) as raised:
        convert_nwb_to_parquet(path, out, specimen_id=1, well_known_file_id=2)
    assert "\n" not in str(raised.value)
    assert "Sweep_5/data" in str(raised.value)
    assert not out.exists()
    with pytest.raises(NwbError) as raised:
        recordings_from_nwb(path)
    assert "Sweep_5/data" in str(raised.value)


def test_the_feature_reader_checks_each_dataset_it_reads(tmp_path: Path) -> None:
    """The feature reader checks the links of the whole file but only the datasets it reads
    (opening every dataset costs more than the read): a scalar it reads with external storage
    refuses the file; one it does not read is never opened."""
    path = _hostile_nwb(tmp_path, lambda nwb, host, other: None)
    group = "acquisition/timeseries/Sweep_5"
    with h5py.File(path, "a") as nwb:
        del nwb[f"{group}/aibs_stimulus_amplitude_pa"]
        # (HDF5 keeps a scalar dataset's storage in the file: one value is what can be external)
        nwb.create_dataset(f"{group}/aibs_stimulus_amplitude_pa", shape=(1,), dtype=np.float64,
                           external=[(str(tmp_path / "host.bin"), 0, 8)])
        nwb.create_dataset(f"{group}/unread", shape=(N,), dtype=np.float32,
                           external=[(str(tmp_path / "host.bin"), 0, SECRET.nbytes)])
    with pytest.raises(NwbError) as raised:
        recordings_from_nwb(path)
    assert "aibs_stimulus_amplitude_pa" in str(raised.value)
    with h5py.File(path, "a") as nwb:
        del nwb[f"{group}/aibs_stimulus_amplitude_pa"]
        nwb[f"{group}/aibs_stimulus_amplitude_pa"] = 90.0
    recordings, problems = recordings_from_nwb(path)
    assert [r.sweep_number for r in recordings] == [3, 5] and problems == {}
    assert not any((r.v == 1234.5e3).any() for r in recordings)
    with pytest.raises(NwbError):
        convert_nwb_to_parquet(path, tmp_path / "s.parquet", specimen_id=1,
                               well_known_file_id=2)


def test_allen_layout_reaches_no_other_file(tmp_path: Path) -> None:
    path = tmp_path / "plain.nwb"
    _write_nwb(path, {3: {"stimulus": _square(N, 5000, 9000, 9e-11),
                          "response": np.zeros(N, np.float32)}})
    with h5py.File(path, "a") as nwb:
        nwb["acquisition/timeseries/alias"] = h5py.SoftLink("/acquisition/timeseries/Sweep_3")
        assert host_reference(nwb) is None
    assert convert_nwb_to_parquet(path, tmp_path / "s.parquet", specimen_id=1,
                                  well_known_file_id=2).rows == 1
