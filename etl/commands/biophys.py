"""`ctmirror biophys` commands: run a biophysical (perisomatic) model with NEURON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from ctmirror.errors import InputError

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


@app.callback()
def biophys() -> None:
    """Run biophysical models with NEURON (the neuron extra)."""  # keeps `run` a subcommand


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ctmirror" / "nrnmech"


@app.command()
def run(
    model_dir: Annotated[
        Path, typer.Option("--model-dir", help="An unpacked model package: <id>_fit.json and "
                                               "the reconstruction .swc")
    ],
    stimulus: Annotated[
        Path, typer.Option("--stimulus", help="Injected current in A, one value per sample "
                                              "(.npy, or text)")
    ],
    dt: Annotated[float, typer.Option("--dt", help="Sampling interval in s (5e-6 for 200 kHz)")],
    modfiles: Annotated[
        Path | None,
        typer.Option("--modfiles", help="Folder of the .mod files [default: the package's "
                                        "modfiles/, else the template's mirrored files]"),
    ] = None,
    solver: Annotated[
        str, typer.Option("--solver", help="fixed (one step per sample, as AllenSDK's "
                                            "runner) or cvode (variable step: faster, spike "
                                            "times drift by up to ms)")
    ] = "fixed",
    cache: Annotated[
        Path | None, typer.Option("--cache", help="Compiled mechanisms, one folder per .mod "
                                                  "set [default: ~/.cache/ctmirror/nrnmech]")
    ] = None,
    root: Annotated[Path | None, typer.Option("--root", help="Mirror root, for the mirrored "
                                                             ".mod files [default: ./data]")
                    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Warehouse URL [default: "
                                                        "duckdb:///<root>/warehouse.duckdb]")
                  ] = None,
    voltage: Annotated[
        Path | None, typer.Option("--voltage", help="Write the soma voltage (mV, one value per "
                                                    "sample) to this .npy file")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Simulate one perisomatic model on a current-clamp stimulus: its spike times and
    features."""
    from ctmirror.biophys import require_neuron
    from ctmirror.biophys.simulate import Solver
    from ctmirror.commands.inputs import require_positive

    require_positive("--dt", dt)
    try:
        chosen = Solver(solver)
    except ValueError:
        raise InputError(f"--solver must be cvode or fixed, got {solver!r}") from None
    require_neuron()
    import numpy as np

    from ctmirror.biophys.mechanisms import compile_mechanisms
    from ctmirror.biophys.response import analyse
    from ctmirror.biophys.simulate import PerisomaticModel
    from ctmirror.biophys.simulate import run as simulate
    from ctmirror.commands.inputs import load_stimulus

    model = PerisomaticModel.from_dir(model_dir)
    current = load_stimulus(stimulus)
    library = compile_mechanisms(_mod_files(model_dir, modfiles, root, db), cache or
                                 _default_cache())
    result = simulate(model, library, current, dt, chosen)
    if voltage is not None:
        np.save(voltage, result.v)
    response = analyse(result.v, current, dt)
    times = [round(float(x), 9) for x in response.spike_times]
    if as_json:
        typer.echo(json.dumps({
            "model_dir": str(model_dir), "dt": dt, "n_samples": int(current.size),
            "solver": chosen.value, "segments": result.segments, "run_s": result.run_s,
            "spike_times": times, "window": response.window, "features": response.features,
        }))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"{len(times)} spikes in {current.size * dt:.6g} s ({chosen.value}, "
                  f"{result.segments} segments, {result.run_s:.2f} s)")
    console.print("spike times (s): " + " ".join(f"{x:.6f}" for x in times))
    table = Table(title="features over the stimulus")
    table.add_column("feature")
    table.add_column("value", justify="right")
    for name, value in response.features.items():
        table.add_row(name, "" if value is None else f"{value:.6g}")
    console.print(table)


def _mod_files(model_dir: Path, modfiles: Path | None, root: Path | None, db: str | None
               ) -> list[Path]:
    from ctmirror.biophys.mechanisms import mod_files_in
    from ctmirror.biophys.simulate import PERISOMATIC_TEMPLATE_ID

    if modfiles is not None:
        return mod_files_in(modfiles)
    own = model_dir / "modfiles"
    if own.is_dir() and any(own.glob("*.mod")):
        return mod_files_in(own)
    template = _template_id(model_dir) or PERISOMATIC_TEMPLATE_ID
    from ctmirror.biophys.mirrored import mirrored_mod_files
    from ctmirror.settings import Settings
    from ctmirror.warehouse.engine import create_warehouse_engine

    given: dict[str, Any] = {"root": root} if root is not None else {}
    if db is not None:
        given["warehouse"] = {"url": db}
    settings = Settings(**given)
    engine = create_warehouse_engine(settings.warehouse_url(), read_only=True,
                                     mirror_root=settings.local_root)
    try:
        return mirrored_mod_files(engine, settings.local_root, template)
    finally:
        engine.dispose()


def _template_id(model_dir: Path) -> int | None:
    """The template named by the package's ``neuronal_model.json`` (the download has one)."""
    record = model_dir / "neuronal_model.json"
    if not record.is_file():
        return None
    try:
        value = json.loads(record.read_text()).get("neuronal_model_template_id")
    except (ValueError, AttributeError):
        raise InputError(f"{record}: not a NeuronalModel record") from None
    return int(value) if value is not None else None
