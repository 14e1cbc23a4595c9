"""Bounds on what a downloaded file may expand to: zip members (uncompressed size, compression
ratio, count), image dimensions, SWC size. A file past a bound fails its content check with a
one-line reason, before anything inflates it."""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from ctmirror.errors import FileIntegrityError, SwcError
from ctmirror.mirror import FileKind, verify_content
from ctmirror.mirror import verify as verify_module

MIB = 1 << 20


def _zip(path: Path, members: dict[str, int], *, zeros: bool = True) -> Path:
    """A zip with one member per name, of the given uncompressed size, written 1 MiB at a
    time (a 300 MB member never sits in memory)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, size in members.items():
            with archive.open(name, "w", force_zip64=True) as member:
                for start in range(0, size, MIB):
                    part = min(MIB, size - start)
                    member.write(bytes(part) if zeros else os.urandom(part))
    return path


def test_a_zero_filled_300_mb_member_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "model.zip", {"modfiles/x.mod": 300 * 1000 * 1000})
    assert path.stat().st_size < 1 * MIB
    with pytest.raises(FileIntegrityError) as raised:
        verify_content(path, FileKind.ZIP)
    message = str(raised.value)
    assert "modfiles/x.mod" in message and "compression ratio" in message
    assert "\n" not in message


def test_a_member_larger_than_the_bound_is_refused(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "ZIP_MAX_MEMBER_BYTES", 2 * MIB)
    path = _zip(tmp_path / "model.zip", {"a.bin": 3 * MIB}, zeros=False)
    with pytest.raises(FileIntegrityError, match="a.bin.*uncompressed"):
        verify_content(path, FileKind.ZIP)
    verify_content(_zip(tmp_path / "ok.zip", {"a.bin": 2 * MIB}, zeros=False), FileKind.ZIP)


def test_members_larger_together_than_the_bound_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "ZIP_MAX_TOTAL_BYTES", 3 * MIB)
    path = _zip(tmp_path / "model.zip", {"a.bin": 2 * MIB, "b.bin": 2 * MIB}, zeros=False)
    with pytest.raises(FileIntegrityError, match="4194304 bytes uncompressed in all"):
        verify_content(path, FileKind.ZIP)


def test_too_many_members_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "ZIP_MAX_MEMBERS", 3)
    path = _zip(tmp_path / "model.zip", {f"m{n}.mod": 10 for n in range(4)})
    with pytest.raises(FileIntegrityError, match="4 members"):
        verify_content(path, FileKind.ZIP)


def test_small_compressible_members_pass(tmp_path: Path) -> None:
    # a short text of one repeated character compresses far past the ratio: too small to matter
    verify_content(_zip(tmp_path / "model.zip", {"fit.json": 512 * 1024}), FileKind.ZIP)


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


@pytest.mark.parametrize("kind, make", [(FileKind.PNG, _png), (FileKind.JPEG, _jpeg)])
def test_image_dimensions_are_bounded(tmp_path: Path, kind: FileKind, make) -> None:
    huge = tmp_path / f"huge.{kind.value}"
    huge.write_bytes(make(60_000, 60_000))  # 3.6 gigapixels declared in a few bytes
    with pytest.raises(FileIntegrityError, match="60000 x 60000 pixels"):
        verify_content(huge, kind)
    fine = tmp_path / f"fine.{kind.value}"
    fine.write_bytes(make(20_000, 30_000))
    verify_content(fine, kind)


def test_image_without_dimensions_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpeg"
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    with pytest.raises(FileIntegrityError, match="no image size"):
        verify_content(path, FileKind.JPEG)


def test_an_swc_larger_than_the_bound_is_refused(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from ctmirror.readers import swc

    path = tmp_path / "big.swc"
    path.write_text("1 1 0 0 0 1 -1\n" * 1000)
    monkeypatch.setattr(swc, "MAX_SWC_BYTES", 4096)
    with pytest.raises(SwcError, match="big.swc.*larger than"):
        swc.read_swc(path)
