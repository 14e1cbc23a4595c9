"""Downloadable files (NWB, SWC, model parameters, thumbnails) and their types."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from ctmirror.schema.base import Base, MirroredRecord, allen_id, describe


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


describe(WellKnownFile, {
    "id": "Allen file id (key)",
    "attachable_id": "id of the record the file hangs off (its model: attachable_type)",
    "attachable_type": "model of that record: 'EphysResult', 'NeuronReconstruction', "
                       "'NeuronalModel', 'NeuronalModelRun', 'Product', ...",
    "well_known_file_type_id": "what kind of file it is (WellKnownFileType.id)",
    "path": "path on the Allen file server",
    "download_link": "download path below the API base, '/api/v2/well_known_file_download/<id>'",
})

describe(WellKnownFileType, {
    "id": "Allen file type id (key)",
    "name": "file type, e.g. 'NWBDownload', '3DNeuronReconstruction', "
            "'NeuronalModelParameters'",
})


__all__ = ["WellKnownFile", "WellKnownFileType"]
