"""`ctmirror demo`: the whole job offline, against a replica serving a synthetic corpus."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from ctmirror.schema.ephys_recomputed import RECOMPUTED_FEATURES
from ctmirror.settings import Settings

#: The Allen documentation's example cell queries, as warehouse SQL.
EXAMPLE_QUERIES: dict[str, str] = {
    "all cells": "SELECT count(*) FROM api_cell_types_specimen_details WHERE removed_at IS NULL",
    "spiny": "SELECT count(*) FROM api_cell_types_specimen_details "
             "WHERE removed_at IS NULL AND tag__dendrite_type = 'spiny'",
    "layer 4": "SELECT count(*) FROM api_cell_types_specimen_details "
               "WHERE removed_at IS NULL AND structure__layer = '4'",
    "human": "SELECT count(*) FROM api_cell_types_specimen_details "
             "WHERE removed_at IS NULL AND lower(donor__species) = 'homo sapiens'",
    "epilepsy": "SELECT count(*) FROM api_cell_types_specimen_details "
                "WHERE removed_at IS NULL AND lower(donor__disease_state) = 'epilepsy'",
}

#: Queries over the mirrored files: the Parquet views and the model parameter tables.
FILE_QUERIES: dict[str, str] = {
    "files": "SELECT count(*) FROM mirror_files WHERE removed_at IS NULL",
    "sweeps": "SELECT count(*) FROM sweeps",
    "samples": "SELECT sum(num_samples) FROM sweeps",
    "swc nodes": "SELECT count(*) FROM reconstruction_nodes",
    "glif models": "SELECT count(*) FROM glif_neuron_configs",
}
#: Queries over what the sync recomputed from those files.
DERIVED_QUERIES: dict[str, str] = {
    "ephys cells": "SELECT count(*) FROM ephys_features_recomputed",
    "spikes": "SELECT count(*) FROM ephys_spikes",
    "reconstructions": "SELECT count(*) FROM morphology_features_recomputed "
                       "WHERE compartment = 'all'",
    "glif scored": "SELECT count(explained_variance_ratio) FROM model_metrics",
}
ONE_SWEEP = """
    SELECT s.specimen_id, c.specimen__name, s.sweep_number, s.stimulus_name,
           len(s.response) AS samples, round(1e3 * list_min(s.response), 1) AS min_mv,
           round(1e3 * list_max(s.response), 1) AS max_mv, len(s.spike_times_s) AS spikes
    FROM sweeps s JOIN api_cell_types_specimen_details c ON c.specimen__id = s.specimen_id
    WHERE s.stimulus_name = 'Long Square'
    ORDER BY len(s.spike_times_s) DESC, s.specimen_id, s.sweep_number LIMIT 1"""


#: Published and recomputed values agree within this fraction of the published value (ephys and
#: morphology features) or this difference (explained variance ratios).
RELATIVE_TOLERANCE = 0.01
EVR_TOLERANCE = 1e-6
#: The smallest difference that counts, for values published as 0.
_ZERO = 1e-9
EPHYS_COMPARISON = """
    SELECT specimen_id, feature, published, recomputed FROM ephys_features_comparison
    WHERE definitions = 'allen2016' ORDER BY specimen_id"""
MORPHOLOGY_COMPARISON = """
    SELECT feature, published, recomputed FROM morphology_features_comparison"""
GLIF_COMPARISON = """
    SELECT neuronal_model_id, specimen_id, level, published, recomputed FROM glif_evr_comparison
    ORDER BY specimen_id, level, neuronal_model_id"""


@dataclass(frozen=True)
class Agreement:
    """How many compared values agree: pairs where either value is there."""

    agreeing: int
    compared: int
    max_difference: float | None

    def line(self, what: str, tolerance: str) -> str:
        largest = "" if self.max_difference is None else \
            f" (largest difference {self.max_difference:.3g})"
        return f"{what}: {self.agreeing} of {self.compared} agree {tolerance}{largest}"


def agrees(published: float | None, recomputed: float | None, *, relative: float = 0.0,
           absolute: float = _ZERO) -> bool:
    """Whether two values agree: both there, within ``relative`` of the published value or
    ``absolute``, whichever is wider."""
    if published is None or recomputed is None:
        return False
    return abs(recomputed - published) <= max(relative * abs(published), absolute)


def agreement(pairs: Sequence[tuple[float | None, float | None]], *, relative: float = 0.0,
              absolute: float = _ZERO) -> Agreement:
    """The agreement of (published, recomputed) pairs; pairs with neither value are skipped."""
    compared = [(p, r) for p, r in pairs if p is not None or r is not None]
    differences = [abs(r - p) for p, r in compared if p is not None and r is not None]
    return Agreement(
        agreeing=sum(agrees(p, r, relative=relative, absolute=absolute) for p, r in compared),
        compared=len(compared), max_difference=max(differences, default=None))


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _pair(published: float | None, recomputed: float | None, mark: bool) -> str:
    def text(value: float | None) -> str:
        return "-" if value is None else f"{value:.6g}"

    sign = " " if published is None and recomputed is None else \
        "[green]✓[/]" if mark else "[red]✗[/]"
    return f"  {text(published):>11} {text(recomputed):>11} {sign}"


def print_comparisons(conn: Any, console: Console) -> None:
    """Published and recomputed values side by side, from the comparison views, with the
    agreement of each and a summary."""
    import sqlalchemy as sa

    rows = conn.execute(sa.text(EPHYS_COMPARISON)).all()
    cells = sorted({int(r.specimen_id) for r in rows})
    by_feature: dict[str, dict[int, tuple[float | None, float | None]]] = {}
    for row in rows:
        by_feature.setdefault(row.feature, {})[int(row.specimen_id)] = (
            _number(row.published), _number(row.recomputed))
    computable = [f for f in RECOMPUTED_FEATURES
                  if any(r is not None for _, r in by_feature.get(f, {}).values())]
    console.print("published and recomputed values side by side (ephys_features_comparison, "
                  "allen2016; ✓ within 1%):")
    console.print(f"  {'cell':<40}" + "".join(f"{cell:>27}" for cell in cells), soft_wrap=True)
    console.print(f"  {'':<40}" + f"{'published  recomputed':>27}" * len(cells),
                  soft_wrap=True)
    for feature in computable:
        pairs = [by_feature[feature].get(cell, (None, None)) for cell in cells]
        text = "".join(_pair(p, r, agrees(p, r, relative=RELATIVE_TOLERANCE)) for p, r in pairs)
        console.print(f"  {feature:<40}{text}", soft_wrap=True)
    empty = [f for f in RECOMPUTED_FEATURES if f in by_feature and f not in computable]
    if empty:
        console.print(f"  [dim]no recording gives a value for: {', '.join(empty)}[/]",
                      soft_wrap=True)
    ephys = agreement([pair for values in by_feature.values() for pair in values.values()],
                      relative=RELATIVE_TOLERANCE)

    models = conn.execute(sa.text(GLIF_COMPARISON)).all()
    scored = [m for m in models if m.recomputed is not None]
    console.print(f"GLIF explained variance ratios (glif_evr_comparison; ✓ within "
                  f"{EVR_TOLERANCE:g}), the {len(scored)} models whose cell has a recording:")
    for model in scored:
        published, recomputed = _number(model.published), _number(model.recomputed)
        mark = agrees(published, recomputed, absolute=EVR_TOLERANCE)
        console.print(f"  model {model.neuronal_model_id} GLIF{model.level} of cell "
                      f"{model.specimen_id}  {_pair(published, recomputed, mark)}",
                      soft_wrap=True)
    glif = agreement([(_number(m.published), _number(m.recomputed)) for m in scored],
                     absolute=EVR_TOLERANCE)
    morphology = agreement(
        [(_number(r.published), _number(r.recomputed))
         for r in conn.execute(sa.text(MORPHOLOGY_COMPARISON))],
        relative=RELATIVE_TOLERANCE)
    ephys_what = f"ephys values ({len(computable)} columns with values, {len(cells)} cells)"
    lines = (ephys.line(ephys_what, "within 1%"),
             glif.line("GLIF explained variance ratios", f"within {EVR_TOLERANCE:g}"),
             morphology.line("morphology features", "within 1%"))
    console.print("[bold]agreement[/]: " + "; ".join(lines), soft_wrap=True)


def run_demo(root: Path, *, cells: int, use_prefect: bool) -> None:
    import sqlalchemy as sa

    from ctmirror.replica.corpus.synth import build_synthetic_snapshot
    from ctmirror.replica.server import serve_in_thread
    from ctmirror.sync import run_sync_locally
    from ctmirror.sync_report import print_sync_result
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.published import reader_url

    console = Console()
    root = Path(root)
    snapshot = root / "replica-snapshot"
    if not (snapshot / "snapshot.json").is_file():
        console.print(f"[bold]1/4[/] building a synthetic corpus of {cells} cells in {snapshot}")
        build_synthetic_snapshot(snapshot, cells=cells, seed=1, nwb_cells=min(3, cells))
    else:
        console.print(f"[bold]1/4[/] reusing the corpus in {snapshot}")
    with serve_in_thread(snapshot) as replica:
        console.print(f"[bold]2/4[/] replica of the Allen API serving on {replica.base_url}")
        # The replica's address, over the API settings the environment gives (CTMIRROR_API__*).
        settings = Settings(root=root / "mirror")
        api = settings.api.model_copy(update={"base_url": replica.base_url})
        config = settings.model_copy(update={"api": api}).sync_config()
        console.print(f"[bold]3/4[/] ctmirror sync --api-base {replica.base_url} "
                      f"--root {config.root}" + ("" if use_prefect else " --no-prefect"),
                      soft_wrap=True)
        if use_prefect:
            from ctmirror.prefect_env import configure_prefect

            configure_prefect(config.root)
            from ctmirror.flows.sync import run_sync_flow

            result = run_sync_flow(config, show_progress=True)
        else:
            result = run_sync_locally(config, progress=True)
        print_sync_result(result, console=console)
    console.print("[bold]4/4[/] the documentation's example queries, answered offline by SQL:")
    engine = create_warehouse_engine(reader_url(config.warehouse_url), read_only=True,
                                     mirror_root=config.root)
    try:
        with engine.connect() as conn:
            for label, query in EXAMPLE_QUERIES.items():
                count = conn.execute(sa.text(query)).scalar_one()
                console.print(f"  {label:<10} {count:>6}   [dim]{query}[/]", soft_wrap=True)
            for heading, queries in (
                ("and over the mirrored files (Parquet views and parameter tables):",
                 FILE_QUERIES),
                ("and over what the sync recomputed from them (derived tables):",
                 DERIVED_QUERIES)):
                console.print(heading)
                for label, query in queries.items():
                    count = conn.execute(sa.text(query)).scalar_one() or 0
                    console.print(f"  {label:<15} {count:>10,}   [dim]{query}[/]",
                                  soft_wrap=True)
            sweep = conn.execute(sa.text(ONE_SWEEP)).mappings().first()
            if sweep is not None:
                console.print(
                    f"  one sweep: cell {sweep['specimen_id']} ({sweep['specimen__name']}) "
                    f"sweep {sweep['sweep_number']} {sweep['stimulus_name']}: "
                    f"{sweep['samples']:,} samples, {sweep['min_mv']} to {sweep['max_mv']} mV, "
                    f"{sweep['spikes']} spikes")
            print_comparisons(conn, console)
    finally:
        engine.dispose()
    import shlex
    import shutil

    # `make demo` runs the tool from .venv: say how to get `ctmirror` on the PATH when it is not
    activate = "" if shutil.which("ctmirror") else "source .venv/bin/activate, then "
    console.print(f"\nTry ({activate}from this folder): ctmirror sql --root "
                  f"{shlex.quote(str(root / 'mirror'))} "
                  "\"SELECT sweep_number, stimulus_name, num_samples FROM sweeps LIMIT 5\"",
                  soft_wrap=True, markup=False, highlight=False)
