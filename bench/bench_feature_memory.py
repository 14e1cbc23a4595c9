"""Peak memory and time of the ephys-features stage's per-cell compute, one cell per fresh
process, and whether its outputs equal a saved earlier run.

    python bench/bench_feature_memory.py FILE [...] [--definitions NAME] [--save DIR]
                                         [--compare DIR]

Each FILE is a ``sweeps`` Parquet file (as the conversion writes it) or an NWB file, which is
converted first (into a temporary directory, outside the measured process). For each file a
new interpreter runs ``compute_cell`` once, as a worker of the sync does, and reports its peak
RSS (``ru_maxrss``) and wall seconds. ``--save DIR`` pickles each outcome (without its
``computed_at``); ``--compare DIR`` checks that the outcome equals the one saved there: the
cell row, the sweep rows and the spike table, value for value (NaN equal to NaN).
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def worker(path: str, definitions: str, save: str | None) -> None:
    """Run in the fresh process: compute one cell and print peak RSS and seconds as JSON."""
    import resource

    from ctmirror.sync_features import CellTask, compute_cell

    task = CellTask(specimen_id=0, well_known_file_id=0, sha256="", path=Path(path),
                    definitions=definitions)
    began = time.perf_counter()
    outcome = compute_cell(task)
    seconds = time.perf_counter() - began
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if save:
        with open(save, "wb") as f:
            pickle.dump(_comparable(outcome), f)
    print(json.dumps({"peak_mib": peak_mib, "seconds": seconds,
                      "failed": outcome if isinstance(outcome, str) else None}))


def _comparable(outcome: Any) -> Any:
    """The outcome's values without the time it was computed at."""
    if isinstance(outcome, str):
        return outcome
    cell = {k: v for k, v in outcome.cell_row.items() if k != "computed_at"}
    return {"cell": cell, "sweeps": outcome.sweep_rows, "spikes": outcome.spikes.to_pydict(),
            "spike_schema": str(outcome.spikes.schema)}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(type(a) is type(b) and a == b)


def _sweeps_file(path: Path, scratch: Path) -> Path:
    if path.suffix == ".parquet":
        return path
    from ctmirror.convert.nwb_sweeps import convert_nwb_to_parquet

    out = scratch / f"{path.stem}.parquet"
    convert_nwb_to_parquet(path, out, specimen_id=0, well_known_file_id=0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--definitions", default="allen2016")
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.definitions, args.worker_save)
        return
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    print(f"{'file':<32} {'peak MiB':>9} {'seconds':>8}  outputs")
    with tempfile.TemporaryDirectory() as scratch:
        for given in args.files:
            path = _sweeps_file(given, Path(scratch))
            name = given.stem
            saved = (args.save or Path(scratch)) / f"{name}.pickle"
            run = subprocess.run(
                [sys.executable, __file__, "--worker", str(path), "--definitions",
                 args.definitions, "--worker-save", str(saved)],
                capture_output=True, text=True, check=True)
            result = json.loads(run.stdout.strip().splitlines()[-1])
            verdict = "saved" if args.save else ""
            if args.compare:
                with open(args.compare / f"{name}.pickle", "rb") as f:
                    before = pickle.load(f)
                with open(saved, "rb") as f:
                    now = pickle.load(f)
                verdict = "identical" if _same(before, now) else "DIFFERENT"
            if result["failed"]:
                verdict += f" (failed: {result['failed']})"
            print(f"{name:<32} {result['peak_mib']:>9.0f} {result['seconds']:>8.2f}  {verdict}",
                  flush=True)


if __name__ == "__main__":
    main()
