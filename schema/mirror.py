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

from ctmirror.schema.base import Base


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


__all__ = ["FileSource", "MirrorFile"]
