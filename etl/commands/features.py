"""``ctmirror features``: recompute published features from local files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ctmirror.features.compartments import Compartment

if TYPE_CHECKING:
    from rich.table import Table

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)


@app.callback()
def features() -> None:
    """Recompute published Allen features from local files."""


@app.command()
def morphology(
    swc: Annotated[list[Path], typer.Option("--swc", help="SWC file; more may follow it")],
    more: Annotated[
        list[Path] | None, typer.Argument(help="Further SWC files (--swc a.swc b.swc ...)",
                                          metavar="SWC")
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
    # numba compiles the features on first use: loaded here, not for every command's start-up
    from rich.console import Console

    from ctmirror.errors import SwcError
    from ctmirror.features.morphology import compute_morphology_features
    from ctmirror.readers.swc import read_swc

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
    from rich.table import Table

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


@app.command()
def ephys(
    nwb: Annotated[Path, typer.Option("--nwb", help="An Allen NWB 1 recording")],
    definitions: Annotated[
        str, typer.Option("--definitions", help="allen2016 (the published table's) or ipfx")
    ] = "allen2016",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
    spikes_out: Annotated[
        Path | None, typer.Option("--spikes", help="Write the spike table (one row per spike) "
                                                   "to this Parquet file")
    ] = None,
) -> None:
    """Recompute the published EphysFeature columns of one recording, and its spike table.

    Sweeps or protocols that cannot be analysed are listed with the reason; the others still
    count. Spike times are seconds from the start of their sweep, voltages mV, currents pA.
    """
    import pyarrow.parquet as pq
    from rich.console import Console
    from rich.table import Table

    from ctmirror.convert.spike_table import spikes_table
    from ctmirror.errors import ConfigError, InputError
    from ctmirror.features.ephys import definitions as definition_set
    from ctmirror.features.ephys.cell import cell_features
    from ctmirror.features.ephys.sweeps import sweep_results
    from ctmirror.readers.ephys import recordings_from_nwb

    out = Console(soft_wrap=True)
    err = Console(stderr=True)
    try:
        chosen = definition_set(definitions)
        # One file: its sweeps are read and measured on every CPU this process may use.
        threads = len(os.sched_getaffinity(0))
        recordings, problems = recordings_from_nwb(nwb, threads=threads)
    except (ConfigError, InputError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(code=1) from None
    cell = cell_features(recordings, chosen, threads=threads)
    spikes, sweeps = sweep_results(recordings, chosen)
    problems = {**problems, **cell.sweep_problems,
                **{row.sweep_number: row.problem for row in sweeps if row.problem}}
    if spikes_out is not None:
        table = spikes_table(spikes)
        pq.write_table(table, spikes_out)
        err.print(f"{table.num_rows} spikes of {len(spikes)} sweeps written to {spikes_out}",
                  highlight=False)
    result = {
        "file": str(nwb),
        "definitions": chosen.name,
        "features": cell.values,
        "rheobase_sweep_number": cell.rheobase_sweep_number,
        "hero_sweep_number": cell.hero_sweep_number,
        "protocol_problems": cell.protocol_problems,
        "sweep_problems": {str(k): v for k, v in sorted(problems.items())},
    }
    if as_json:
        out.print_json(json.dumps(result))
        return
    table = Table(title=f"EphysFeature columns of {nwb.name} ({chosen.name})")
    table.add_column("column")
    table.add_column("value", justify="right")
    for name, value in [("rheobase_sweep_number", cell.rheobase_sweep_number),
                        ("hero_sweep_number", cell.hero_sweep_number),
                        *cell.values.items()]:
        table.add_row(name, _format(value) if not isinstance(value, bool) else str(value))
    out.print(table)
    for protocol, reason in cell.protocol_problems.items():
        err.print(f"[yellow]note:[/yellow] {protocol}: {reason}", highlight=False)
    for number, reason in sorted(problems.items()):
        err.print(f"[yellow]note:[/yellow] sweep {number}: {reason}", highlight=False)
