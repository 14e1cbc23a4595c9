"""``Mirror.sweep()`` of a long sweep on a warm mirror: time and peak memory, beside the
whole-file read it replaces and the target (100 ms for a 1.5 M-sample sweep).

    python bench/bench_api_sweep.py MIRROR_ROOT [--samples 1500000] [--repeat 30]

Picks the sweep of the mirror whose sample count is nearest ``--samples`` (at least that
many when one exists), reads it once to warm the footer cache and the page cache, then times
``--repeat`` reads. Peak memory is the Arrow pool's and tracemalloc's (numpy) peak of one read
above what was allocated before it. The reference is ``pyarrow.parquet.read_table`` of the
cell's whole sweeps file with the same columns (what a reader without the row-group index
does).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

import ctmirror
from ctmirror.schema.parquet import SWEEPS

TARGET_MS = 100.0


def pick(root: Path, samples: int) -> tuple[int, int, int]:
    """(specimen, sweep number, samples) of the sweep nearest ``samples``."""
    rows = duckdb.connect().execute(
        "SELECT specimen_id, sweep_number, num_samples FROM read_parquet(?, "
        "hive_partitioning = false) ORDER BY num_samples < ?, abs(num_samples - ?) LIMIT 1",
        [str(SWEEPS.directory(root) / "*" / "*.parquet"), samples, samples]).fetchall()
    if not rows:
        sys.exit(f"no converted sweep under {SWEEPS.directory(root)}")
    specimen, number, count = rows[0]
    return int(specimen), int(number), int(count)


def timed(call: object, repeat: int) -> tuple[list[float], float, float]:
    """Milliseconds of each call; their median CPU milliseconds (all threads: what a call
    costs when the machine is shared with other work); the peak memory of one call in MB,
    Arrow's (a pool of its own for the call) plus numpy's (tracemalloc)."""
    times, cpu = [], []
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        call()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1e3)
        cpu.append((time.process_time() - used) * 1e3)
    default = pa.default_memory_pool()
    own = pa.proxy_memory_pool(default)
    pa.set_memory_pool(own)
    tracemalloc.start()
    try:
        result = call()  # type: ignore[operator]
        _, numpy_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        pa.set_memory_pool(default)
    arrow_peak = own.max_memory() or 0
    del result
    return times, statistics.median(cpu), (arrow_peak + numpy_peak) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="a synced mirror folder")
    parser.add_argument("--samples", type=int, default=1_500_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    specimen, number, count = pick(args.root, args.samples)
    files = sorted(SWEEPS.partition_directory(args.root, specimen).glob("*.parquet"))
    columns = ["sweep_number", "stimulus", "response", "stimulus_conversion",
               "response_conversion"]
    with ctmirror.open(args.root) as mirror:
        mirror.sweep(specimen, number)  # warm: footer cache, page cache
        ours, ours_cpu, ours_mb = timed(lambda: mirror.sweep(specimen, number), args.repeat)
    pq.read_table(files[0], columns=columns)
    whole, whole_cpu, whole_mb = timed(lambda: pq.read_table(files[0], columns=columns),
                            max(3, args.repeat // 5))
    median, reference = statistics.median(ours), statistics.median(whole)
    print(f"sweep {number} of cell {specimen}: {count:,} samples, file "
          f"{files[0].stat().st_size / 1e6:.1f} MB with {pq.ParquetFile(files[0]).num_row_groups}"
          " row groups")
    print(f"Mirror.sweep()        median {median:7.1f} ms  p90 "
          f"{sorted(ours)[int(len(ours) * 0.9)]:7.1f} ms  CPU {ours_cpu:6.1f} ms  "
          f"peak {ours_mb:6.1f} MB")
    print(f"read_table (whole file) median {reference:5.1f} ms  CPU {whole_cpu:6.1f} ms  "
          f"peak {whole_mb:6.1f} MB")
    print(f"per million samples: {median / count * 1e6:.1f} ms, so "
          f"{median / count * args.samples:.1f} ms for {args.samples:,}")
    print(f"ratio to the whole-file read {median / reference:.2f}; to the target "
          f"({TARGET_MS:.0f} ms) {median / TARGET_MS:.2f}")
    return 0 if median < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
