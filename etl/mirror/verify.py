"""Content checks for downloaded files: does the file hold what its kind promises?

A size and sha256 match proves the bytes are the server's; these checks catch what a matching
checksum cannot, or what is checked before any checksum is known: an HTML error page served
with status 200, a truncated HDF5 file, a zip whose member names would escape the directory
it is unpacked into. Each check reads only the file at ``path`` and raises
:class:`~ctmirror.errors.FileIntegrityError` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path, PurePosixPath, PureWindowsPath

import h5py

from ctmirror.errors import FileIntegrityError, SwcError
from ctmirror.readers.swc import read_marker, read_swc

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
# NWB 1 (Allen Cell Types) and NWB 2 both keep recordings under one of these groups.
NWB_GROUPS = ("acquisition", "epochs")
_HASH_CHUNK = 1 << 20


class FileKind(StrEnum):
    """What a file's bytes should be; decides which content check runs."""

    NWB = "nwb"
    SWC = "swc"
    MARKER = "marker"  # Vaa3D marker CSV, published with an .swc suffix
    JSON = "json"
    ZIP = "zip"
    JPEG = "jpeg"
    PNG = "png"
    OTHER = "other"  # e.g. NEURON .mod text: size and checksum only

    @classmethod
    def from_name(cls, name: str) -> FileKind:
        """The kind a server file name implies (Allen names markers ``*_marker*.swc``)."""
        lowered = name.lower()
        suffix = PurePosixPath(lowered).suffix
        if suffix == ".swc" and "_marker" in lowered:
            return cls.MARKER
        return _SUFFIX_KINDS.get(suffix, cls.OTHER)


_SUFFIX_KINDS = {
    ".nwb": FileKind.NWB,
    ".swc": FileKind.SWC,
    ".marker": FileKind.MARKER,
    ".json": FileKind.JSON,
    ".zip": FileKind.ZIP,
    ".jpg": FileKind.JPEG,
    ".jpeg": FileKind.JPEG,
    ".png": FileKind.PNG,
}


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Invalid(Exception):
    """Raised by a check with the reason; ``verify_content`` names the file."""


def _head(path: Path, size: int, offset: int = 0) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(size)


def hdf5_signature_offset(path: Path) -> int | None:
    """Where the HDF5 superblock signature sits, or None. The HDF5 format allows a user block
    before it, so the signature may be at 0, 512, 1024, 2048, ... bytes."""
    size = path.stat().st_size
    offset = 0
    while offset + len(HDF5_SIGNATURE) <= size:
        if _head(path, len(HDF5_SIGNATURE), offset) == HDF5_SIGNATURE:
            return offset
        offset = 512 if offset == 0 else offset * 2
    return None


def _check_nwb(path: Path) -> None:
    if hdf5_signature_offset(path) is None:
        start = _head(path, 16)
        raise _Invalid(f"no HDF5 signature (starts with {start!r})")
    try:
        with h5py.File(path, "r") as nwb:
            groups = [name for name in NWB_GROUPS if name in nwb]
    except OSError as exc:  # h5py reports truncated or damaged files as OSError
        raise _Invalid(f"HDF5 does not open ({exc})") from None
    if not groups:
        raise _Invalid("no /acquisition or /epochs group")


def _check_swc(path: Path) -> None:
    try:
        read_swc(path)
    except SwcError as exc:
        raise _Invalid(str(exc)) from None


def _check_marker(path: Path) -> None:
    try:
        read_marker(path)
    except SwcError as exc:
        raise _Invalid(str(exc)) from None


def _check_json(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Invalid(f"does not parse ({exc})") from None


def unsafe_member_reason(name: str) -> str | None:
    """Why a zip member name could write outside the directory it is unpacked into, or None."""
    if "\x00" in name:
        return "contains a NUL byte"
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).anchor:
        return "is an absolute path"
    if ".." in PureWindowsPath(name).parts:  # splits on both / and \
        return "contains '..'"
    return None


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                reason = unsafe_member_reason(name)
                if reason is not None:
                    raise _Invalid(f"member {name!r} {reason}")
            broken = archive.testzip()
    # A damaged deflate stream fails inside zlib before the CRC comparison can.
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise _Invalid(f"not a readable zip ({exc})") from None
    if broken is not None:
        raise _Invalid(f"member {broken!r} fails its CRC check")


def _signature_check(signature: bytes) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        start = _head(path, len(signature))
        if start != signature:
            raise _Invalid(f"starts with {start!r}, expected {signature!r}")

    return check


_CHECKS: dict[FileKind, Callable[[Path], None]] = {
    FileKind.NWB: _check_nwb,
    FileKind.SWC: _check_swc,
    FileKind.MARKER: _check_marker,
    FileKind.JSON: _check_json,
    FileKind.ZIP: _check_zip,
    FileKind.JPEG: _signature_check(JPEG_SIGNATURE),
    FileKind.PNG: _signature_check(PNG_SIGNATURE),
}


def verify_content(path: Path, kind: FileKind, *, name: str | None = None) -> None:
    """Raise FileIntegrityError unless ``path`` holds a well-formed file of ``kind``.

    ``name`` is how the message refers to the file (default: the path's file name), for a
    partial download whose bytes sit in a file called ``data``.
    """
    path = Path(path)
    check = _CHECKS.get(kind)
    if check is None:
        return
    try:
        check(path)
    except _Invalid as exc:
        raise FileIntegrityError(
            f"{name or path.name} is not a valid {kind.value} file: {exc}; download it again, "
            "and report the server's copy if it stays broken",
            path=str(path),
        ) from None


__all__ = [
    "FileKind",
    "hdf5_signature_offset",
    "sha256_file",
    "unsafe_member_reason",
    "verify_content",
]
