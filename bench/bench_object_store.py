"""A sync to a local root and to an S3 root (moto's server on loopback), side by side: the
download and convert stages of a first sync and of a no-op re-sync, and what was put.

    python bench/bench_object_store.py [--cells 12] [--nwb-cells 3]

The synthetic corpus is served by the replica in a thread; the derived feature and GLIF
stages are left out (they put their datasets the way convert does). Needs the ``s3`` and
``test`` extras (s3fs, moto).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

BUCKET = "bench"


def _sync(api_base: str, root: str, work: Path) -> dict[str, float]:
    from ctmirror.settings import Settings
    from ctmirror.sync import run_sync_locally

    settings = Settings()
    settings.root = root
    settings.work_dir = work
    settings.api.base_url = api_base
    settings.features.ephys = settings.features.morphology = settings.features.glif = False
    result = run_sync_locally(settings.sync_config())
    assert not result.errors, result.errors
    download = result.stages["download"]
    return {"download s": result.stage_seconds["download"],
            "convert s": result.stage_seconds["convert"],
            "total s": sum(result.stage_seconds.values()),
            "files fetched": download.done,
            "files put": download.counts.get("uploaded", 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=12)
    parser.add_argument("--nwb-cells", type=int, default=3)
    args = parser.parse_args()

    import boto3
    from moto.server import ThreadedMotoServer

    from ctmirror.replica.corpus.synth import build_synthetic_snapshot
    from ctmirror.replica.server import serve_in_thread

    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / "snapshot"
        build_synthetic_snapshot(snapshot, cells=args.cells, seed=7, nwb_cells=args.nwb_cells)
        rows: dict[str, dict[str, float]] = {}
        with serve_in_thread(snapshot) as replica:
            for name, root in (("local", str(Path(tmp) / "local")),
                               ("s3", f"s3://{BUCKET}/mirror")):
                work = Path(tmp) / f"work-{name}"
                rows[f"{name} first"] = _sync(replica.base_url, root, work)
                rows[f"{name} re-sync"] = _sync(replica.base_url, root, work)
    server.stop()
    columns = list(next(iter(rows.values())))
    print(f"{'':16}" + "".join(f"{c:>14}" for c in columns))
    for name, row in rows.items():
        print(f"{name:16}" + "".join(f"{row[c]:>14.2f}" for c in columns))
    for stage in ("download s", "convert s"):
        print(f"s3 / local, first sync, {stage[:-2]}: "
              f"{rows['s3 first'][stage] / rows['local first'][stage]:.2f}")


if __name__ == "__main__":
    main()
