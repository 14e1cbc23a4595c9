"""``ctmirror corpus synth``: a small, fully synthetic snapshot built in seconds.

Synthetic cell rows (``ctmirror.replica.corpus.synthetic``) go through the same gap fill as the
real corpus (``ctmirror.replica.corpus.fill``), with the short test protocol so that NWB files
stay small. The cells' feature values are drawn, then replaced by the values computed from the
cell's own recording and SWC file where it has them. The last cell's EphysResult is marked
failed. The same arguments always give the
same records and file bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ctmirror.errors import ConfigError
from ctmirror.replica.corpus.fill import FillOptions, fill_corpus
from ctmirror.replica.corpus.ids import SYNTHETIC_ID_BASE, IdAllocator
from ctmirror.replica.corpus.realdata import RealData
from ctmirror.replica.corpus.synthetic import synthetic_cells
from ctmirror.replica.snapshot import SnapshotWriter

__all__ = ["build_synthetic_snapshot"]

# Cell-row ids (specimens, donors, file links) come from the top of the synthetic range so that
# the fill's own ids, counting up from its base, never meet them.
_CELL_ID_BASE = SYNTHETIC_ID_BASE + 100_000_000


def build_synthetic_snapshot(
    out: Path, *, cells: int = 12, seed: int = 0, nwb_cells: int = 3
) -> Path:
    """Write ``cells`` synthetic cells (the first ``nwb_cells`` with NWB) as a snapshot."""
    if cells < 1:
        raise ConfigError("--cells must be at least 1")
    if not 0 <= nwb_cells < cells:
        raise ConfigError("--nwb-cells must be between 0 and --cells - 1 (the last cell failed)")
    from ctmirror.replica.corpus.nwb import write_cell_nwb

    rows = synthetic_cells(np.random.default_rng(seed), cells, IdAllocator(_CELL_ID_BASE))
    out = Path(out)
    writer = SnapshotWriter(out, source="synthetic", seed=seed)
    options = FillOptions(
        seed=seed,
        nwb_cells=nwb_cells,
        fast_sweeps=True,
        computed_cell_values=True,
        failed_specimens=frozenset({int(rows[-1]["specimen__id"])}),
    )
    fill_corpus(writer, RealData(cells=rows), options, write_nwb=write_cell_nwb)
    writer.close()
    return out
