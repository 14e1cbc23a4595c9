"""Cell-level ephys features of this project against ipfx 2.1.2 on the same NWB files, in one run.

Usage::

    python bench/bench_ephys.py FILE_OR_DIR [...] --ipfx-python /tmp/ipfx-ref/bin/python \
        [--json OUT.json]

ipfx cannot share the project's environment, so it runs in its own interpreter (a virtualenv
with ``ipfx==2.1.2``), called by this script once per file through ``--worker``: it reads the
file with the NWB 1 adapter of ``bench/ipfx_read_check.py``, runs
``extract_data_set_features`` and reports its cell record and its time. This project's side
reads the same file (``recordings_from_nwb``) and runs ``cell_features`` with the ``ipfx``
definitions. Times exclude interpreter start-up and imports; both include reading the file.
Agreement: a (cell, column) pair agrees when both are empty or within 1% of ipfx's value.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).parent


def worker(path: str) -> None:
    """Run inside the ipfx interpreter: print ipfx's record and seconds as one JSON line."""
    import importlib.util
    import warnings

    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.CRITICAL)
    spec = importlib.util.spec_from_file_location("ipfx_read_check",
                                                  HERE / "ipfx_read_check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    from ipfx.data_set_features import extract_data_set_features
    from ipfx.dataset.ephys_data_set import EphysDataSet

    ontology = check.StimulusOntology(
        check.ju.read(check.StimulusOntology.DEFAULT_STIMULUS_ONTOLOGY_FILE))
    started = time.perf_counter()
    data = check.Nwb1PipelineData(path, ontology)
    data_set = EphysDataSet(data=data, sweep_info=data.sweep_info())
    _, _, record, _, _, _ = extract_data_set_features(data_set)
    seconds = time.perf_counter() - started
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else
                 (v.item() if hasattr(v, "item") else v)) for k, v in record.items()}
    print(json.dumps({"seconds": seconds, "record": clean}))


def ours(path: Path) -> tuple[float, dict[str, object], int | None, int | None]:
    from etl.features.ephys import IPFX
    from etl.features.ephys.cell import CELL_STIMULI, cell_features
    from etl.readers.ephys import recordings_from_nwb

    started = time.perf_counter()
    recordings, _ = recordings_from_nwb(path, CELL_STIMULI)
    cell = cell_features(recordings, IPFX)
    return (time.perf_counter() - started, cell.values, cell.rheobase_sweep_number,
            cell.hero_sweep_number)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--ipfx-python", type=Path)
    parser.add_argument("--worker")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    if args.ipfx_python is None or not args.paths:
        parser.error("give NWB files or directories and --ipfx-python")
    from etl.features.ephys.cell import CELL_FEATURES

    files = [p for arg in args.paths for p in (sorted(arg.rglob("*.nwb")) if arg.is_dir()
                                               else [arg])]
    rows = []
    per_feature: dict[str, list[bool]] = {name: [] for name in CELL_FEATURES}
    ours(files[0])  # warm-up: numba and scipy imports
    print(f"{'file':<26} {'ipfx s':>8} {'ours s':>8} {'speed-up':>9} {'agree':>7}")
    for path in files:
        done = subprocess.run([str(args.ipfx_python), __file__, "--worker", str(path)],
                              capture_output=True, text=True, check=True)
        reference = json.loads(done.stdout.strip().splitlines()[-1])
        seconds, values, rheobase, hero = ours(path)
        record = reference["record"]
        agree = []
        for name in CELL_FEATURES:
            got, want = values.get(name), record.get(name)
            same = (got is None and want is None) or (
                got is not None and want is not None
                and abs(got - want) <= 0.01 * abs(want) + 1e-9)
            agree.append(same)
            per_feature[name].append(same)
        rows.append({"file": path.name, "ipfx_s": reference["seconds"], "ours_s": seconds,
                     "agree": sum(agree), "pairs": len(agree),
                     "rheobase_same": rheobase == record.get("rheobase_sweep_num"),
                     "hero_same": hero == record.get("thumbnail_sweep_num")})
        print(f"{path.name[:26]:<26} {reference['seconds']:>8.2f} {seconds:>8.2f} "
              f"{reference['seconds'] / seconds:>8.1f}x {sum(agree):>3}/{len(agree)}")
    pairs = sum(r["pairs"] for r in rows)
    agreeing = sum(r["agree"] for r in rows)
    speedups = [r["ipfx_s"] / r["ours_s"] for r in rows]
    summary = {
        "cells": len(rows),
        "pairs_agreeing": agreeing,
        "pairs": pairs,
        "median_speedup": statistics.median(speedups),
        "total_speedup": sum(r["ipfx_s"] for r in rows) / sum(r["ours_s"] for r in rows),
        "rheobase_same": sum(r["rheobase_same"] for r in rows),
        "hero_same": sum(r["hero_same"] for r in rows),
        "features_below_95pct": {name: f"{sum(v)}/{len(v)}" for name, v in per_feature.items()
                                 if v and sum(v) < 0.95 * len(v)},
    }
    print(f"\n{len(rows)} cells: {agreeing}/{pairs} (cell, column) pairs within 1% of ipfx "
          f"({100 * agreeing / pairs:.1f}%); rheobase sweep the same in "
          f"{summary['rheobase_same']}, hero sweep in {summary['hero_same']}; "
          f"per-cell speed-up median {summary['median_speedup']:.1f}x, "
          f"total {summary['total_speedup']:.1f}x")
    if summary["features_below_95pct"]:
        print("columns agreeing for fewer than 95% of cells:", summary["features_below_95pct"])
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "cells": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
