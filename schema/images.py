"""Images: the 63x image series of a cell, their slices, and the projection images."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from ctmirror.schema.base import Base, MirroredRecord, allen_id, describe


class ImageSeries(MirroredRecord, Base):
    """``model::ImageSeries`` (a specimen's ``data_sets``): a stack of sub-images."""

    __tablename__ = "image_series"

    id: Mapped[int] = allen_id()
    specimen_id: Mapped[int | None]
    name: Mapped[str | None]
    failed: Mapped[bool | None]
    plane_of_section_id: Mapped[int | None]
    section_thickness: Mapped[float | None]
    storage_directory: Mapped[str | None]


class _ImageAttributes:
    """The attribute set ``ProjectionImage`` and ``SubImage`` share."""

    annotated: Mapped[bool | None]
    axes: Mapped[str | None]
    bits_per_component: Mapped[int | None]
    data_set_id: Mapped[int | None]
    specimen_id: Mapped[int | None]
    expression: Mapped[bool | None]
    expression_path: Mapped[str | None]
    failed: Mapped[bool | None]
    height: Mapped[int | None]
    width: Mapped[int | None]
    x: Mapped[int | None]
    y: Mapped[int | None]
    image_height: Mapped[int | None]
    image_width: Mapped[int | None]
    image_type: Mapped[str | None]
    isi_experiment_id: Mapped[int | None]
    lims1_id: Mapped[int | None]
    number_of_components: Mapped[int | None]
    ophys_experiment_id: Mapped[int | None]
    path: Mapped[str | None]
    projection_function: Mapped[str | None]
    resolution: Mapped[float | None]
    section_number: Mapped[int | None]
    structure_id: Mapped[int | None]
    tier_count: Mapped[int | None]


class ProjectionImage(_ImageAttributes, MirroredRecord, Base):
    """``model::ProjectionImage``: a min/max intensity projection of a cell (up to 4 per cell)."""

    __tablename__ = "projection_images"

    id: Mapped[int] = allen_id()


class SubImage(_ImageAttributes, MirroredRecord, Base):
    """``model::SubImage``: one slice of an image series (hundreds per cell)."""

    __tablename__ = "sub_images"

    id: Mapped[int] = allen_id()


describe(ImageSeries, {
    "id": "Allen image series id (key)",
    "specimen_id": "the cell (Specimen.id)",
    "name": "series name",
    "failed": "the series failed quality control (true/false)",
    "plane_of_section_id": "plane of sectioning (Allen id)",
    "section_thickness": "thickness of a section (µm)",
    "storage_directory": "directory on the Allen file server",
})

_IMAGE_ATTRIBUTES = {
    "id": "Allen image id (key)",
    "annotated": "the image is annotated (true/false)",
    "axes": "projection axes: 'xy' or 'yz'",
    "bits_per_component": "bits per colour component (bits)",
    "data_set_id": "the image series a slice belongs to (ImageSeries.id)",
    "specimen_id": "the cell a projection shows (Specimen.id)",
    "expression": "the image shows gene expression (true/false)",
    "expression_path": "server path of the expression image",
    "failed": "the image failed quality control (true/false)",
    "height": "height of the bounding box in the full image (pixels)",
    "width": "width of the bounding box in the full image (pixels)",
    "x": "left of the bounding box in the full image (pixels)",
    "y": "top of the bounding box in the full image (pixels)",
    "image_height": "height of the full image (pixels)",
    "image_width": "width of the full image (pixels)",
    "image_type": "e.g. 'MaximumIntensityProjection - xy', 'Primary'",
    "isi_experiment_id": "the ISI experiment (Allen id)",
    "lims1_id": "internal LIMS id",
    "number_of_components": "colour components (count)",
    "ophys_experiment_id": "the optical physiology experiment (Allen id)",
    "path": "server path of the image (.aff)",
    "projection_function": "projection: 'min' or 'max'",
    "resolution": "pixel size (µm per pixel)",
    "section_number": "position of the slice in its series (index)",
    "structure_id": "the brain structure (Structure.id)",
    "tier_count": "zoom tiers of the image (count)",
}
describe(ProjectionImage, _IMAGE_ATTRIBUTES)
describe(SubImage, _IMAGE_ATTRIBUTES)


__all__ = ["ImageSeries", "ProjectionImage", "SubImage"]
