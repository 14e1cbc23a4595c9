"""An unmodified AllenSDK on the folder `ctmirror export allensdk-cache` writes, with
networking disabled, against the same calls to `ctmirror serve` of the same mirror: every
answer must be equal.

AllenSDK pins old numpy, so it lives in its own virtualenv; give its interpreter::

    python bench/allensdk_export_check.py SDK_PYTHON MIRROR_ROOT OUT_DIR

This process exports the mirror into OUT_DIR/export, serves it on loopback and runs this file
again under SDK_PYTHON (``--sdk-side``), which asks the server first (its own cache folder,
OUT_DIR/serve), then disables every socket connection and reads the export. Answers are
compared as in ``serve_allensdk_compare.py`` (DataFrames as records, sweeps as the sha256 of
their arrays). Prints one line per call and exits non-zero if any answer differs or the
export needed the network.
"""

from __future__ import annotations

import argparse
import hashlib
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def project_side(sdk_python: str, root: Path, out: Path) -> int:
    from ctmirror.api.allensdk_cache import export_allensdk_cache
    from ctmirror.serve.server import ApiServer, run_in_thread
    from ctmirror.serve.warehouse_source import WarehouseSource

    url = f"duckdb:///{root.resolve() / 'warehouse.duckdb'}"
    started = time.perf_counter()
    summary = export_allensdk_cache(url, root, out / "export")
    print(f"export: {summary} in {time.perf_counter() - started:.1f} s", flush=True)
    server = ApiServer(WarehouseSource(url, root), ("127.0.0.1", 0))
    with run_in_thread(server, "export-check"):
        return subprocess.run([sdk_python, __file__, "--sdk-side", server.base_url,
                               str(out)], check=False).returncode


class NetworkUsed(RuntimeError):
    pass


def block_network() -> None:
    """Every later socket connection raises: the export must be read without any."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkUsed(f"network access attempted: {args[1:] or kwargs}")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]


def sdk_side(serve_url: str, out: Path) -> int:
    sys.path.insert(0, str(HERE))
    from allensdk.core.cell_types_cache import CellTypesCache

    served = CellTypesCache(manifest_file=str(out / "serve" / "manifest.json"),
                            base_uri=serve_url)
    cells = served.get_cells()
    features = served.get_ephys_features()
    recorded = sorted({int(f["specimen_id"]) for f in features}
                      & {c["id"] for c in cells})
    nwb = [c for c in recorded if (out / "export" / f"specimen_{c}" / "ephys.nwb").is_file()]
    reconstructed = sorted(c["id"] for c in cells if c["reconstruction_type"])

    def sweeps(cache: Any, specimen: int) -> dict[str, Any]:
        data = cache.get_ephys_data(specimen)
        found = {}
        for number in data.get_sweep_numbers():
            sweep = data.get_sweep(number)
            digest = hashlib.sha256()
            for name in ("stimulus", "response"):
                digest.update(sweep[name].tobytes())
            found[str(number)] = {"arrays_sha256": digest.hexdigest(),
                                  "sampling_rate": sweep["sampling_rate"],
                                  "index_range": list(sweep["index_range"]),
                                  "spike_times": data.get_spike_times(number)}
        return found

    calls: list[tuple[str, Callable[[Any], Any]]] = [
        ("get_cells()", lambda c: c.get_cells()),
        ("get_cells(require_reconstruction=True)",
         lambda c: c.get_cells(require_reconstruction=True)),
        ("get_ephys_features()", lambda c: c.get_ephys_features()),
        ("get_morphology_features()", lambda c: c.get_morphology_features()),
        ("get_all_features(dataframe=True)", lambda c: c.get_all_features(dataframe=True)),
    ]
    calls += [(f"get_ephys_sweeps({s})", lambda c, s=s: c.get_ephys_sweeps(s)) for s in nwb]
    calls += [(f"get_ephys_data({s}).get_sweep(n) for every n", lambda c, s=s: sweeps(c, s))
              for s in nwb]
    calls += [(f"get_reconstruction({s})",
               lambda c, s=s: list(c.get_reconstruction(s).compartment_list))
              for s in reconstructed]
    calls += [(f"get_reconstruction_markers({s})",
               lambda c, s=s: c.get_reconstruction_markers(s)) for s in reconstructed]

    answers: dict[str, list[Any]] = {}
    for name, call in calls:
        answers[name] = [_answer(call, served)]
    block_network()
    exported = CellTypesCache(manifest_file=str(out / "export" / "manifest.json"))
    failures = 0
    for name, call in calls:
        mine = _answer(call, exported)
        theirs = answers[name][0]
        if mine == theirs and not (isinstance(mine, dict) and "error" in mine):
            size = len(mine) if hasattr(mine, "__len__") else 1
            print(f"equal  {name}: {size} items", flush=True)
        else:
            failures += 1
            print(f"DIFF   {name}:\n  serve:  {str(theirs)[:600]}\n  export: {str(mine)[:600]}",
                  flush=True)
    print(f"{len(calls) - failures} of {len(calls)} calls equal, with networking disabled "
          f"for the export ({len(nwb)} recordings, {len(reconstructed)} reconstructions)")
    return 1 if failures else 0


def _answer(call: Callable[[Any], Any], cache: Any) -> Any:
    from serve_allensdk_compare import plain

    try:
        return plain(call(cache))
    except Exception:
        return {"error": traceback.format_exc(limit=4)}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--sdk-side":
        sys.exit(sdk_side(sys.argv[2], Path(sys.argv[3])))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sdk_python", help="the python of a virtualenv with allensdk 2.16.2")
    parser.add_argument("root", type=Path, help="a synced mirror folder")
    parser.add_argument("out", type=Path, help="a scratch folder (export and serve caches)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sys.exit(project_side(args.sdk_python, args.root, args.out))
