"""``ctmirror features``: recompute published features from local files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from etl.errors import SwcError
from etl.features.morphology import Compartment, compute_morphology_features
from etl.readers.swc import read_swc

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.callback()
def features() -> None:
    """Recompute published Allen features from local files."""


@app.command()
def morphology(
    swc: Annotated[list[Path], typer.Option("--swc", help="SWC file; more may follow it")],
    more: Annotated[
        list[Path] | None, typer.Argument(help="Further SWC files (--swc a.swc b.swc ...)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
    compartment: Annotated[
        Compartment, typer.Option("--compartment", "-c", help="Nodes to measure (soma always kept)")
    ] = Compartment.ALL,
) -> None:
    """Recompute NeuronReconstruction features (and the cell list's nr__ values) per SWC file.

    A file that cannot be read prints one error line; the others still run, and the exit code
    is 1 if any file failed.
    """
    out = Console(soft_wrap=True)
    err = Console(stderr=True)
    results: dict[str, dict[str, int | float | None]] = {}
    failed = 0
    for path in [*swc, *(more or [])]:
        try:
            morph = read_swc(path)
        except SwcError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            failed += 1
            continue
        for note in morph.notes:
            err.print(f"[yellow]note:[/yellow] {morph.source}: {note}", highlight=False)
        results[str(path)] = compute_morphology_features(morph, compartment)
    if as_json:
        out.print_json(json.dumps(results))
    elif results:
        out.print(_table(results, compartment))
    if failed:
        raise typer.Exit(code=1)


def _table(results: dict[str, dict[str, int | float | None]], compartment: Compartment) -> Table:
    table = Table(title=f"Morphology features ({compartment.value})")
    table.add_column("feature")
    for path in results:
        table.add_column(Path(path).name, justify="right")
    names = next(iter(results.values())).keys()
    for name in names:
        table.add_row(name, *(_format(values[name]) for values in results.values()))
    return table


def _format(value: int | float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.6g}"
