"""`ctmirror glif` commands: run a GLIF model on a stimulus, and score spike trains (EVR)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ctmirror.commands.inputs import load_numbers, load_stimulus, require_positive
from ctmirror.errors import ConfigError

if TYPE_CHECKING:
    pass

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

ConfigOpt = Annotated[Path, typer.Option("--config", help="neuron_config.json of the model")]
StimulusOpt = Annotated[
    Path, typer.Option("--stimulus", help="Injected current in A, one value per sample (.npy)")
]
DtOpt = Annotated[
    float, typer.Option("--dt", help="Sampling interval in s (5e-6 for 200 kHz sweeps)")
]


@app.command()
def run(
    config: ConfigOpt,
    stimulus: StimulusOpt,
    dt: DtOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
    voltage: Annotated[
        Path | None,
        typer.Option("--voltage", help="Write the voltage trace (V relative to rest, NaN in "
                                       "spike cuts) to this .npy file"),
    ] = None,
) -> None:
    """Simulate a GLIF model as AllenSDK does and print its spikes (steps and times)."""
    from ctmirror.glif.simulate import simulate
    from ctmirror.readers.glif_config import read_glif_config

    require_positive("--dt", dt)
    model = read_glif_config(config)
    result = simulate(model, load_stimulus(stimulus), dt)
    if voltage is not None:
        import numpy as np

        np.save(voltage, result.voltage)
    if as_json:
        typer.echo(json.dumps({
            "level": model.level,
            "dt": dt,
            "n_samples": int(result.voltage.size),
            "spike_time_steps": result.spike_time_steps.tolist(),
            "grid_spike_times": result.grid_spike_times.tolist(),
            "interpolated_spike_times": result.interpolated_spike_times.tolist(),
            "bad_reset_step": result.bad_reset_step,
        }))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"GLIF{model.level}: {result.spike_time_steps.size} spikes "
                        f"in {result.voltage.size} samples")
    for column in ("step", "grid time (s)", "interpolated time (s)"):
        table.add_column(column, justify="right")
    for step, grid, interpolated in zip(result.spike_time_steps, result.grid_spike_times,
                                        result.interpolated_spike_times, strict=True):
        table.add_row(str(step), f"{grid:.6f}", f"{interpolated:.9f}")
    console = Console()
    console.print(table)
    if result.bad_reset_step is not None:
        console.print(f"[yellow]reset above threshold after the spike at step "
                      f"{result.bad_reset_step}: the run stopped there (as AllenSDK does)[/]")


@app.command()
def evr(
    data_spikes: Annotated[
        list[Path],
        typer.Option("--data-spikes", help="Spike times in s of one recorded repeat (.npy, or "
                                           "text with one number per line); repeat the option "
                                           "for every Noise 2 sweep"),
    ],
    dt: DtOpt,
    model_steps: Annotated[
        Path | None,
        typer.Option("--model-steps", help="The model's spike step indices (.npy or text), "
                                           "e.g. spike_time_steps from `glif run --json`"),
    ] = None,
    samples: Annotated[
        int | None, typer.Option("--samples", min=1, help="Sweep length in samples "
                                                          "(with --model-steps)")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Run this model instead of --model-steps")
    ] = None,
    stimulus: Annotated[
        Path | None, typer.Option("--stimulus", help="Stimulus (.npy, A) for --config; its "
                                                     "length is the sweep length")
    ] = None,
    sigma: Annotated[float, typer.Option("--sigma", help="Gaussian kernel sigma in s")] = 0.01,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Explained variance ratio of a model's spikes against recorded repeats (published method)."""
    from ctmirror.metrics.evr import explained_variance_ratio, spike_times_to_indices

    require_positive("--dt", dt)
    require_positive("--sigma", sigma)
    if (model_steps is None) == (config is None):
        raise ConfigError("give either --model-steps with --samples, or --config with --stimulus")
    if model_steps is not None:
        if samples is None:
            raise ConfigError("--model-steps needs --samples (the sweep length)")
        n_samples = samples
        steps = load_numbers(model_steps).astype("int64")
    else:
        if config is None or stimulus is None:
            raise ConfigError("--config needs --stimulus")
        from ctmirror.glif.simulate import simulate
        from ctmirror.readers.glif_config import read_glif_config

        current = load_stimulus(stimulus)
        n_samples = current.size
        steps = simulate(read_glif_config(config), current, dt).spike_time_steps
    data = [spike_times_to_indices(load_numbers(path), dt) for path in data_spikes]
    result = explained_variance_ratio(data, steps, n_samples, dt, sigma)
    if as_json:
        typer.echo(json.dumps({"explained_variance_ratio": result.ratio,
                               "ev_data": result.ev_data, "ev_model": result.ev_model,
                               "repeats": len(data), "n_samples": n_samples, "dt": dt,
                               "sigma": sigma}))
    else:
        typer.echo(f"explained_variance_ratio {result.ratio:.12g}  (model {result.ev_model:.6g}, "
                   f"data {result.ev_data:.6g}, {len(data)} repeats)")
