"""Latency and throughput of `ctmirror serve` beside the replica it was synced from.

Both servers must serve the same corpus (the replica the snapshot, serve a mirror synced from
it)::

    python bench/serve_latency.py REPLICA_URL SERVE_URL --serve-pid PID --file-id WKF_ID

Three requests, each sequentially and from 32 concurrent clients (one keep-alive connection
each): a one-cell query (``ApiCellTypesSpecimenDetail`` by ``specimen__id``), the all-cells
query (``list_cells_api``'s), and a 50 MB download (the first 50 MB of ``--file-id`` by a Range
request, so any recording of at least that size will do). Reports p50/p99 latency, requests
per second and MB/s, and serve's resident memory (``/proc/PID/status`` VmRSS and VmHWM).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

import httpx

FILE_BYTES = 50 * 1024 * 1024
ALL_CELLS = ("/api/v2/data/query.json?q=model::ApiCellTypesSpecimenDetail,"
             "rma::options[num_rows$eq'all']")


def one_cell(specimen_id: int) -> str:
    return ("/api/v2/data/query.json?q=model::ApiCellTypesSpecimenDetail,rma::criteria,"
            f"[specimen__id$eq{specimen_id}],rma::options[num_rows$eq'all']")


def timed(client: httpx.Client, url: str, headers: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    answer = client.get(url, headers=headers)
    elapsed = time.perf_counter() - started
    if answer.status_code not in (200, 206):
        raise RuntimeError(f"{url}: HTTP {answer.status_code}")
    return elapsed, len(answer.content)


def run(base: str, path: str, headers: dict[str, str], *, clients: int, per_client: int
        ) -> dict[str, float]:
    latencies: list[float] = []
    sizes: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        with httpx.Client(timeout=120) as client:
            timed(client, base + path, headers)  # warm the connection
            for _ in range(per_client):
                elapsed, size = timed(client, base + path, headers)
                with lock:
                    latencies.append(elapsed)
                    sizes.append(size)

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "n": len(latencies),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "req_s": len(latencies) / wall,
        "mb_s": sum(sizes) / wall / 1e6,
    }


def rss_mb(pid: int) -> str:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return f"VmRSS {fields.get('VmRSS')}, peak VmHWM {fields.get('VmHWM')}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("replica_url")
    parser.add_argument("serve_url")
    parser.add_argument("--serve-pid", type=int, help="serve's process id, for its memory")
    parser.add_argument("--file-id", type=int, required=True,
                        help="a WellKnownFile of at least 50 MB")
    parser.add_argument("--specimen-id", type=int, help="the one cell [default: the first]")
    args = parser.parse_args()
    specimen = args.specimen_id or httpx.get(
        args.replica_url + "/api/v2/data/query.json?q=model::ApiCellTypesSpecimenDetail,"
        "rma::options[num_rows$eq1]").json()["msg"][0]["specimen__id"]
    ranged = {"Range": f"bytes=0-{FILE_BYTES - 1}"}
    cases: list[tuple[str, str, dict[str, str], int, int]] = [
        # name, path, headers, sequential requests, requests per concurrent client
        ("one cell", one_cell(specimen), {}, 200, 20),
        ("all cells", ALL_CELLS, {}, 20, 2),
        ("50 MB file", f"/api/v2/well_known_file_download/{args.file_id}", ranged, 5, 1),
    ]
    servers: list[tuple[str, str]] = [("replica", args.replica_url), ("serve", args.serve_url)]
    print(f"{'request':<11} {'mode':<14} {'server':<8} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} "
          f"{'req/s':>8} {'MB/s':>8}")
    for name, path, headers, sequential, per_client in cases:
        for mode, clients, count in (("sequential", 1, sequential),
                                     ("32 concurrent", 32, per_client)):
            for label, base in servers:
                result = run(base, path, headers, clients=clients, per_client=count)
                print(f"{name:<11} {mode:<14} {label:<8} {result['n']:>5.0f} "
                      f"{result['p50_ms']:>9.2f} {result['p99_ms']:>9.2f} "
                      f"{result['req_s']:>8.1f} {result['mb_s']:>8.1f}", flush=True)
    if args.serve_pid:
        print(f"serve memory: {rss_mb(args.serve_pid)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
