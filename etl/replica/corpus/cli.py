"""`ctmirror corpus` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

OutOpt = Annotated[Path, typer.Option("--out", help="Snapshot directory to write")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of every synthetic value")]


def _print_counts(out: Path, counts: dict[str, int], nwb_cells: int) -> None:
    typer.echo(f"snapshot written to {out}")
    for model, rows in sorted(counts.items()):
        typer.echo(f"  {model:<28} {rows:>8}")
    typer.echo(f"  {'cells with NWB':<28} {nwb_cells:>8}")


@app.command()
def build(
    realdata: Annotated[Path, typer.Option("--from", help="Directory of real published data")],
    out: OutOpt,
    nwb_cells: Annotated[
        int, typer.Option("--nwb-cells", min=0, help="Cells that get a simulated NWB file")
    ] = 0,
    seed: SeedOpt = 0,
) -> None:
    """Build the replica corpus: every published cell, real records, consistent synthetic fill."""
    from ctmirror.replica.corpus.build import build_corpus

    meta = build_corpus(realdata, out, nwb_cells=nwb_cells, seed=seed)
    _print_counts(out, meta["counts"], meta["nwb_cells"])


@app.command()
def synth(
    out: OutOpt,
    cells: Annotated[int, typer.Option("--cells", min=1, help="Synthetic cells")] = 12,
    seed: SeedOpt = 0,
    nwb_cells: Annotated[
        int, typer.Option("--nwb-cells", min=0, help="Cells that get a short NWB file")
    ] = 3,
) -> None:
    """Build a small fully synthetic snapshot (no real data needed)."""
    from ctmirror.replica.corpus.synth import build_synthetic_snapshot
    from ctmirror.replica.snapshot import Snapshot

    build_synthetic_snapshot(out, cells=cells, seed=seed, nwb_cells=nwb_cells)
    meta = Snapshot(out).meta
    _print_counts(out, meta["counts"], meta["nwb_cells"])
