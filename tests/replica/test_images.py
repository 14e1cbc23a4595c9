"""Section images: sizes and determinism."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ctmirror.replica.images import MAX_SIDE, downsampled_size, render_jpeg


@pytest.mark.parametrize(
    ("size", "downsample", "expected"),
    [((800, 600), 0, (800, 600)), ((800, 600), 1, (400, 300)), ((801, 601), 1, (400, 300)),
     ((800, 600), 20, (1, 1)), ((800, 600), 10**9, (1, 1)), ((800, 600), -3, (800, 600)),
     ((20000, 30000), 3, (MAX_SIDE, MAX_SIDE))],
)
def test_downsampled_size(size: tuple[int, int], downsample: int, expected: tuple[int, int]
                          ) -> None:
    assert downsampled_size(*size, downsample) == expected


def test_render_is_deterministic_per_id_and_the_requested_size() -> None:
    first = render_jpeg(9001, 64, 48)
    assert first == render_jpeg(9001, 64, 48)
    assert first != render_jpeg(9002, 64, 48)
    with Image.open(io.BytesIO(first)) as image:
        assert (image.format, image.size, image.mode) == ("JPEG", (64, 48), "RGB")
