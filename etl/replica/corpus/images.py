"""Image records (ImageSeries, ProjectionImage, SubImage) and small PNG thumbnails.

A reconstructed cell has one ImageSeries (its 63x stack, the ``data_set`` of SubImage), the four
min/max projections in xy and yz as ProjectionImage (specimen_id set, data_set_id null, as in
the API), and SubImage slices (data_set_id set, specimen_id null). The replica renders pixels
on request, so only records are made here. Thumbnails are small real PNGs drawn with Pillow.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["image_series", "projection_images", "sub_images", "thumbnail_png"]

_RESOLUTION_UM = 0.1144
_PROJECTIONS = (
    ("min", "xy", "MinimumIntensityProjection - xy"),
    ("max", "xy", "MaximumIntensityProjection - xy"),
    ("min", "yz", "MinimumIntensityProjection - yz"),
    ("max", "yz", "MaximumIntensityProjection - yz"),
)


def _image(
    record_id: int,
    *,
    image_type: str,
    path: str,
    width: int,
    height: int,
    section_number: int,
    specimen_id: int | None,
    data_set_id: int | None,
    structure_id: int | None,
    axes: str | None,
    projection_function: str | None,
) -> dict[str, Any]:
    return {
        "id": record_id,
        "annotated": False,
        "axes": axes,
        "bits_per_component": 8,
        "data_set_id": data_set_id,
        "expression": False,
        "expression_path": None,
        "failed": False,
        "height": height,
        "width": width,
        "x": 0,
        "y": 0,
        "image_height": height,
        "image_width": width,
        "image_type": image_type,
        "isi_experiment_id": None,
        "lims1_id": None,
        "number_of_components": 3,
        "ophys_experiment_id": None,
        "path": path,
        "projection_function": projection_function,
        "resolution": _RESOLUTION_UM,
        "section_number": section_number,
        "specimen_id": specimen_id,
        "structure_id": structure_id,
        "tier_count": max(1, int(np.ceil(np.log2(max(width, height) / 256))) + 1),
    }


def image_series(
    series_id: int, *, specimen_id: int, specimen_name: str, storage_directory: str
) -> dict[str, Any]:
    return {
        "id": series_id,
        "specimen_id": specimen_id,
        "name": f"{specimen_name} 63x",
        "failed": False,
        "plane_of_section_id": 1,
        "section_thickness": 0.28,
        "storage_directory": storage_directory,
    }


def projection_images(
    ids: list[int],
    *,
    specimen_id: int,
    directory: str,
    width: int,
    height: int,
    depth: int,
    structure_id: int | None,
) -> list[dict[str, Any]]:
    """The min/max projections in xy and yz (one per id given, at most four)."""
    records = []
    for record_id, (function, axes, image_type) in zip(ids, _PROJECTIONS, strict=False):
        w, h = (width, height) if axes == "xy" else (depth, height)
        records.append(
            _image(
                record_id,
                image_type=image_type,
                path=f"{directory}/{function}_{axes}_{specimen_id}.aff",
                width=w,
                height=h,
                section_number=0,
                specimen_id=specimen_id,
                data_set_id=None,
                structure_id=structure_id,
                axes=axes,
                projection_function=function,
            )
        )
    return records


def sub_images(
    ids: list[int],
    *,
    data_set_id: int,
    directory: str,
    width: int,
    height: int,
    structure_id: int | None,
) -> list[dict[str, Any]]:
    """The stack slices, numbered from 1."""
    return [
        _image(
            record_id,
            image_type="Primary",
            path=f"{directory}/{data_set_id}_{number:04d}.aff",
            width=width,
            height=height,
            section_number=number,
            specimen_id=None,
            data_set_id=data_set_id,
            structure_id=structure_id,
            axes=None,
            projection_function=None,
        )
        for number, record_id in enumerate(ids, start=1)
    ]


def thumbnail_png(
    rng: np.random.Generator, *, title: str, width: int = 96, height: int = 64
) -> bytes:
    """A small line-plot PNG, different for each seed: a stand-in for a summary thumbnail."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    trace = np.cumsum(rng.normal(size=width)) if title != "morphology" else None
    if trace is not None:
        span = float(np.ptp(trace)) or 1.0
        ys = (height - 4) - (trace - trace.min()) / span * (height - 8)
        draw.line(list(zip(range(width), ys.tolist(), strict=True)), fill=(40, 40, 160), width=1)
    else:
        centre = (width / 2, height / 2)
        for angle in rng.uniform(0, 2 * np.pi, size=6):
            length = float(rng.uniform(10, height / 2))
            end = (centre[0] + length * np.cos(angle), centre[1] + length * np.sin(angle))
            draw.line([centre, end], fill=(160, 40, 40), width=1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
