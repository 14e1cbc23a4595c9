"""NWB to Parquet conversion against a plain h5py read of the same sweeps, and file sizes.

Usage::

    python bench/bench_nwb_parquet.py FILE_OR_DIR [...] [--repeat 3] [--json OUT.json]

For each NWB file, in one process and one run:

* **raw read**: h5py opens the file and reads every sweep's stimulus and response samples
  (``dataset[()]``: decompression included), which is the least any conversion must do;
* **convert**: ``convert_nwb_to_parquet`` writes the file's ``sweeps`` Parquet file;
* **sizes**: the Parquet file against the NWB file;
* **one sweep**: reading one sweep's response back, through DuckDB from the Parquet file
  (``WHERE sweep_number = N``) and through h5py from the NWB file.

Times are medians of ``--repeat`` runs after one warm-up. The goal is conversion within 1.5x
the raw read and Parquet no larger than the NWB. Directories are searched for ``*.nwb``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import h5py
import numpy as np

from ctmirror.convert.nwb_sweeps import RESPONSES, STIMULI, convert_nwb_to_parquet, sweep_numbers


def raw_read(path: Path) -> int:
    """Read every sweep's samples with h5py; return the number of samples."""
    samples = 0
    with h5py.File(path, "r") as nwb:
        for number in sweep_numbers(nwb):
            for group in (RESPONSES, STIMULI):
                data = nwb.get(f"{group}/Sweep_{number}/data")
                if data is not None:
                    samples += data[()].size
    return samples


def _median_s(func: Callable[[], object], repeat: int) -> float:
    return _median_wall_cpu_s(func, repeat)[0]


def _median_wall_cpu_s(func: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds (all threads of this process) of ``repeat`` runs. On a
    loaded machine the CPU seconds are the steadier comparison: the conversion's writer thread
    overlaps the read only when a core is free."""
    func()
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        func()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def bench_file(path: Path, out_dir: Path, repeat: int) -> dict[str, object]:
    out = out_dir / f"{path.stem}.parquet"
    samples = raw_read(path)
    read_s, read_cpu_s = _median_wall_cpu_s(lambda: raw_read(path), repeat)
    convert_s, convert_cpu_s = _median_wall_cpu_s(
        lambda: convert_nwb_to_parquet(path, out, specimen_id=1, well_known_file_id=1), repeat)
    with h5py.File(path, "r") as nwb:
        numbers = sweep_numbers(nwb)
        sizes = {n: nwb[f"{RESPONSES}/Sweep_{n}/data"].size for n in numbers}
    number = max(sizes, key=sizes.__getitem__)  # the longest sweep: the least favourable
    connection = duckdb.connect()
    query = f"SELECT response FROM read_parquet('{out}') WHERE sweep_number = {number}"

    def duckdb_sweep() -> object:
        return connection.execute(query).fetchnumpy()["response"]

    def h5py_sweep() -> object:
        with h5py.File(path, "r") as nwb:
            return nwb[f"{RESPONSES}/Sweep_{number}/data"][()]

    with h5py.File(path, "r") as nwb:
        expected = nwb[f"{RESPONSES}/Sweep_{number}/data"][()]
    got = np.asarray(connection.execute(query).fetchone()[0], dtype=np.float32)
    if not np.array_equal(got, expected):
        raise SystemExit(f"{path}: sweep {number} read back from Parquet differs from the NWB")
    return {
        "file": path.name,
        "sweeps": len(numbers),
        "samples": samples,
        "nwb_bytes": path.stat().st_size,
        "parquet_bytes": out.stat().st_size,
        "raw_read_s": read_s,
        "convert_s": convert_s,
        "raw_read_cpu_s": read_cpu_s,
        "convert_cpu_s": convert_cpu_s,
        "one_sweep": number,
        "one_sweep_samples": sizes[number],
        "one_sweep_duckdb_s": _median_s(duckdb_sweep, repeat),
        "one_sweep_h5py_s": _median_s(h5py_sweep, repeat),
    }


def _files(args: list[Path]) -> list[Path]:
    found: list[Path] = []
    for arg in args:
        found.extend(sorted(arg.rglob("*.nwb")) if arg.is_dir() else [arg])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    files = _files(args.paths)
    if not files:
        print("no .nwb files found", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'file':<28} {'sweeps':>6} {'MB nwb':>8} {'size x':>7} {'read s':>7} "
              f"{'conv s':>7} {'time x':>7} {'1 sweep duckdb/h5py ms':>23}")
        for path in files:
            row = bench_file(path, Path(tmp), args.repeat)
            rows.append(row)
            print(f"{path.name[:28]:<28} {row['sweeps']:>6} {row['nwb_bytes'] / 1e6:>8.1f} "
                  f"{row['parquet_bytes'] / row['nwb_bytes']:>7.2f} {row['raw_read_s']:>7.3f} "
                  f"{row['convert_s']:>7.3f} {row['convert_s'] / row['raw_read_s']:>7.2f} "
                  f"{1e3 * row['one_sweep_duckdb_s']:>11.1f} / {1e3 * row['one_sweep_h5py_s']:.1f}")
    total = {key: sum(r[key] for r in rows)
             for key in ("nwb_bytes", "parquet_bytes", "raw_read_s", "convert_s", "samples",
                         "raw_read_cpu_s", "convert_cpu_s")}
    summary = {
        "files": len(rows),
        "samples": total["samples"],
        "size_ratio": total["parquet_bytes"] / total["nwb_bytes"],
        "time_ratio": total["convert_s"] / total["raw_read_s"],
        "cpu_ratio": total["convert_cpu_s"] / total["raw_read_cpu_s"],
        "convert_msamples_per_s": total["samples"] / total["convert_s"] / 1e6,
        "raw_read_msamples_per_s": total["samples"] / total["raw_read_s"] / 1e6,
        "one_sweep_ratio_median": statistics.median(
            r["one_sweep_duckdb_s"] / r["one_sweep_h5py_s"] for r in rows),
    }
    print(f"\n{len(rows)} files, {total['samples'] / 1e6:.1f} M samples: Parquet is "
          f"{summary['size_ratio']:.2f}x the NWB size (goal <= 1.0); conversion takes "
          f"{summary['time_ratio']:.2f}x the raw h5py read (goal <= 1.5; CPU seconds "
          f"{summary['cpu_ratio']:.2f}x): "
          f"{summary['convert_msamples_per_s']:.0f} vs {summary['raw_read_msamples_per_s']:.0f} "
          f"M samples/s; one sweep via DuckDB takes {summary['one_sweep_ratio_median']:.2f}x "
          "the h5py read (median)")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "files": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
