"""What a server answers from: one loaded state of a record source (records and files).

A ``Catalog`` is built whole by a source (a replica snapshot, a synced warehouse) and replaced
whole when the source changes, so a request sees one state from start to end. Files are found
only by the integer id in the URL (``FileKey``); the path a file is read from comes from the
source's own index and is resolved under the source's root, never from the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ctmirror.serve.engine import QueryEngine

#: The file endpoints: ``/api/v2/well_known_file_download/<id>``,
#: ``/neuronal_model/download/<id>`` and ``/api/v2/section_image_download/<id>``.
FileEndpoint = Literal["well_known_file", "model_zip", "section_image"]
FileKey = tuple[FileEndpoint, int]


@dataclass(frozen=True)
class ServedFile:
    """One file a source can serve: where it lies below the root and what verified it."""

    relpath: str
    size: int
    sha256: str
    last_modified: str

    @property
    def name(self) -> str:
        return self.relpath.rsplit("/", 1)[-1]

    @property
    def content_type(self) -> str:
        return content_type(self.name)


@dataclass(frozen=True)
class Catalog:
    """One state of a source: the query engine over its records and the index of its files.

    ``version`` names the state (a sync id, a snapshot's creation time): a server reloads when
    its source reports another one."""

    version: str
    engine: QueryEngine
    root: Path
    files: Mapping[FileKey, ServedFile]

    def resolve(self, served: ServedFile) -> Path | None:
        """The file's absolute path, or None when it is missing or would lie outside the root
        (a symlink or ``..`` in an index entry is never followed out of the mirror)."""
        root = self.root.resolve()
        path = (root / served.relpath).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path


_CONTENT_TYPES = {
    ".nwb": "application/x-hdf5",
    ".swc": "text/plain",
    ".json": "application/json",
    ".zip": "application/zip",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".mod": "text/plain",
    ".txt": "text/plain",
}


def content_type(name: str) -> str:
    """The Content-Type a file is served with, by its name's suffix."""
    return _CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


__all__ = ["Catalog", "FileEndpoint", "FileKey", "ServedFile", "content_type"]
