"""Point an unmodified AllenSDK at a replica and exercise what labs use.

AllenSDK pins numpy<1.24, so it lives in its own virtualenv; run this script with that
interpreter while a replica serves (``ctmirror replica serve --snapshot DIR --port 8500``):

    python -m venv sdk && sdk/bin/pip install allensdk==2.16.2
    sdk/bin/python bench/allensdk_compat.py http://127.0.0.1:8500 OUT_DIR

Prints one line per check and exits non-zero if any failed.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path


def main(base_url: str, out: Path) -> int:
    from allensdk.api.queries.cell_types_api import CellTypesApi
    from allensdk.api.queries.glif_api import GlifApi
    from allensdk.core.nwb_data_set import NwbDataSet

    api = CellTypesApi(base_uri=base_url)
    glif = GlifApi(base_uri=base_url)
    state: dict[str, object] = {}
    failures = 0

    def check(name: str, fn) -> None:  # noqa: ANN001
        nonlocal failures
        try:
            print(f"ok    {name}: {fn()}")
        except Exception:  # report every failure, keep checking
            failures += 1
            print(f"FAIL  {name}:\n{traceback.format_exc()}")

    def list_cells() -> str:
        cells = api.list_cells_api()
        state["cells"] = cells
        nwb_cell = next(c for c in cells if c["specimen__id"] == 320654829) if any(
            c["specimen__id"] == 320654829 for c in cells) else cells[0]
        state["cell"] = nwb_cell["specimen__id"]
        return f"{len(cells)} cells"

    def sweeps() -> str:
        rows = api.get_ephys_sweeps(state["cell"])
        state["sweeps"] = rows
        return f"{len(rows)} sweeps of {state['cell']}"

    def nwb() -> str:
        path = out / f"{state['cell']}.nwb"
        api.save_ephys_data(state["cell"], str(path))
        data = NwbDataSet(str(path))
        numbers = data.get_sweep_numbers()
        sweep = data.get_sweep(numbers[len(numbers) // 2])
        spikes = sum(len(data.get_spike_times(n)) for n in numbers)
        return (f"{path.stat().st_size} bytes, {len(numbers)} sweeps, rate "
                f"{sweep['sampling_rate']:.0f} Hz, {len(sweep['response'])} samples in a sweep, "
                f"{spikes} spike times")

    def features() -> str:
        return f"{len(api.get_ephys_features())} ephys feature rows"

    def morphology() -> str:
        return f"{len(api.get_morphology_features())} morphology feature rows"

    def glif_configs() -> str:
        # a cell with published GLIF models (the documentation's example), else the NWB cell
        with_glif = [c["specimen__id"] for c in state["cells"] if (c.get("m__glif") or 0) > 0]
        cell = 469803127 if 469803127 in with_glif else (with_glif or [state["cell"]])[0]
        models = glif.get_neuronal_models([cell])
        ids = [m["id"] for s in models for m in s["neuronal_models"]]
        configs = glif.get_neuron_configs(ids[:3]) if ids else {}
        return f"{len(ids)} GLIF models, {len(configs)} configs read"

    for name, fn in [("list_cells_api", list_cells), ("get_ephys_sweeps", sweeps),
                     ("save_ephys_data + NwbDataSet", nwb), ("get_ephys_features", features),
                     ("get_morphology_features", morphology), ("GlifApi", glif_configs)]:
        check(name, fn)
    return 1 if failures else 0


if __name__ == "__main__":
    out_dir = Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    sys.exit(main(sys.argv[1], out_dir))
