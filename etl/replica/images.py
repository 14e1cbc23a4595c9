"""Section images for the replica: small deterministic JPEGs standing in for Allen's stacks.

The real image service cuts a region out of a multi-gigapixel ``.aff`` file. The replica stores
no pixels: it draws a picture from the image id alone (same id, same size, same bytes), at the
region's size halved ``downsample`` times, as ``/cgi-bin/imageservice`` does. Sides are capped
at ``MAX_SIDE`` pixels so that an un-downsampled request stays small.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

MAX_SIDE = 1024
DEFAULT_QUALITY = 85


def downsampled_size(width: int, height: int, downsample: int) -> tuple[int, int]:
    """The region's size halved ``downsample`` times (at least 1 pixel), capped at MAX_SIDE."""
    factor = 2 ** min(max(0, downsample), 30)  # beyond 2**30 every side is 1 pixel anyway
    return (
        min(MAX_SIDE, max(1, width // factor)),
        min(MAX_SIDE, max(1, height // factor)),
    )


def render_jpeg(image_id: int, width: int, height: int, *, quality: int = DEFAULT_QUALITY) -> bytes:
    """A ``width`` x ``height`` JPEG: a tinted background with soft blobs placed by ``image_id``."""
    rng = random.Random(image_id)
    background = tuple(rng.randrange(20, 80) for _ in range(3))
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(3, 9)):
        cx, cy = rng.random() * width, rng.random() * height
        radius = (0.03 + 0.12 * rng.random()) * max(width, height)
        colour = tuple(rng.randrange(120, 256) for _ in range(3))
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=min(95, max(1, quality)))
    return out.getvalue()


__all__ = ["DEFAULT_QUALITY", "MAX_SIDE", "downsampled_size", "render_jpeg"]
