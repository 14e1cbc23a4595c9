"""An unmodified AllenSDK against a replica and against `ctmirror serve` of a mirror synced
from it: every answer must be equal and every downloaded file byte-identical.

AllenSDK pins numpy<1.24, so it lives in its own virtualenv; run this script with that
interpreter while both servers run::

    ctmirror replica serve --snapshot SNAPSHOT --port 8500 &
    ctmirror sync --api-base http://127.0.0.1:8500 --root MIRROR
    ctmirror serve --root MIRROR --port 8080 &
    sdk/bin/python bench/serve_allensdk_compare.py http://127.0.0.1:8500 \\
        http://127.0.0.1:8080 OUT_DIR

Each call runs twice, once per server, each with its own cache folder under OUT_DIR; answers
are compared as JSON (DataFrames as their records, NWB sweeps as the sha256 of their arrays),
then every file the two runs downloaded is compared by sha256. Prints one line per call and
exits non-zero if any answer or file differs.

The mirror may be on DuckDB or on PostgreSQL (``--db`` to both ``sync`` and ``serve``): its
``raw`` records are JSON text in the API's key order on both, so AllenSDK's cache files
(``cells.json``, the feature CSVs, whose columns follow the first record's keys) are
byte-identical too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def plain(value: Any) -> Any:
    """A JSON-comparable form: DataFrames as records, arrays as lists, NaN as None."""
    import math

    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        frame = value.sort_index(axis=1)
        return plain(json.loads(frame.to_json(orient="records")))
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class Calls:
    """The issue's AllenSDK calls against one server, with its own cache folder."""

    def __init__(self, base_url: str, out: Path) -> None:
        from allensdk.api.queries.biophysical_api import BiophysicalApi
        from allensdk.api.queries.cell_types_api import CellTypesApi
        from allensdk.api.queries.glif_api import GlifApi
        from allensdk.core.cell_types_cache import CellTypesCache

        self.out = out
        self.cache = CellTypesCache(manifest_file=str(out / "cell_types" / "manifest.json"),
                                    base_uri=base_url)
        self.api = CellTypesApi(base_uri=base_url)
        self.glif = GlifApi(base_uri=base_url)
        self.bio = BiophysicalApi(base_uri=base_url)

    def nwb_sweeps(self, specimen_id: int) -> dict[str, Any]:
        data = self.cache.get_ephys_data(specimen_id)
        sweeps = {}
        for number in data.get_sweep_numbers():
            sweep = data.get_sweep(number)
            digest = hashlib.sha256()
            for name in ("stimulus", "response"):
                digest.update(sweep[name].tobytes())
            sweeps[str(number)] = {
                "arrays_sha256": digest.hexdigest(),
                "sampling_rate": sweep["sampling_rate"],
                "index_range": list(sweep["index_range"]),
                "spike_times": data.get_spike_times(number),
            }
        return sweeps

    def reconstruction(self, specimen_id: int) -> list[dict[str, Any]]:
        morphology = self.cache.get_reconstruction(specimen_id)
        return list(morphology.compartment_list)

    def glif_models(self, specimen_id: int) -> dict[str, Any]:
        models = self.glif.get_neuronal_models([specimen_id])
        ids = [m["id"] for s in models for m in s["neuronal_models"]]
        return {"models": models, "configs": self.glif.get_neuron_configs(ids)}

    def biophysical(self, specimen_ids: list[int]) -> dict[str, Any]:
        found = self.bio.get_neuronal_models(specimen_ids)
        if not found:
            return {"models": []}
        model = min(found, key=lambda m: (m["neuronal_model_template_id"], m["id"]))
        work = self.out / f"biophysical_{model['id']}"
        self.bio.cache_data(model["id"], working_directory=str(work))
        files = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file())
        return {"models": found, "model": model["id"], "files": files}


def main(replica_url: str, serve_url: str, out: Path) -> int:
    replica = Calls(replica_url, out / "replica")
    served = Calls(serve_url, out / "serve")
    cells = replica.cache.get_cells()
    nwb = sorted(c["id"] for c in replica.api.model_query(
        "Specimen", criteria="ephys_result(well_known_files(well_known_file_type"
        "[name$eqNWBDownload]))", num_rows="all"))
    reconstructed = sorted(c["id"] for c in cells if c["reconstruction_type"])
    with_glif = sorted(c["specimen__id"] for c in replica.api.list_cells_api()
                       if (c.get("m__glif") or 0) > 0)
    a_cell = cells[0]["id"]
    calls: list[tuple[str, Callable[[Calls], Any]]] = [
        ("get_cells()", lambda c: c.cache.get_cells()),
        ("get_cells(require_reconstruction=True)",
         lambda c: c.cache.get_cells(require_reconstruction=True)),
        ("get_cells(species=[mouse])", lambda c: c.cache.get_cells(species=["Mus musculus"])),
        ("get_cells(species=[human])", lambda c: c.cache.get_cells(species=["Homo Sapiens"])),
        ("get_ephys_features()", lambda c: c.cache.get_ephys_features()),
        ("get_morphology_features()", lambda c: c.cache.get_morphology_features()),
        ("get_all_features(dataframe=True)",
         lambda c: c.cache.get_all_features(dataframe=True)),
        (f"get_ephys_sweeps({a_cell})", lambda c: c.cache.get_ephys_sweeps(a_cell)),
    ]
    if nwb:
        calls.append((f"get_ephys_data({nwb[0]}) + NwbDataSet sweeps",
                      lambda c: c.nwb_sweeps(nwb[0])))
    if reconstructed:
        calls += [
            (f"get_reconstruction({reconstructed[0]})",
             lambda c: c.reconstruction(reconstructed[0])),
            (f"get_reconstruction_markers({reconstructed[0]})",
             lambda c: c.cache.get_reconstruction_markers(reconstructed[0])),
        ]
    calls.append(("GlifApi.get_neuronal_model_templates()",
                  lambda c: c.glif.get_neuronal_model_templates()))
    if with_glif:
        calls.append((f"GlifApi models and configs of {with_glif[0]}",
                      lambda c: c.glif_models(with_glif[0])))
    usable = sorted(set(nwb) & set(reconstructed))
    calls.append(("BiophysicalApi.cache_data", lambda c: c.biophysical(usable)))

    failures = 0
    for name, call in calls:
        answers = []
        for side in (replica, served):
            try:
                answers.append(plain(call(side)))
            except Exception:
                answers.append({"error": traceback.format_exc(limit=3)})
        if answers[0] == answers[1] and "error" not in str(answers[0])[:10]:
            size = len(answers[0]) if hasattr(answers[0], "__len__") else 1
            print(f"equal  {name}: {size} items", flush=True)
        else:
            failures += 1
            print(f"DIFF   {name}:\n  replica: {str(answers[0])[:600]}\n"
                  f"  serve:   {str(answers[1])[:600]}", flush=True)

    ignored = {"manifest.json"}
    left = {str(p.relative_to(replica.out)): sha256_file(p) for p in replica.out.rglob("*")
            if p.is_file() and p.name not in ignored}
    right = {str(p.relative_to(served.out)): sha256_file(p) for p in served.out.rglob("*")
             if p.is_file() and p.name not in ignored}
    differing = sorted(k for k in left.keys() | right.keys() if left.get(k) != right.get(k))
    size = sum((replica.out / k).stat().st_size for k in left)
    if differing:
        failures += 1
        print(f"DIFF   files: {len(differing)} of {len(left)} differ: {differing[:20]}")
    else:
        print(f"equal  files: {len(left)} files, {size:,} bytes, byte-identical (sha256)")
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("replica_url", help="the replica, e.g. http://127.0.0.1:8500")
    parser.add_argument("serve_url", help="ctmirror serve of a mirror synced from it")
    parser.add_argument("out", type=Path, help="a scratch folder for the two caches")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sys.exit(main(args.replica_url, args.serve_url, args.out))
