"""Which files a sync mirrors: every file the warehouse's records link to, as planned downloads.

Reads the warehouse, never the network. A file's key is (``FileSource``, id); its local path
is derived from that key and a server name reduced by ``safe_name``, so the layout under the
mirror root is fixed by the records alone::

    files/well_known_files/<id>/<name>        NWB, SWC, marker, model parameters, thumbnails
    files/model_packages/<model id>/neuronal_model_<model id>.zip
    files/projection_images/<id>/<id>.jpg     (and files/sub_images/... with --images full)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import SupportsInt

import sqlalchemy as sa

from ctmirror.errors import ConfigError
from ctmirror.mirror.downloader import safe_name
from ctmirror.mirror.verify import FileKind
from ctmirror.schema.mirror import FileSource


class FileCategory(StrEnum):
    """What users choose to mirror (``ctmirror sync --files ...``)."""

    RECORDINGS = "recordings"  # NWBDownload of each cell
    RECONSTRUCTIONS = "reconstructions"  # SWC and marker files
    MODELS = "models"  # parameter files, NEURON .mod files, /neuronal_model/download zips
    THUMBNAILS = "thumbnails"  # ephys and morphology summary PNGs
    IMAGES = "images"  # projection images (max/min intensity, xy/yz)
    SUB_IMAGES = "sub-images"  # the 63x stack slices: hundreds per cell, only on request
    UNCOMPRESSED = "uncompressed"  # NWBUncompressed: the same recordings again, larger
    OTHER = "other"  # any file type this version does not know


#: ``--files all``: everything but the two categories that only add volume.
DEFAULT_CATEGORIES = frozenset(FileCategory) - {FileCategory.SUB_IMAGES,
                                                FileCategory.UNCOMPRESSED}

_TYPE_CATEGORIES = {
    "NWBDownload": FileCategory.RECORDINGS,
    "NWBUncompressed": FileCategory.UNCOMPRESSED,
    "3DNeuronReconstruction": FileCategory.RECONSTRUCTIONS,
    "3DNeuronMarker": FileCategory.RECONSTRUCTIONS,
    "NeuronalModelParameters": FileCategory.MODELS,
    "BiophysicalModelDescription": FileCategory.MODELS,
    "EphysSummaryThumbnail": FileCategory.THUMBNAILS,
    "MorphologyThumbnail": FileCategory.THUMBNAILS,
    "EphysInstantaneousThresholdThumbnail": FileCategory.THUMBNAILS,
}


def parse_categories(text: str) -> frozenset[FileCategory]:
    """``all``, ``none``, or a comma list of categories (``all`` may be one of them:
    ``all,sub-images``)."""
    chosen: set[FileCategory] = set()
    for part in (p.strip().lower() for p in text.split(",")):
        if part in ("", "none"):
            continue
        if part == "all":
            chosen |= DEFAULT_CATEGORIES
            continue
        try:
            chosen.add(FileCategory(part))
        except ValueError:
            names = ", ".join(c.value for c in FileCategory)
            raise ConfigError(f"unknown file category {part!r}; use all, none or some of: "
                              f"{names}") from None
    return frozenset(chosen)


@dataclass(frozen=True)
class PlannedFile:
    """One file to have under the mirror root."""

    source: FileSource
    source_id: int
    specimen_id: int | None
    url: str
    relpath: str
    kind: FileKind
    category: FileCategory
    #: ``content_hash`` of the linking record: a changed record means the file is fetched again.
    record_hash: str
    #: For well-known files: the type name and the record the file is attached to.
    type_name: str | None = None
    attachable_type: str | None = None
    attachable_id: int | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.source.value, self.source_id)


def category_of(type_name: str | None) -> FileCategory:
    return _TYPE_CATEGORIES.get(type_name or "", FileCategory.OTHER)


def well_known_file_relpath(file_id: int, server_path: str | None) -> str:
    # One safe component (never "", "." or ".."): joined as a string, not through pathlib,
    # since a no-op sync builds this for every file.
    return f"files/well_known_files/{int(file_id)}/{safe_name(server_path or f'{file_id}')}"


_WELL_KNOWN_FILES = sa.text("""
    SELECT w.id, w.path, w.download_link, w.content_hash, w.attachable_type, w.attachable_id,
           t.name AS type_name,
           COALESCE(s.id, r.specimen_id, m.specimen_id, rm.specimen_id) AS specimen_id
    FROM well_known_files w
    LEFT JOIN well_known_file_types t ON t.id = w.well_known_file_type_id
    LEFT JOIN specimens s
           ON w.attachable_type = 'EphysResult' AND s.ephys_result_id = w.attachable_id
    LEFT JOIN neuron_reconstructions r
           ON w.attachable_type = 'NeuronReconstruction' AND r.id = w.attachable_id
    LEFT JOIN neuronal_models m ON w.attachable_type = 'NeuronalModel' AND m.id = w.attachable_id
    LEFT JOIN neuronal_model_runs mr
           ON w.attachable_type = 'NeuronalModelRun' AND mr.id = w.attachable_id
    LEFT JOIN neuronal_models rm ON rm.id = mr.neuronal_model_id
    WHERE w.removed_at IS NULL
    ORDER BY w.id
""")

_MODEL_PACKAGES = sa.text("""
    SELECT id, specimen_id, content_hash FROM neuronal_models
    WHERE removed_at IS NULL ORDER BY id
""")

_PROJECTION_IMAGES = sa.text("""
    SELECT id, specimen_id, content_hash FROM projection_images
    WHERE removed_at IS NULL ORDER BY id
""")

_SUB_IMAGES = sa.text("""
    SELECT i.id, d.specimen_id, i.content_hash FROM sub_images i
    LEFT JOIN image_series d ON d.id = i.data_set_id
    WHERE i.removed_at IS NULL ORDER BY i.id
""")


def plan_files(
    conn: sa.Connection,
    api_base: str,
    categories: Iterable[FileCategory] = DEFAULT_CATEGORIES,
    *,
    image_downsample: int = 0,
) -> list[PlannedFile]:
    """Every file of the chosen categories that a current record links to, ordered by key."""
    chosen = frozenset(categories)
    base = api_base.rstrip("/")
    planned = [f for f in _well_known_files(conn, base) if f.category in chosen]
    if FileCategory.MODELS in chosen:
        planned += _model_packages(conn, base)
    if FileCategory.IMAGES in chosen:
        planned += _images(conn, base, _PROJECTION_IMAGES, FileSource.PROJECTION_IMAGE,
                           FileCategory.IMAGES, image_downsample)
    if FileCategory.SUB_IMAGES in chosen:
        planned += _images(conn, base, _SUB_IMAGES, FileSource.SUB_IMAGE,
                           FileCategory.SUB_IMAGES, image_downsample)
    return planned


def live_file_keys(conn: sa.Connection) -> set[tuple[str, int]]:
    """Keys of every file a current record links to, whatever the chosen categories: a
    mirrored file whose key is not here lost its record upstream."""
    keys: set[tuple[str, int]] = set()
    for source, table in ((FileSource.WELL_KNOWN_FILE, "well_known_files"),
                          (FileSource.MODEL_PACKAGE, "neuronal_models"),
                          (FileSource.PROJECTION_IMAGE, "projection_images"),
                          (FileSource.SUB_IMAGE, "sub_images")):
        rows = conn.execute(sa.text(f"SELECT id FROM {table} WHERE removed_at IS NULL")).all()
        keys.update((source.value, int(row[0])) for row in rows)
    return keys


def _well_known_files(conn: sa.Connection, base: str) -> Iterator[PlannedFile]:
    # Fetched at once and unpacked: row by row, the driver's per-row calls cost more than the
    # planning itself, and a no-op sync plans every file.
    for (file_id, path, link, content_hash, attachable_type, attachable_id, type_name,
         specimen_id) in conn.execute(_WELL_KNOWN_FILES).all():
        file_id = int(file_id)
        link = link or f"/api/v2/well_known_file_download/{file_id}"
        relpath = well_known_file_relpath(file_id, path)
        yield PlannedFile(
            source=FileSource.WELL_KNOWN_FILE,
            source_id=file_id,
            specimen_id=_int_or_none(specimen_id),
            url=base + (link if link.startswith("/") else f"/{link}"),
            relpath=relpath,
            kind=FileKind.from_name(relpath),
            category=category_of(type_name),
            record_hash=content_hash,
            type_name=type_name,
            attachable_type=attachable_type,
            attachable_id=_int_or_none(attachable_id),
        )


def _model_packages(conn: sa.Connection, base: str) -> list[PlannedFile]:
    return [
        PlannedFile(
            source=FileSource.MODEL_PACKAGE,
            source_id=int(row.id),
            specimen_id=_int_or_none(row.specimen_id),
            url=f"{base}/neuronal_model/download/{int(row.id)}",
            relpath=f"files/model_packages/{int(row.id)}/neuronal_model_{int(row.id)}.zip",
            kind=FileKind.ZIP,
            category=FileCategory.MODELS,
            record_hash=row.content_hash,
        )
        for row in conn.execute(_MODEL_PACKAGES).all()
    ]


def _images(conn: sa.Connection, base: str, query: sa.TextClause, source: FileSource,
            category: FileCategory, downsample: int) -> list[PlannedFile]:
    directory = "projection_images" if source is FileSource.PROJECTION_IMAGE else "sub_images"
    return [
        PlannedFile(
            source=source,
            source_id=int(row.id),
            specimen_id=_int_or_none(row.specimen_id),
            url=f"{base}/api/v2/section_image_download/{int(row.id)}?downsample={downsample}",
            relpath=f"files/{directory}/{int(row.id)}/{int(row.id)}.jpg",
            kind=FileKind.JPEG,
            category=category,
            # The downsampling is part of what was fetched: changing it fetches again.
            record_hash=f"{row.content_hash}:downsample={downsample}",
        )
        for row in conn.execute(query).all()
    ]


def _int_or_none(value: SupportsInt | str | None) -> int | None:
    return None if value is None else int(value)


__all__ = [
    "DEFAULT_CATEGORIES",
    "FileCategory",
    "PlannedFile",
    "category_of",
    "live_file_keys",
    "parse_categories",
    "plan_files",
    "well_known_file_relpath",
]
