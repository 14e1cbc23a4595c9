"""Content checks: good files of each kind pass, each kind of bad file fails with a reason."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from ctmirror.errors import FileIntegrityError
from ctmirror.mirror import FileKind, sha256_file, verify_content
from ctmirror.mirror.verify import hdf5_signature_offset, unsafe_member_reason

from .conftest import stored_path

REAL_SWC = Path(__file__).parents[1] / "data" / "realdata_mini" / "swc" / "cajal" / "327644217.swc"
HTML_PAGE = b"<!DOCTYPE html><html><body><h1>Site unavailable</h1></body></html>\n"


@pytest.mark.parametrize("kind", ["nwb", "swc", "marker", "json", "png", "zip"])
def test_synthetic_files_pass(synth_snapshot, stored_files, kind):
    stored = stored_files[kind]
    path = stored_path(synth_snapshot, stored)
    verify_content(path, FileKind(kind))
    assert sha256_file(path) == stored.sha256


def test_real_swc_passes():
    verify_content(REAL_SWC, FileKind.SWC)


@pytest.mark.parametrize("name, kind", [
    ("2000000000_ephys.nwb", FileKind.NWB),
    ("H16.03.003.01.03.01_2000000144_marker_m.swc", FileKind.MARKER),
    ("Rorb-IRES2-Cre_Ai14-160000.00.01.01_2000000023_m.swc", FileKind.SWC),
    ("2000000035_neuron_config.json", FileKind.JSON),
    ("morphology_summary.PNG", FileKind.PNG),
    ("section.jpg", FileKind.JPEG),
    ("model.zip", FileKind.ZIP),
    ("CaDynamics.mod", FileKind.OTHER),
])
def test_kind_from_server_name(name, kind):
    assert FileKind.from_name(name) is kind


def test_html_page_is_not_nwb(tmp_path):
    path = tmp_path / "ephys.nwb"
    path.write_bytes(HTML_PAGE)
    with pytest.raises(FileIntegrityError, match="no HDF5 signature") as caught:
        verify_content(path, FileKind.NWB)
    assert caught.value.path == str(path)
    assert "ephys.nwb is not a valid nwb file" in str(caught.value)


def test_truncated_hdf5_is_not_nwb(synth_snapshot, nwb_file, tmp_path):
    whole = stored_path(synth_snapshot, nwb_file).read_bytes()
    path = tmp_path / "ephys.nwb"
    path.write_bytes(whole[: len(whole) // 2])
    assert hdf5_signature_offset(path) == 0  # the signature survives the cut...
    with pytest.raises(FileIntegrityError, match="HDF5 does not open"):  # ...the file does not
        verify_content(path, FileKind.NWB)


def test_hdf5_without_recordings_is_not_nwb(tmp_path):
    import h5py

    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as fh:
        fh.create_group("analysis")
    with pytest.raises(FileIntegrityError, match="no /acquisition or /epochs"):
        verify_content(path, FileKind.NWB, name="ephys.nwb")


def test_hdf5_signature_after_a_user_block(synth_snapshot, nwb_file, tmp_path):
    path = tmp_path / "padded.bin"
    path.write_bytes(b"\0" * 512 + stored_path(synth_snapshot, nwb_file).read_bytes()[:64])
    assert hdf5_signature_offset(path) == 512


def zip_with(tmp_path: Path, *names: str) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, b"{}")
    path = tmp_path / "model.zip"
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize("member, reason", [
    ("../evil.json", "contains '..'"),
    ("models/../../evil.json", "contains '..'"),
    ("..\\evil.json", "contains '..'"),
    ("/etc/evil.json", "is an absolute path"),
    ("C:\\evil.json", "is an absolute path"),
])
def test_zip_member_escaping_the_directory_is_refused(tmp_path, member, reason):
    assert unsafe_member_reason(member) == reason
    path = zip_with(tmp_path, "neuron_config.json", member)
    with pytest.raises(FileIntegrityError, match="escape|'..'|absolute"):
        verify_content(path, FileKind.ZIP)


def test_zip_member_names_that_stay_inside_pass(tmp_path):
    assert unsafe_member_reason("modfiles/CaDynamics.mod") is None
    assert unsafe_member_reason("a..b.json") is None
    verify_content(zip_with(tmp_path, "modfiles/x.mod", "a..b.json"), FileKind.ZIP)


def test_damaged_zip_member_fails_its_crc(synth_snapshot, stored_files, tmp_path):
    raw = bytearray(stored_path(synth_snapshot, stored_files["zip"]).read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        first = archive.infolist()[0]
        start = first.header_offset + 30 + len(first.filename.encode()) + len(first.extra)
    raw[start] ^= 0xFF
    path = tmp_path / "model.zip"
    path.write_bytes(bytes(raw))
    with pytest.raises(FileIntegrityError, match="CRC|not a readable zip"):
        verify_content(path, FileKind.ZIP)


def test_html_page_is_not_a_zip(tmp_path):
    path = tmp_path / "model.zip"
    path.write_bytes(HTML_PAGE)
    with pytest.raises(FileIntegrityError, match="not a readable zip"):
        verify_content(path, FileKind.ZIP)


def test_bad_json_swc_marker_and_images(tmp_path):
    cases = {
        FileKind.JSON: b'{"id": 1,',
        FileKind.SWC: b"1 1 0 0 0 1\n",  # six fields
        FileKind.MARKER: b"1.0,2.0\n",
        FileKind.PNG: HTML_PAGE,
        FileKind.JPEG: HTML_PAGE,
    }
    for kind, content in cases.items():
        path = tmp_path / f"bad.{kind.value}"
        path.write_bytes(content)
        with pytest.raises(FileIntegrityError, match=f"not a valid {kind.value} file"):
            verify_content(path, kind)


def test_other_files_are_not_content_checked(tmp_path):
    path = tmp_path / "CaDynamics.mod"
    path.write_bytes(HTML_PAGE)
    verify_content(path, FileKind.OTHER)


def test_sha256_of_a_known_input(tmp_path):
    path = tmp_path / "abc"
    path.write_bytes(b"abc")  # the FIPS 180-2 example
    assert sha256_file(path) == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
