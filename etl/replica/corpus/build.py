"""``ctmirror corpus build``: the replica corpus from real published data plus a synthetic fill.

Every published record found under the real data directory is kept as published; everything
the real database has but the directory lacks is filled by ``ctmirror.replica.corpus.fill``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctmirror.replica.corpus.fill import FillOptions, fill_corpus
from ctmirror.replica.corpus.realdata import load_realdata
from ctmirror.replica.snapshot import SnapshotWriter

__all__ = ["build_corpus"]


def build_corpus(realdata: Path, out: Path, *, nwb_cells: int = 0, seed: int = 0) -> dict[str, Any]:
    """Build the snapshot in ``out`` from the real data in ``realdata``; return its metadata."""
    real = load_realdata(Path(realdata))
    writer = SnapshotWriter(Path(out), source="allen-cell-types-published+synthetic", seed=seed)
    write_nwb = None
    if nwb_cells > 0:
        from ctmirror.replica.corpus.nwb import write_cell_nwb

        write_nwb = write_cell_nwb
    fill_corpus(writer, real, FillOptions(seed=seed, nwb_cells=nwb_cells), write_nwb=write_nwb)
    return writer.close()
