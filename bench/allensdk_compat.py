"""Point an unmodified AllenSDK at a replica and exercise what labs use.

AllenSDK pins numpy<1.24, so it lives in its own virtualenv; run this script with that
interpreter while a replica serves (``ctmirror replica serve --snapshot DIR --port 8500``):

    python -m venv sdk && sdk/bin/pip install allensdk==2.16.2
    sdk/bin/python bench/allensdk_compat.py http://127.0.0.1:8500 OUT_DIR [--nrnivmodl PATH]

The checks: ``CellTypesApi.list_cells`` (the deprecated Specimen query joining ``products`` and
including the specimens' tags, reporter, layer, soma location and donor lines, organism and
conditions: every cell's post-processed values must equal its cell row) and ``list_cells_api``;
``CellTypesCache`` ephys and morphology features, an NWB file read back with ``NwbDataSet``, a
reconstruction and its markers; ``GlifApi.get_neuron_configs``;
``BiophysicalApi.cache_data`` of a biophysical model, whose downloaded NEURON mechanisms
(``modfiles/``) are then compiled with ``nrnivmodl`` when its path is given.

Prints one line per check and exits non-zero if any failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

BIOPHYSICAL_TEMPLATES = (329230710, 491455321)


def list_cells_mismatches(cell: dict[str, Any], row: dict[str, Any] | None) -> list[str]:
    """Where a cell as ``CellTypesApi.list_cells`` post-processes it (tag names split on
    ``' - '``, ``donor.organism.name``, the driver transgenic line, ``cell_reporter.name``, the
    disease conditions) disagrees with its ``ApiCellTypesSpecimenDetail`` row."""
    if row is None:
        return [f"{cell['id']}: no cell row"]
    drivers = [n for n in (row.get("line_name") or "").split("|") if n]
    locations = cell["cell_soma_locations"]
    depth = locations[0]["normalized_depth"] if locations else None
    layer = cell["cortex_layer"]["name"] if cell.get("cortex_layer") else None
    human = str(row["donor__species"]).lower() == "homo sapiens"
    pairs = [
        ("species", cell["species"], row["donor__species"]),
        ("dendrite_type", cell.get("dendrite_type"), row["tag__dendrite_type"]),
        ("apical", cell.get("apical"), row["tag__apical"]),
        ("reporter_status", cell["reporter_status"], row["cell_reporter_status"]),
        ("disease_categories", cell["disease_categories"],
         [row["donor__disease_state"]] if row.get("donor__disease_state") else []),
        ("transgenic_line", cell["transgenic_line"] in (drivers or [None]), True),
        ("normalized_depth", depth, row["csl__normalized_depth"]),
        ("cortex_layer", layer, row["structure__layer"] if human else None),
    ]
    return [f"{cell['id']} {name} {got!r} != {want!r}" for name, got, want in pairs if got != want]


def main(base_url: str, out: Path, nrnivmodl: str | None) -> int:
    from allensdk.api.queries.biophysical_api import BiophysicalApi
    from allensdk.api.queries.cell_types_api import CellTypesApi
    from allensdk.api.queries.glif_api import GlifApi
    from allensdk.core.cell_types_cache import CellTypesCache
    from allensdk.core.nwb_data_set import NwbDataSet

    api = CellTypesApi(base_uri=base_url)
    cache = CellTypesCache(manifest_file=str(out / "cell_types" / "manifest.json"),
                           base_uri=base_url)
    glif = GlifApi(base_uri=base_url)
    state: dict[str, Any] = {}
    failures = 0

    def check(name: str, fn: Callable[[], str]) -> None:
        nonlocal failures
        try:
            print(f"ok    {name}: {fn()}", flush=True)
        except Exception:  # report every failure, keep checking
            failures += 1
            print(f"FAIL  {name}:\n{traceback.format_exc()}", flush=True)

    def query(model: str, criteria: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = api.model_query(model, criteria=criteria, num_rows="all")
        return rows

    def list_cells() -> str:
        cells = api.list_cells()
        if not cells:
            raise AssertionError("no cells")
        rows = {r["specimen__id"]: r for r in api.model_query(
            "ApiCellTypesSpecimenDetail", num_rows="all")}
        problems = [p for cell in cells for p in list_cells_mismatches(cell, rows.get(cell["id"]))]
        if problems:
            raise AssertionError(f"{len(problems)} values differ from the cell rows: "
                                 + "; ".join(problems[:10]))
        species = sorted({str(c["species"]) for c in cells})
        reconstructed = sum(c["has_reconstruction"] for c in cells)
        return (f"{len(cells)} cells ({', '.join(species)}), {reconstructed} reconstructed; "
                "species, dendrite type, apical, reporter status, disease state, driver line, "
                "soma depth and human layer equal the cell rows")

    def list_cells_api() -> str:
        cells = api.list_cells_api()
        state["cells"] = cells
        nwb = {s["id"] for s in query(
            "Specimen",
            "ephys_result(well_known_files(well_known_file_type[name$eqNWBDownload]))")}
        state["nwb_cells"] = sorted(nwb)
        state["reconstructed"] = sorted(
            c["specimen__id"] for c in cells if c.get("nr__reconstruction_type"))
        return (f"{len(cells)} cells, {len(nwb)} with NWB, "
                f"{len(state['reconstructed'])} reconstructed")

    def ephys_features() -> str:
        return f"{len(cache.get_ephys_features())} ephys feature rows"

    def morphology_features() -> str:
        return f"{len(cache.get_morphology_features())} morphology feature rows"

    def ephys_data() -> str:
        nwb_cells = state["nwb_cells"]
        cell = 320654829 if 320654829 in nwb_cells else nwb_cells[0]
        data = cache.get_ephys_data(cell)
        assert isinstance(data, NwbDataSet)
        numbers = data.get_sweep_numbers()
        sweep = data.get_sweep(numbers[len(numbers) // 2])
        start, stop = sweep["index_range"]
        spikes = sum(len(data.get_spike_times(n)) for n in numbers)
        return (f"specimen {cell}: {len(numbers)} sweeps, rate {sweep['sampling_rate']:.0f} Hz, "
                f"sweep {numbers[len(numbers) // 2]} has {len(sweep['response'])} samples "
                f"(experiment {start}..{stop}, unit {sweep['stimulus_unit']}), "
                f"{spikes} spike times")

    def reconstruction() -> str:
        cell = state["reconstructed"][0]
        morphology = cache.get_reconstruction(cell)
        state["reconstruction_cell"] = cell
        return (f"specimen {cell}: {len(morphology.compartment_list)} compartments, "
                f"soma at ({morphology.soma['x']:.1f}, {morphology.soma['y']:.1f})")

    def markers() -> str:
        cell = state["reconstruction_cell"]
        found = cache.get_reconstruction_markers(cell)
        names = sorted({int(m["name"]) for m in found})
        return f"specimen {cell}: {len(found)} markers, codes {names}"

    def glif_configs() -> str:
        # a cell with published GLIF models (the documentation's example), else any GLIF cell
        with_glif = [c["specimen__id"] for c in state["cells"] if (c.get("m__glif") or 0) > 0]
        cell = 469803127 if 469803127 in with_glif else with_glif[0]
        models = glif.get_neuronal_models([cell])
        ids = [m["id"] for s in models for m in s["neuronal_models"]]
        configs = glif.get_neuron_configs(ids[:3])
        if not configs or not all(c.get("type") == "GLIF" for c in configs.values()):
            raise AssertionError(f"GLIF configs of {ids[:3]}: {configs!r:.200}")
        return f"specimen {cell}: {len(ids)} GLIF models, {len(configs)} configs read"

    def biophysical() -> str:
        # a model whose cell has an NWB file and a reconstruction: cache_data needs both
        usable = set(state["nwb_cells"]) & set(state["reconstructed"])
        bio = BiophysicalApi(base_uri=base_url)
        found = bio.get_neuronal_models(sorted(usable)) if usable else []
        if not found:
            raise AssertionError("no biophysical model of a cell with NWB and reconstruction")
        model = min(found, key=lambda m: (m["neuronal_model_template_id"], m["id"]))
        work = out / f"biophysical_{model['id']}"
        shutil.rmtree(work, ignore_errors=True)
        bio.cache_data(model["id"], working_directory=str(work))
        mods = sorted(p.name for p in (work / "modfiles").glob("*.mod"))
        if not mods:
            raise AssertionError(f"no .mod files in {work / 'modfiles'}")
        state["biophysical_work"] = work
        return (f"model {model['id']} ({bio.model_type}): {len(mods)} mechanism files, "
                f"files {sorted(p.name for p in work.iterdir())}")

    def compile_mechanisms() -> str:
        assert nrnivmodl is not None
        work = state["biophysical_work"]
        run = subprocess.run([nrnivmodl, "modfiles"], cwd=work, capture_output=True, text=True,
                             env={**os.environ, "PATH": f"{Path(nrnivmodl).parent}:"
                                  f"{os.environ.get('PATH', '')}"}, check=False)
        libraries = sorted(str(p.relative_to(work)) for p in work.glob("*/libnrnmech*"))
        if run.returncode != 0 or not libraries:
            raise AssertionError(f"nrnivmodl exit {run.returncode}:\n{run.stdout[-2000:]}"
                                 f"\n{run.stderr[-2000:]}")
        return f"nrnivmodl built {', '.join(libraries)}"

    checks: list[tuple[str, Callable[[], str]]] = [
        ("CellTypesApi.list_cells", list_cells),
        ("CellTypesApi.list_cells_api", list_cells_api),
        ("CellTypesCache.get_ephys_features", ephys_features),
        ("CellTypesCache.get_morphology_features", morphology_features),
        ("CellTypesCache.get_ephys_data + NwbDataSet.get_sweep", ephys_data),
        ("CellTypesCache.get_reconstruction", reconstruction),
        ("CellTypesCache.get_reconstruction_markers", markers),
        ("GlifApi.get_neuron_configs", glif_configs),
        ("BiophysicalApi.cache_data", biophysical),
    ]
    if nrnivmodl:
        checks.append(("nrnivmodl modfiles", compile_mechanisms))
    for name, fn in checks:
        check(name, fn)
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="the replica, e.g. http://127.0.0.1:8500")
    parser.add_argument("out", type=Path, help="a scratch folder for the downloads")
    parser.add_argument("--nrnivmodl", help="NEURON's nrnivmodl, to compile the mechanisms")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sys.exit(main(args.base_url, args.out, args.nrnivmodl))
