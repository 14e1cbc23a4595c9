"""A mirror for the web benchmarks: the corpus built from the published data (with recordings),
synced with every derived stage and the GLIF voltages kept.

    python bench/web_mirror.py --realdata DIR --out DIR [--nwb-cells N]

Writes ``DIR/snapshot`` (the corpus) and ``DIR/mirror`` (the synced mirror); does nothing for a
part that already exists.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


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
