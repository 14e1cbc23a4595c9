"""The file mirror's own state: one row per mirrored file, with what verified it.

A row is written only after the file was downloaded, checked and moved onto its final path, so
a row is a promise that ``root/<relpath>`` holds exactly ``size`` bytes with ``sha256``.
``ctmirror verify`` checks that promise; the conversion columns say which Parquet dataset or
table the file was last converted into, from which bytes and by which converter version.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from ctmirror.schema.base import Base, describe


class FileSource(StrEnum):
    """Where a mirrored file comes from; with ``source_id`` the file's key."""

    WELL_KNOWN_FILE = "well_known_file"  # /api/v2/well_known_file_download/<id>
    MODEL_PACKAGE = "model_package"  # /neuronal_model/download/<neuronal_model_id>
    PROJECTION_IMAGE = "projection_image"  # /api/v2/section_image_download/<id>
    SUB_IMAGE = "sub_image"  # the same endpoint, for the 63x stack slices


class MirrorFile(Base):
    """A verified file under the mirror root."""

    __tablename__ = "mirror_files"

    source: Mapped[str] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    specimen_id: Mapped[int | None]
    url: Mapped[str]
    #: Path below the mirror root, ``/``-separated.
    relpath: Mapped[str]
    #: ``ctmirror.mirror.FileKind``: which content check the file passed.
    kind: Mapped[str]
    size: Mapped[int]
    sha256: Mapped[str]
    etag: Mapped[str | None]
    last_modified: Mapped[str | None]
    downloaded_at: Mapped[datetime]
    #: ``content_hash`` of the record the file was downloaded for; a changed record means the
    #: file is fetched again.
    record_hash: Mapped[str | None]
    first_sync_id: Mapped[str]
    last_sync_id: Mapped[str]
    #: Set when the record that links the file disappeared upstream; the file is kept.
    removed_at: Mapped[datetime | None]
    #: What the file was converted into (a Parquet dataset or table name), from which bytes.
    converted_to: Mapped[str | None]
    converted_sha256: Mapped[str | None]
    converter_version: Mapped[int | None]
    converted_at: Mapped[datetime | None]
    converted_rows: Mapped[int | None]
    #: Why the last conversion of these bytes failed; tried again only when the bytes or the
    #: converter version change.
    conversion_error: Mapped[str | None]


describe(MirrorFile, {
    "source": "where the file comes from: well_known_file, model_package, projection_image "
              "or sub_image",
    "source_id": "id of the file in its source (WellKnownFile.id, NeuronalModel.id or "
                 "image id)",
    "specimen_id": "the cell the file belongs to (Specimen.id)",
    "url": "the URL the file was downloaded from",
    "relpath": "path below the mirror root, '/'-separated",
    "kind": "content check the file passed: nwb, swc, marker, json, zip, jpeg, png or other",
    "size": "file size (bytes)",
    "sha256": "sha256 of the file's bytes (hex)",
    "etag": "the server's ETag validator",
    "last_modified": "the server's Last-Modified validator (HTTP date)",
    "downloaded_at": "when the file was downloaded and verified (UTC timestamp)",
    "record_hash": "content_hash of the record the file was downloaded for",
    "first_sync_id": "the sync that first mirrored the file (sync_runs.sync_id)",
    "last_sync_id": "the sync that last confirmed the file (sync_runs.sync_id)",
    "removed_at": "when the record linking the file disappeared upstream (UTC timestamp); "
                  "the file is kept",
    "converted_to": "the Parquet dataset or table the file was last converted into",
    "converted_sha256": "sha256 of the bytes that conversion read (hex)",
    "converter_version": "version of the converter that made it",
    "converted_at": "when it was converted (UTC timestamp)",
    "converted_rows": "rows the conversion wrote (count)",
    "conversion_error": "why the last conversion of these bytes failed; empty when it did not",
})


__all__ = ["FileSource", "MirrorFile"]
