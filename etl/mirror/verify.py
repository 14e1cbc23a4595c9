"""Content checks for downloaded files: does the file hold what its kind promises?

A size and sha256 match proves the bytes are the server's; these checks catch what a matching
checksum cannot, or what is checked before any checksum is known: an HTML error page served
with status 200, a truncated HDF5 file, a zip whose member names would escape the directory
it is unpacked into, a zip or an image that would expand far beyond its size when read (a
"decompression bomb": the bounds below are checked on the headers, before anything is
inflated). Each check reads only the file at ``path`` and raises
:class:`~ctmirror.errors.FileIntegrityError` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
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

# Bounds on what a zip may expand to. Allen model packages hold a few NEURON files and
# parameter JSON (kilobytes to megabytes, text compressing 5 to 10 times); a member past these
# is no model package. The ratio applies to members of more than a MiB only: a small, very
# regular text may legitimately compress past it.
ZIP_MAX_MEMBERS = 10_000
ZIP_MAX_MEMBER_BYTES = 1 << 30
ZIP_MAX_TOTAL_BYTES = 4 << 30
ZIP_MAX_RATIO = 100
_ZIP_RATIO_FROM_BYTES = 1 << 20
# A gigapixel: more than a full-resolution Allen section image, less than what would take the
# memory of the machine to decode (3 GiB as RGB).
MAX_IMAGE_PIXELS = 1 << 30


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
            members = archive.infolist()
            for member in members:
                reason = unsafe_member_reason(member.filename)
                if reason is not None:
                    raise _Invalid(f"member {member.filename!r} {reason}")
            reason = zip_bomb_reason(members)
            if reason is not None:
                raise _Invalid(reason)
            # zipfile inflates a member only up to its declared size: the bounds hold here too
            broken = archive.testzip()
    # A damaged deflate stream fails inside zlib before the CRC comparison can.
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise _Invalid(f"not a readable zip ({exc})") from None
    if broken is not None:
        raise _Invalid(f"member {broken!r} fails its CRC check")


def zip_bomb_reason(members: Sequence[zipfile.ZipInfo]) -> str | None:
    """Why unpacking these members would expand past the bounds, or None."""
    if len(members) > ZIP_MAX_MEMBERS:
        return f"{len(members)} members (at most {ZIP_MAX_MEMBERS})"
    total = 0
    for member in members:
        size, packed = member.file_size, max(member.compress_size, 1)
        if size > ZIP_MAX_MEMBER_BYTES:
            return (f"member {member.filename!r} has {size} bytes uncompressed "
                    f"(at most {ZIP_MAX_MEMBER_BYTES})")
        if size > _ZIP_RATIO_FROM_BYTES and size > ZIP_MAX_RATIO * packed:
            return (f"member {member.filename!r} has a compression ratio of {size // packed} "
                    f"({packed} bytes expand to {size}; at most {ZIP_MAX_RATIO})")
        total += size
    if total > ZIP_MAX_TOTAL_BYTES:
        return f"{total} bytes uncompressed in all (at most {ZIP_MAX_TOTAL_BYTES})"
    return None


def png_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's first chunk, IHDR; None if it is not there."""
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...): they carry the
# size. C4 (Huffman tables), C8 (reserved) and CC (arithmetic conditioning) do not.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's first start-of-frame segment; None if there is none
    before the image data starts."""
    at = 2  # after the start-of-image marker
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        if marker in _JPEG_FRAMES:
            if at + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header came
            return None
        at += 2 + length
    return None


# Segments before a JPEG's frame header are metadata (EXIF, ICC profiles): a few hundred KiB
# at most in practice.
_IMAGE_HEAD_BYTES = 1 << 20


def _image_check(signature: bytes, size: Callable[[bytes], tuple[int, int] | None]
                 ) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        head = _head(path, _IMAGE_HEAD_BYTES)
        if not head.startswith(signature):
            raise _Invalid(f"starts with {head[:len(signature)]!r}, expected {signature!r}")
        found = size(head)
        if found is None:
            raise _Invalid("no image size in its header")
        width, height = found
        if width * height > MAX_IMAGE_PIXELS:
            raise _Invalid(f"{width} x {height} pixels (at most {MAX_IMAGE_PIXELS} pixels): "
                           "decoding it would take more memory than an image should")

    return check


_CHECKS: dict[FileKind, Callable[[Path], None]] = {
    FileKind.NWB: _check_nwb,
    FileKind.SWC: _check_swc,
    FileKind.MARKER: _check_marker,
    FileKind.JSON: _check_json,
    FileKind.ZIP: _check_zip,
    FileKind.JPEG: _image_check(JPEG_SIGNATURE, jpeg_size),
    FileKind.PNG: _image_check(PNG_SIGNATURE, png_size),
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
    "MAX_IMAGE_PIXELS",
    "ZIP_MAX_MEMBERS",
    "ZIP_MAX_MEMBER_BYTES",
    "ZIP_MAX_RATIO",
    "ZIP_MAX_TOTAL_BYTES",
    "FileKind",
    "hdf5_signature_offset",
    "jpeg_size",
    "png_size",
    "sha256_file",
    "unsafe_member_reason",
    "verify_content",
    "zip_bomb_reason",
]
