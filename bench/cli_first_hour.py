"""What a new user waits for: the command line's start-up, and a peek at each Parquet view.

    python bench/cli_first_hour.py [--root demo/mirror]

Start-up: the import time of ``ctmirror.cli`` (``python -X importtime``, the cumulative
figure) and the wall time of ``ctmirror --help``, beside ``python -c "import typer"`` (the floor
any typer command line pays). Peek: ``ctmirror sql --root DIR "SELECT * FROM <view> LIMIT 1"``
for every Parquet view, wall time and peak RSS (``/usr/bin/time``) beside the same query
run by the DuckDB Python client on the published copy, and the lines printed. ``DIR`` is a
synced mirror (``make demo`` writes ``demo/mirror``). Each figure is the best of three runs.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ctmirror.schema.parquet import DATASETS

TIME = "/usr/bin/time"
CTMIRROR = str(Path(sys.executable).with_name("ctmirror"))


def timed(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB and stdout of ``command``, best of three."""
    best: tuple[float, float, str] | None = None
    for _ in range(3):
        proc = subprocess.run([TIME, "-f", "%e %M", *command], capture_output=True, text=True,
                              timeout=600, check=True)
        seconds, kilobytes = proc.stderr.strip().splitlines()[-1].split()
        run = (float(seconds), int(kilobytes) / 1024, proc.stdout)
        best = run if best is None or run[0] < best[0] else best
    assert best is not None
    return best


def import_seconds(module: str) -> float:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          capture_output=True, text=True, timeout=120, check=True)
    line = [ln for ln in proc.stderr.splitlines() if re.search(rf"\| {re.escape(module)}$", ln)]
    return int(line[-1].split("|")[1]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("demo/mirror"))
    args = parser.parse_args()
    if not shutil.which(TIME):
        sys.exit(f"{TIME} is needed for the peak RSS")

    cli, floor = (min(import_seconds(m) for _ in range(3)) for m in ("ctmirror.cli", "typer"))
    print(f"import ctmirror.cli {cli:.3f} s, import typer {floor:.3f} s "
          f"(ratio {cli / floor:.2f})")
    help_s = timed([CTMIRROR, "--help"])[0]
    bare_s = timed([sys.executable, "-c", "import typer"])[0]
    print(f"ctmirror --help {help_s:.2f} s wall, python -c 'import typer' {bare_s:.2f} s "
          f"(ratio {help_s / bare_s:.2f})")

    published = args.root / "warehouse.published.duckdb"
    print(f"\n{'view':<24}{'ctmirror s':>11}{'MB':>7}{'lines':>7}{'duckdb s':>10}{'MB':>7}"
          f"{'ratio s':>9}")
    for dataset in DATASETS:
        query = f'SELECT * FROM "{dataset.name}" LIMIT 1'
        ours = timed([CTMIRROR, "sql", "--root", str(args.root), query])
        reference = timed([sys.executable, "-c",
                           "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
                           "c.execute('SET file_search_path = ?', [sys.argv[2]]); "
                           "c.execute(sys.argv[3]).fetchall()",
                           str(published), str(args.root), query])
        print(f"{dataset.name:<24}{ours[0]:>11.2f}{ours[1]:>7.0f}"
              f"{len(ours[2].splitlines()):>7}{reference[0]:>10.2f}{reference[1]:>7.0f}"
              f"{ours[0] / reference[0]:>9.2f}")


if __name__ == "__main__":
    main()
