"""Downloadable files (NWB, SWC, model parameters, thumbnails) and their types."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from ctmirror.schema.base import Base, MirroredRecord, allen_id


class WellKnownFile(MirroredRecord, Base):
    """``model::WellKnownFile``: a file attached to a record through
    (``attachable_type``, ``attachable_id``)."""

    __tablename__ = "well_known_files"

    id: Mapped[int] = allen_id()
    attachable_id: Mapped[int | None]
    attachable_type: Mapped[str | None]
    well_known_file_type_id: Mapped[int | None]
    path: Mapped[str | None]
    download_link: Mapped[str | None]


class WellKnownFileType(MirroredRecord, Base):
    """``model::WellKnownFileType``: what kind of file a WellKnownFile is (``NWBDownload``, ...)."""

    __tablename__ = "well_known_file_types"

    id: Mapped[int] = allen_id()
    name: Mapped[str | None]


__all__ = ["WellKnownFile", "WellKnownFileType"]
