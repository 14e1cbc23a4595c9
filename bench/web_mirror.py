"""A mirror for the web benchmarks: the corpus built from the published data (with recordings),
synced with every derived stage and the GLIF voltages kept.

    python bench/web_mirror.py --realdata DIR --out DIR [--nwb-cells N]

Writes ``DIR/snapshot`` (the corpus) and ``DIR/mirror`` (the synced mirror); does nothing for a
part that already exists.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--window-size=1400,1000")


def build_mirror(realdata: Path, out: Path, *, nwb_cells: int = 2) -> Path:
    from ctmirror.replica.corpus.build import build_corpus
    from ctmirror.replica.server import serve_in_thread
    from ctmirror.settings import Settings
    from ctmirror.sync import run_sync_locally

    snapshot, root = out / "snapshot", out / "mirror"
    if not (snapshot / "snapshot.json").exists() and not snapshot.exists():
        started = time.perf_counter()
        build_corpus(realdata, snapshot, nwb_cells=nwb_cells, seed=0)
        print(f"corpus built in {time.perf_counter() - started:.0f} s", flush=True)
    if not (root / "warehouse.published.duckdb").exists():
        settings = Settings()
        settings.root = root
        settings.warehouse.url = f"duckdb:///{root / 'warehouse.duckdb'}"
        settings.features.glif_voltages = True
        started = time.perf_counter()
        with serve_in_thread(snapshot) as replica:
            settings.api.base_url = replica.base_url
            result = run_sync_locally(settings.sync_config())
        print(f"synced in {time.perf_counter() - started:.0f} s, errors: {result.errors}",
              flush=True)
    return root


@contextmanager
def serving(root: Path) -> Iterator[str]:
    """``ctmirror serve`` over the mirror at ``root`` in its own process; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctmirror = Path(sys.executable).with_name("ctmirror")
    process = subprocess.Popen([str(ctmirror), "serve", "--root", str(root), "--port", str(port),
                                "--no-access-log", "--poll", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(30)


def chromium(**capabilities: Any) -> Any:
    """Debian's headless Chromium through Selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    for name, value in capabilities.items():
        options.set_capability(name, value)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_for(driver: Any, script: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError(script)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--realdata", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--nwb-cells", type=int, default=2)
    args = parser.parse_args()
    print(build_mirror(args.realdata, args.out, nwb_cells=args.nwb_cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
