"""Time and memory of ctmirror's morphology features against NeuroM on the same SWC files.

Usage::

    python bench/bench_morphology.py FILE_OR_DIR [...] [--repeat 5] [--json OUT.json]

Both sides read the file and compute a comparable set of whole-cell features in this process:
ctmirror all 27 registered columns (``read_swc`` + ``compute_morphology_features``), NeuroM the
counterparts it has (sections, bifurcations, tips, length, area, volume, radial and path
distances, branch orders, local and remote bifurcation angles, tortuosity). Times are the median
of ``--repeat`` runs after one warm-up run; peak memory is what ``tracemalloc`` sees during one
run (Python and numpy allocations; NeuroM's MorphIO parser allocates in C++, which it cannot see).
NeuroM is an optional dependency (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

from ctmirror.errors import SwcError
from ctmirror.features.morphology import compute_morphology_features
from ctmirror.readers.swc import read_swc

NEUROM_FEATURES = (
    "number_of_sections",
    "number_of_bifurcations",
    "number_of_leaves",
    "total_length",
    "total_area",
    "total_volume",
    "max_radial_distance",
    "section_path_distances",
    "section_branch_orders",
    "local_bifurcation_angles",
    "remote_bifurcation_angles",
    "section_tortuosity",
)


def run_ctmirror(path: Path) -> object:
    return compute_morphology_features(read_swc(path))


def run_neurom(path: Path) -> object:
    import neurom

    morph = neurom.load_morphology(path)
    return {name: neurom.features.get(name, morph) for name in NEUROM_FEATURES}


def _timed(func: Callable[[Path], object], path: Path, repeat: int) -> dict[str, float]:
    func(path)  # warm-up: imports, numba cache load
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func(path)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    func(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds": statistics.median(times), "peak_mib": peak / 2**20}


def bench_file(path: Path, repeat: int) -> dict[str, object]:
    row: dict[str, object] = {"file": path.name}
    try:
        row["nodes"] = read_swc(path).n_nodes
        row["ctmirror"] = _timed(run_ctmirror, path, repeat)
    except SwcError as exc:
        row["ctmirror_error"] = str(exc)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row["neurom"] = _timed(run_neurom, path, repeat)
    except Exception as exc:  # NeuroM/MorphIO raise many types for files they refuse
        row["neurom_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    if "ctmirror" in row and "neurom" in row:
        ours, theirs = row["ctmirror"], row["neurom"]
        row["speedup"] = theirs["seconds"] / ours["seconds"]  # type: ignore[index]
    return row


def _files(args: list[Path]) -> list[Path]:
    found: list[Path] = []
    for arg in args:
        if arg.is_dir():
            found.extend(sorted(p for p in arg.rglob("*.swc") if "marker" not in p.name))
        else:
            found.append(arg)
    return found


def print_table(rows: list[dict[str, object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="ctmirror vs NeuroM (median seconds per file; peak traced MiB)")
    for column in (
        "file",
        "nodes",
        "ctmirror s",
        "NeuroM s",
        "NeuroM/ctmirror",
        "ctm MiB",
        "NeuroM MiB",
    ):
        table.add_column(column, justify="left" if column == "file" else "right")
    for row in rows:
        ours = row.get("ctmirror") or {}
        theirs = row.get("neurom") or {}
        table.add_row(
            str(row["file"]),
            str(row.get("nodes", "-")),
            f"{ours['seconds']:.4f}" if ours else "error",  # type: ignore[index]
            f"{theirs['seconds']:.4f}" if theirs else "error",  # type: ignore[index]
            f"{row['speedup']:.1f}x" if "speedup" in row else "-",
            f"{ours['peak_mib']:.1f}" if ours else "-",  # type: ignore[index]
            f"{theirs['peak_mib']:.1f}" if theirs else "-",  # type: ignore[index]
        )
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="SWC files or folders of them")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write per-file results and totals as JSON")
    args = parser.parse_args(argv)
    rows = [bench_file(path, args.repeat) for path in _files(args.paths)]
    both = [r for r in rows if "speedup" in r]
    summary = {
        "files": len(rows),
        "compared": len(both),
        "ctmirror_seconds": sum(r["ctmirror"]["seconds"] for r in both),  # type: ignore[index]
        "neurom_seconds": sum(r["neurom"]["seconds"] for r in both),  # type: ignore[index]
    }
    if both:
        summary["total_ratio"] = summary["neurom_seconds"] / summary["ctmirror_seconds"]
        summary["median_ratio"] = statistics.median(r["speedup"] for r in both)  # type: ignore[misc]
    print_table(rows)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "files": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
