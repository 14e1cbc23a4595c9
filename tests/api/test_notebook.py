"""The example notebook runs on a synced mirror, and every plot it makes holds data."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import numpy as np
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "notebooks" / "mirror_in_python.ipynb"

pytestmark = pytest.mark.slow


def test_the_notebook_runs_and_plots_data(synced_mirror: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from PIL import Image

    monkeypatch.setenv("CTMIRROR_NOTEBOOK_MIRROR", str(synced_mirror))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    started = time.monotonic()
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    print(f"notebook executed in {time.monotonic() - started:.1f} s")
    outputs = [o for cell in notebook.cells if cell.cell_type == "code"
               for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 4  # sweep, F-I curve, morphology, GLIF
    for png in images:
        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(png))).convert("L"))
        assert pixels.shape[0] > 200 and pixels.shape[1] > 200
        # drawn lines: a good share of pixels are neither background nor one flat colour
        assert (pixels < 200).mean() > 0.01
        assert len(np.unique(pixels)) > 20
    text = "".join(o.get("text", "") for o in outputs)
    assert "cells," in text and "with a recording" in text
