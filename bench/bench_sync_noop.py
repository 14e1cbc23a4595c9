"""A first sync and a no-op re-sync of a replica corpus, stage by stage, side by side.

    python bench/bench_sync_noop.py --snapshot DIR [--build-from REALDATA --nwb-cells 0]
                                    [--root DIR] [--runs 2]

With ``--build-from`` the snapshot is first built (``ctmirror corpus build``) unless it exists.
The snapshot is served by ``ctmirror replica serve`` in its own process; the syncs run in this
one with the stages of ``ctmirror.sync.STEPS`` (as ``--no-prefect`` runs them) against an
empty mirror root. For each sync it prints every stage's wall seconds, CPU seconds (this
process and the workers it waited for, not the replica) and peak RSS (this
process's high-water mark, reset before each stage through ``/proc/self/clear_refs``, and
the largest worker process's RSS in the stage, sampled every 50 ms), the closing steps
(analyst views, data tests, published copy; "skipped" where a sync that changed nothing did
not run them), the total, and the no-op re-sync's share of the first sync.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

CTMIRROR = str(Path(sys.executable).with_name("ctmirror"))


def _reset_peak() -> None:
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_mb() -> float:
    """This process's peak RSS since the last reset, MB."""
    with contextlib.suppress(OSError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: The replica's pid: a child of this process that stands for the API, not a worker.
_NOT_WORKERS: set[int] = set()


class _WorkerPeak:
    """The largest RSS of any worker process (a descendant of this one, the replica aside)
    while the block runs, sampled every 50 ms: worker pools outlive a stage, so the kernel's
    high-water mark of the children (``RUSAGE_CHILDREN``) cannot say which stage peaked."""

    def __init__(self) -> None:
        self.mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _WorkerPeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while True:
            for child in me.children(recursive=True):
                if child.pid in _NOT_WORKERS:
                    continue
                with contextlib.suppress(psutil.Error):
                    self.mb = max(self.mb, child.memory_info().rss / 2**20)
            if self._done.wait(0.05):
                return


def _cpu_s() -> float:
    """CPU seconds of this process and of the workers it has waited for (not the replica's:
    it stands for the API)."""
    own, workers = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                        resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


class Timings:
    def __init__(self) -> None:
        #: name, wall s, CPU s, peak RSS MB, largest worker's RSS in the stage MB
        self.rows: list[tuple[str, float, float, float, float]] = []

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        _reset_peak()
        began, cpu = time.perf_counter(), _cpu_s()
        workers = _WorkerPeak()
        try:
            with workers:
                yield
        finally:
            self.rows.append((name, time.perf_counter() - began, _cpu_s() - cpu, _peak_mb(),
                              workers.mb))

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(name):
                return function(*args, **kwargs)
        return timed


def one_sync(config: Any) -> Timings:
    """One sync as ``run_sync_locally`` runs it, each stage and closing step timed."""
    import ctmirror.sync as sync
    import ctmirror.warehouse.analyst as analyst
    import ctmirror.warehouse.published as published

    timings = Timings()
    patches = [(analyst, "publish_analyst_layer", "analyst views"),
               (sync, "run_data_tests", "data tests"),
               (published, "publish_copy", "published copy")]
    originals = [getattr(module, attr) for module, attr, _ in patches]
    for (module, attr, name), original in zip(patches, originals, strict=True):
        setattr(module, attr, timings.wrap(name, original))
    try:
        began, cpu = time.perf_counter(), _cpu_s()
        with sync.run_lock(config):
            with timings.stage("open run"):
                handle = sync.open_run(config)
            with sync.close_out(config, handle):
                reports = {}
                for step in sync.STEPS:
                    with timings.stage(step.name):
                        reports[step.name] = step.run(config, handle.sync_id, False)
                    print(f"  {step.name}: {timings.rows[-1][1]:.1f} s  "
                          f"{sync.summary(reports[step.name])}", flush=True)
                sync.finish_run(config, handle, reports)
        timings.rows.append(("total", time.perf_counter() - began, _cpu_s() - cpu,
                             max(row[3] for row in timings.rows),
                             max(row[4] for row in timings.rows)))
    finally:
        for (module, attr, _), original in zip(patches, originals, strict=True):
            setattr(module, attr, original)
    return timings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def replica(snapshot: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([CTMIRROR, "replica", "serve", "--snapshot", str(snapshot),
                             "--port", str(port)], stdout=subprocess.PIPE, text=True)
    _NOT_WORKERS.add(proc.pid)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "serving" not in line:
            raise SystemExit(f"the replica did not start: {line.strip()}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, required=True)
    parser.add_argument("--build-from", type=Path, help="real data to build the snapshot from")
    parser.add_argument("--nwb-cells", type=int, default=0)
    parser.add_argument("--root", type=Path, help="mirror root (default: a temporary folder)")
    parser.add_argument("--runs", type=int, default=2, help="syncs in a row (the first fills)")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")

    if args.build_from and not (args.snapshot / "snapshot.json").exists():
        from ctmirror.replica.corpus.build import build_corpus

        began = time.perf_counter()
        build_corpus(args.build_from, args.snapshot, nwb_cells=args.nwb_cells, seed=0)
        print(f"built {args.snapshot} with {args.nwb_cells} NWB cells in "
              f"{time.perf_counter() - began:.0f} s", flush=True)

    from ctmirror.settings import ApiSettings, Settings

    root = args.root or Path(tempfile.mkdtemp(prefix="bench-sync-"))
    if root.exists() and any(root.iterdir()) and args.root is None:
        raise SystemExit(f"{root} is not empty")
    runs: list[Timings] = []
    try:
        with replica(args.snapshot) as api:
            config = Settings(root=root, api=ApiSettings(base_url=api)).sync_config()
            for n in range(args.runs):
                print(f"sync {n + 1}", flush=True)
                runs.append(one_sync(config))
    finally:
        if args.root is None:
            shutil.rmtree(root, ignore_errors=True)

    # A sync that changed nothing skips the closing steps: a row per step any sync ran.
    names = list(dict.fromkeys(name for r in runs for name, *_ in r.rows))
    print(f"{'stage':<20}" + "".join(f"{f'sync {n + 1} s':>11}{'CPU s':>8}{'RSS MB':>8}"
                                     f"{'workers':>8}" for n in range(len(runs))))
    for name in names:
        cells = ""
        for r in runs:
            row = next((row for row in r.rows if row[0] == name), None)
            cells += (f"{row[1]:>11.2f}{row[2]:>8.2f}{row[3]:>8.0f}{row[4]:>8.0f}"
                      if row is not None else f"{'skipped':>11}{'':>24}")
        print(f"{name:<20}{cells}")
    first, first_cpu = runs[0].rows[-1][1:3]
    for n, r in enumerate(runs[1:], start=2):
        wall, cpu = r.rows[-1][1:3]
        print(f"sync {n} (no-op) / sync 1: {wall:.1f} s / {first:.1f} s = "
              f"{100 * wall / first:.1f} % wall; {cpu:.1f} / {first_cpu:.1f} CPU s = "
              f"{100 * cpu / first_cpu:.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
