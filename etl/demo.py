"""`ctmirror demo`: the whole job offline, against a replica serving a synthetic corpus."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

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


def run_demo(root: Path, *, cells: int, use_prefect: bool) -> None:
    import sqlalchemy as sa

    from ctmirror.replica.corpus.synth import build_synthetic_snapshot
    from ctmirror.replica.server import serve_in_thread
    from ctmirror.sync import run_sync_locally
    from ctmirror.sync_report import print_sync_result
    from ctmirror.warehouse.engine import create_warehouse_engine

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
                      f"--root {config.root}" + ("" if use_prefect else " --no-prefect"))
        if use_prefect:
            from ctmirror.prefect_env import configure_prefect

            configure_prefect(config.root)
            from ctmirror.flows.sync import run_sync_flow

            result = run_sync_flow(config, show_progress=True)
        else:
            result = run_sync_locally(config, progress=True)
        print_sync_result(result, console=console)
    console.print("[bold]4/4[/] the documentation's example queries, answered offline by SQL:")
    engine = create_warehouse_engine(config.warehouse_url, read_only=True)
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
    finally:
        engine.dispose()
    console.print(f"\nTry: ctmirror sql --root {config.root} "
                  "\"SELECT sweep_number, stimulus_name, num_samples FROM sweeps LIMIT 5\"")
