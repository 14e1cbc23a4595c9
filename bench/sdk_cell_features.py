"""Run AllenSDK's ``extract_cell_features`` on NWB files; for ``bench/corpus_fidelity.py``.

Runs under an interpreter with AllenSDK 2.16.2 (its own virtualenv: it pins numpy<1.24), so it
imports nothing from ctmirror. Reads a JSON list of ``{specimen_id, nwb, ramps, short_squares,
long_squares}`` on stdin and prints one JSON line per cell: ``ok`` and a few features, or the
error.
"""

from __future__ import annotations

import json
import sys
import warnings


def main() -> int:
    warnings.simplefilter("ignore")
    from allensdk.core.nwb_data_set import NwbDataSet
    from allensdk.ephys.extract_cell_features import extract_cell_features

    for job in json.load(sys.stdin):
        result = {"specimen_id": job["specimen_id"], "ok": False}
        try:
            features = extract_cell_features(
                NwbDataSet(job["nwb"]), job["ramps"], job["short_squares"], job["long_squares"]
            )
            long_squares = features["long_squares"]
            hero = long_squares["hero_sweep"]
            result.update(
                ok=True,
                rheobase_i=float(long_squares["rheobase_i"]),
                hero_sweep=hero["id"] if hero else None,
                threshold_v=float(long_squares["rheobase_sweep"]["spikes"][0]["threshold_v"]),
            )
        except Exception as exc:  # noqa: BLE001 - every failure is a result to report
            result["error"] = f"{type(exc).__name__}: {exc}"
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
