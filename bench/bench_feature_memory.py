"""Peak memory and time of a derived stage's per-cell compute, one cell per fresh process,
and whether its outputs equal a saved earlier run.

    python bench/bench_feature_memory.py FILE [...] [--definitions NAME] [--save DIR]
                                         [--compare DIR]
    python bench/bench_feature_memory.py FILE [...] --glif CONFIG [...] [--voltages]
                                         [--save DIR] [--compare DIR]

Each FILE is a ``sweeps`` Parquet file (as the conversion writes it) or an NWB file, which is
converted first (into a temporary directory, outside the measured process). For each file a
new interpreter runs the ephys-features stage's ``compute_cell`` once, as a worker of the sync
does, or with ``--glif`` the GLIF stage's ``compute_cell`` with the models of the given
``neuron_config.json`` files (or model zips holding one), writing their voltage traces with
``--voltages``; it reports its peak RSS (``ru_maxrss``), wall and CPU seconds. ``--save DIR``
pickles each outcome (without its ``computed_at`` or timings); ``--compare DIR`` checks that
the outcome equals the one saved there: the cell row, the sweep rows and the spike table, or
each model's row values, spike table and voltage traces (by digest), value for value (NaN
equal to NaN).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any


def worker(path: str, definitions: str, save: str | None) -> None:
    """Run in the fresh process: compute one cell and print peak RSS and seconds as JSON."""
    from ctmirror.sync_features import CellTask, compute_cell

    task = CellTask(specimen_id=0, well_known_file_id=0, sha256="", path=Path(path),
                    definitions=definitions)
    _measure(lambda: compute_cell(task), _comparable, save,
             lambda outcome: outcome if isinstance(outcome, str) else None)


def glif_worker(path: str, configs: list[str], voltages: str | None, save: str | None) -> None:
    """Run in the fresh process: run one cell's GLIF models and print peak RSS and seconds."""
    from ctmirror.sync_glif import CellTask, compute_cell

    models = tuple((k, _neuron_config(Path(config))) for k, config in enumerate(configs, 1))
    task = CellTask(specimen_id=0, recording_file_id=0, path=Path(path), models=models,
                    voltage_root=Path(voltages) if voltages else None)
    _measure(lambda: compute_cell(task),
             lambda outcomes: {o.neuronal_model_id: _glif_comparable(task, o) for o in outcomes},
             save, lambda outcomes: "; ".join(o.error for o in outcomes if o.error) or None)


def _measure(compute: Callable[[], Any], comparable: Callable[[Any], Any], save: str | None,
             failed: Callable[[Any], str | None]) -> None:
    """Run ``compute`` and print its peak RSS, wall and CPU seconds and failure as JSON;
    pickle its comparable outcome to ``save`` (after the peak is taken)."""
    import resource

    began, cpu = time.perf_counter(), time.process_time()
    outcome = compute()
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if save:
        with open(save, "wb") as f:
            pickle.dump(comparable(outcome), f)
    print(json.dumps({"peak_mib": peak_mib, "seconds": seconds, "cpu": cpu,
                      "failed": failed(outcome)}))


def _neuron_config(path: Path) -> Any:
    """A ``neuron_config.json`` document, from the file or from the model zip holding it."""
    if path.suffix == ".zip":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith("neuron_config.json"))
            return json.loads(archive.read(name))
    return json.loads(path.read_text())


def _glif_comparable(task: Any, outcome: Any) -> Any:
    """A GLIF outcome's values, spikes and voltage traces (a digest per sweep)."""
    import hashlib

    import pyarrow.parquet as pq

    from ctmirror.schema.parquet import GLIF_VOLTAGES

    traces = []
    if task.voltage_root is not None and outcome.values.get("voltages_written"):
        parquet = pq.ParquetFile(GLIF_VOLTAGES.file_path(
            task.voltage_root, task.specimen_id, outcome.neuronal_model_id))
        for group in range(parquet.num_row_groups):
            table = parquet.read_row_group(group)
            voltage = table.column("voltage").combine_chunks().values.to_numpy(
                zero_copy_only=False)
            traces.append((table.column("sweep_number").to_pylist(),
                           table.column("sampling_rate_hz").to_pylist(),
                           hashlib.sha256(voltage.tobytes()).hexdigest()))
    return {"values": outcome.values, "error": outcome.error, "voltages": traces,
            "spikes": None if outcome.spikes is None else outcome.spikes.to_pydict()}


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
    parser.add_argument("--glif", nargs="+", metavar="CONFIG", type=Path,
                        help="run the GLIF stage's compute with these models "
                             "(neuron_config.json files or model zips)")
    parser.add_argument("--voltages", action="store_true",
                        help="with --glif, also write the voltage traces")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-save", help=argparse.SUPPRESS)
    parser.add_argument("--worker-voltages", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.glif:
            glif_worker(args.worker, [str(c) for c in args.glif], args.worker_voltages,
                        args.worker_save)
        else:
            worker(args.worker, args.definitions, args.worker_save)
        return
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    print(f"{'file':<32} {'peak MiB':>9} {'seconds':>8} {'CPU s':>8}  outputs")
    with tempfile.TemporaryDirectory() as scratch:
        for given in args.files:
            path = _sweeps_file(given, Path(scratch))
            name = given.stem
            saved = (args.save or Path(scratch)) / f"{name}.pickle"
            mode = ["--definitions", args.definitions]
            if args.glif:
                mode = ["--glif", *map(str, args.glif)]
                if args.voltages:
                    mode += ["--worker-voltages", str(Path(scratch) / f"voltages-{name}")]
            run = subprocess.run(
                [sys.executable, __file__, "--worker", str(path), *mode,
                 "--worker-save", str(saved)],
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
            print(f"{name:<32} {result['peak_mib']:>9.0f} {result['seconds']:>8.2f} "
                  f"{result['cpu']:>8.2f}  {verdict}", flush=True)


if __name__ == "__main__":
    main()
