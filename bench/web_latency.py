"""Server time and time to first draw of the web pages of `ctmirror serve`.

    python bench/web_latency.py --mirror DIR [--specimen-id ID --sweep N]

``DIR`` is a mirror synced from the corpus built from the published data
(``bench/web_mirror.py``). The cell page is opened on a sweep of about 1.5 M samples (by
default the sweep closest to 1.5 M samples).

Server time: wall time of each request from a keep-alive client on the same machine (p50 and
the slowest of 20, and the first request after start-up, which loads the cell list). Time to
first draw: in headless Chromium, from navigation start to the first contentful paint (search)
or to the moment the sweep plot is drawn (cell page), with an empty cache (median and slowest
of fresh browsers), with Plotly's script cached (the page opened again), and in a fresh browser
that opened the search page first.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import httpx
from web_mirror import chromium, serving, wait_for

SEARCH = "/?species=mouse&dendrite_type=spiny"


def pick_sweep(base: str) -> tuple[int, int, int]:
    """(specimen, sweep, samples) of the sweep closest to 1.5 M samples, by SQL."""
    import subprocess
    import sys

    ctmirror = Path(sys.executable).with_name("ctmirror")
    del base
    out = subprocess.run(
        [str(ctmirror), "sql", "--root", str(ARGS.mirror), "--format", "csv",
         "SELECT specimen_id, sweep_number, num_samples FROM sweeps "
         "ORDER BY abs(num_samples - 1500000) LIMIT 1"],
        check=True, capture_output=True, text=True).stdout.splitlines()
    specimen, sweep, samples = (int(v) for v in out[1].split(","))
    return specimen, sweep, samples


def server_times(base: str, paths: list[str]) -> None:
    headers = {"Accept-Encoding": "gzip"}
    with httpx.Client(timeout=60) as client:
        print(f"{'request':<52} {'first ms':>9} {'p50 ms':>8} {'max ms':>8} {'bytes':>9}")
        for path in paths:
            times = []
            size = 0
            for _ in range(21):
                started = time.perf_counter()
                answer = client.get(base + path, headers=headers)
                times.append(1000 * (time.perf_counter() - started))
                answer.raise_for_status()
                size = len(answer.content)
            print(f"{path:<52} {times[0]:>9.1f} {statistics.median(times[1:]):>8.1f} "
                  f"{max(times[1:]):>8.1f} {size:>9}", flush=True)


def first_draws(base: str, cell_path: str, browsers: int) -> None:
    """Each page in ``browsers`` fresh browsers (empty cache), each then reloading it 3 times."""
    search_paint = ("const p = performance.getEntriesByType('paint')"
                    ".find(e => e.name === 'first-contentful-paint'); return p && p.startTime;")
    cell_draw = "return window.ctm && window.ctm.firstDraw;"
    print(f"{'page':<40} {'empty cache ms (median, max)':>28} {'cached ms':>10}")
    for label, path, script in (("search", SEARCH, search_paint),
                                ("cell page", cell_path, cell_draw)):
        cold, warm, scripts = [], [], []
        for _ in range(browsers):
            driver = chromium()
            try:
                driver.get(base + "/healthz")  # start the browser before timing
                driver.get(base + path)
                cold.append(wait_for(driver, script))
                if label == "cell page":  # Plotly and cell.js parsed and run
                    scripts.append(driver.execute_script("return window.ctm.scriptsReady"))
                for _ in range(3):
                    driver.get(base + path)
                    warm.append(wait_for(driver, script))
            finally:
                driver.quit()
        print(f"{label + ' ' + path:<40} {statistics.median(cold):>19.0f} {max(cold):>8.0f} "
              f"{statistics.median(warm):>10.0f}", flush=True)
        if scripts:
            print(f"{'  of which scripts ready (empty cache)':<40} "
                  f"{statistics.median(scripts):>19.0f} {max(scripts):>8.0f}", flush=True)
    # the usual way in: the search page first (which prefetches Plotly), then a cell
    after = []
    for _ in range(browsers):
        driver = chromium()
        try:
            driver.get(base + "/healthz")
            driver.get(base + SEARCH)
            wait_for(driver, search_paint)
            time.sleep(3)
            driver.get(base + cell_path)
            after.append(wait_for(driver, cell_draw))
        finally:
            driver.quit()
    print(f"{'cell page, opened after the search page':<40} {statistics.median(after):>19.0f} "
          f"{max(after):>8.0f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, required=True)
    parser.add_argument("--specimen-id", type=int)
    parser.add_argument("--sweep", type=int)
    parser.add_argument("--browsers", type=int, default=5,
                        help="fresh browsers per page for the empty-cache times")
    global ARGS
    ARGS = parser.parse_args()
    with serving(ARGS.mirror) as base:
        if ARGS.specimen_id is None or ARGS.sweep is None:
            specimen, sweep, samples = pick_sweep(base)
        else:
            specimen, sweep, samples = ARGS.specimen_id, ARGS.sweep, -1
        print(f"cell {specimen}, sweep {sweep} ({samples:,} samples)")
        cell = f"/cells/{specimen}?sweep={sweep}"
        server_times(base, ["/", SEARCH, cell, f"/web/api/sweep/{specimen}/{sweep}",
                            f"/web/api/sweep/{specimen}/{sweep}?t0=1.0&t1=1.05",
                            f"/web/api/fi/{specimen}", "/overview"])
        first_draws(base, cell, ARGS.browsers)
    return 0


ARGS: argparse.Namespace

if __name__ == "__main__":
    raise SystemExit(main())
