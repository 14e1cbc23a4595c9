"""The derived stages of a replica corpus on 1 and 2 Dask workers against this process alone,
side by side, and a projection to more workers from the measured per-item times.

    python bench/bench_scaleout.py --snapshot DIR [--workers 1 2] [--project 16]

The snapshot is served by ``ctmirror replica serve``; one sync without the derived stages fills
a base mirror (files downloaded, nothing converted or computed). Each configuration then runs
the derived stages of ``ctmirror.sync.STEPS`` on its own copy of that mirror (hard links for
the files, a copy of the warehouse), after an untimed warm-up pass (imports, numba's compile
cache): ``serial`` computes every item in this process, timing each ``compute``; ``dask:N``
on a ``LocalCluster`` of N worker processes (its start included). The copies must end
identical (``tests/digest.py``), or the run says which tables or files differ.

Projection to W workers, per stage: the makespan of the measured item times scheduled
longest-first on W workers (LPT, within 4/3 of the optimum), plus the stage's writes (its
serial wall time less its items' compute time: one process writes the warehouse), plus the
cluster start measured with 2 workers; the stages that compute in-process stay serial.
"""

from __future__ import annotations

import argparse
import heapq
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench_sync_noop import replica

REPO = Path(__file__).resolve().parents[1]


def lpt_makespan(seconds: list[float], workers: int) -> float:
    """Longest-processing-time-first schedule of the items on ``workers``: its makespan."""
    loads = [0.0] * max(1, workers)
    for item in sorted(seconds, reverse=True):
        heapq.heapreplace(loads, loads[0] + item)
    return max(loads)


def _copy_mirror(base: Path, to: Path) -> None:
    """The files as hard links (the derived stages only add files), the warehouse copied."""
    def link_or_copy(source: str, target: str) -> None:
        if Path(source).name.startswith("warehouse"):
            shutil.copy2(source, target)
        else:
            os.link(source, target)

    shutil.copytree(base, to, copy_function=link_or_copy)


@contextmanager
def timed_compute(times: dict[str, list[float]]) -> Iterator[None]:
    """Every derived stage's ``compute`` timed per item (when it runs in this process)."""
    from ctmirror.sync import STEPS

    stages = [step.stage for step in STEPS if step.stage is not None]
    originals = {stage: stage.__dict__["compute"] for stage in stages}

    def timing(name: str, compute: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def run(item: Any) -> Any:
            began = time.perf_counter()
            try:
                return compute(item)
            finally:
                times[name].append(time.perf_counter() - began)
        return run

    for stage, original in originals.items():
        stage.compute = staticmethod(timing(stage.name, original.__func__))  # type: ignore[method-assign]
    try:
        yield
    finally:
        for stage, original in originals.items():
            stage.compute = original  # type: ignore[method-assign]


def derived_stages(config: Any) -> tuple[dict[str, float], dict[str, Any]]:
    """Each derived stage's wall seconds and report, run as the sync runs them."""
    from ctmirror.sync import STEPS

    seconds, reports = {}, {}
    for step in STEPS:
        if step.stage is None:
            continue
        began = time.perf_counter()
        reports[step.name] = step.run(config, "bench-scaleout", False)
        seconds[step.name] = time.perf_counter() - began
        print(f"    {step.name}: {seconds[step.name]:.1f} s  {reports[step.name].summary()}",
              flush=True)
    return seconds, reports


def cluster_start_seconds(workers: int) -> float:
    from ctmirror.item_runner import compute_items

    began = time.perf_counter()
    list(compute_items(abs, [-1], workers=1, dask=f"local:{workers}"))
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, required=True)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--project", type=int, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the untimed first pass of the derived stages")
    parser.add_argument("--work", type=Path, help="folder for the mirrors (default: temporary)")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    sys.path.insert(0, str(REPO))
    from ctmirror.settings import Settings
    from ctmirror.sync import run_sync_locally
    from tests.digest import differences, mirror_digest

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    try:
        with replica(args.snapshot) as api:
            base = Settings()
            base.root = work / "base"
            base.api.base_url = api
            base.files.convert = False
            base.features.ephys = base.features.morphology = base.features.glif = False
            began = time.perf_counter()
            result = run_sync_locally(base.sync_config())
            print(f"base mirror (no derived stages): {time.perf_counter() - began:.0f} s, "
                  f"{len(result.errors)} errors", flush=True)

        times: dict[str, list[float]] = defaultdict(list)
        runs: dict[str, dict[str, float]] = {}
        digests: dict[str, dict[str, Any]] = {}
        # the first pass pays the one-off costs (imports, numba's compile cache) for all
        warmup = ["warm-up"] if args.warmup else []
        for name in [*warmup, "serial", *(f"dask:{n}" for n in args.workers)]:
            root = work / name.replace(":", "-")
            _copy_mirror(work / "base", root)
            settings = Settings()
            settings.root = root
            settings.api.base_url = "http://127.0.0.1:9"  # the derived stages need no API
            settings.features.workers = 1
            settings.features.dask = f"local:{name[5:]}" if name.startswith("dask") else None
            print(f"  {name}", flush=True)
            if name == "serial":
                with timed_compute(times):
                    runs[name], _ = derived_stages(settings.sync_config())
            else:
                runs[name], _ = derived_stages(settings.sync_config())
            digests[name] = mirror_digest(root)
            shutil.rmtree(root)
        runs.pop("warm-up", None)
        digests.pop("warm-up", None)
        start = cluster_start_seconds(2)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)

    stages = list(runs["serial"])
    print(f"\n{'stage':<22}" + "".join(f"{name + ' s':>12}" for name in runs)
          + f"{'items':>7}{'item s (max)':>14}")
    for stage in stages:
        item_times = times.get(stage, [])
        print(f"{stage:<22}" + "".join(f"{run[stage]:>12.1f}" for run in runs.values())
              + f"{len(item_times):>7}{sum(item_times):>8.1f} ({max(item_times, default=0):.1f})")
    serial = sum(runs["serial"].values())
    print(f"{'total':<22}" + "".join(f"{sum(run.values()):>12.1f}" for run in runs.values()))
    for name, run in runs.items():
        print(f"speed-up {name}: {serial / sum(run.values()):.2f}x")
    for name, digest in digests.items():
        diff = differences(digests["serial"], digest)
        print(f"{name} = serial (warehouse rows and files): "
              f"{'yes' if not diff else 'NO: ' + '; '.join(diff[:5])}")

    from ctmirror.sync import STEPS

    in_process = {step.name for step in STEPS if step.stage is not None
                  and step.stage.in_process}
    print(f"\nprojection (LPT of the measured item times + serial writes + cluster start "
          f"{start:.1f} s; in-process stages {sorted(in_process)} stay serial)")
    for workers in args.project:
        total = start
        for stage in stages:
            item_times = times.get(stage, [])
            writes = max(0.0, runs["serial"][stage] - sum(item_times))
            total += writes + lpt_makespan(item_times, 1 if stage in in_process else workers)
        print(f"  {workers:>3} workers: {total:8.1f} s  speed-up {serial / total:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
