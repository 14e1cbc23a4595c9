"""Do a corpus's NWB recordings follow their EphysSweep records?

    python bench/corpus_fidelity.py SNAPSHOT [--build-from REALDATA --nwb-cells 20]
                                             [--sdk-python SDK/bin/python]

With ``--build-from`` the snapshot is first built (``ctmirror corpus build``) and the build time
printed. For every cell with an NWB file it prints the current-clamp sweeps (Test sweeps left
out) whose stimulus onset, end and amplitude match their record, and those whose file spike
count equals the record's ``num_spikes`` (``ctmirror.replica.corpus.fidelity``), then totals.
With ``--sdk-python`` (an interpreter with AllenSDK 2.16.2, which needs its own virtualenv) it
also runs AllenSDK's ``extract_cell_features`` on every file, with the Ramp, Short Square and
Long Square sweep numbers of the records, as ``bench/sdk_cell_features.py`` does, and prints
the cells it succeeded on.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from ctmirror.replica.corpus.fidelity import (
    SweepFidelity,
    check_sweep,
    followed_sweeps,
    summarize,
)
from ctmirror.replica.corpus.nwb import read_recorded_sweeps
from ctmirror.replica.snapshot import Snapshot

_NWB_TYPE = 481007198
_SDK_SCRIPT = Path(__file__).with_name("sdk_cell_features.py")


def nwb_cells(snapshot: Snapshot) -> dict[int, Path]:
    """{specimen_id: NWB path} of the cells with a recording."""
    specimen_of = {
        int(s["ephys_result_id"]): int(s["id"])
        for s in snapshot.iter_records("Specimen")
        if s.get("ephys_result_id") is not None
    }
    nwb_ids = {
        int(w["id"]): specimen_of.get(int(w["attachable_id"]))
        for w in snapshot.iter_records("WellKnownFile")
        if w.get("well_known_file_type_id") == _NWB_TYPE
        and w.get("attachable_type") == "EphysResult"
    }
    return {
        sid: snapshot.resolve(f)
        for f in snapshot.files()
        if f.kind == "well_known_file" and (sid := nwb_ids.get(f.id)) is not None
    }


def check_cell(path: Path, records: list[dict[str, Any]]) -> list[SweepFidelity]:
    recorded = read_recorded_sweeps(path)
    checks = []
    for record in followed_sweeps(records):
        number = int(record["sweep_number"])
        if number not in recorded:
            checks.append(
                SweepFidelity(
                    number,
                    str(record["stimulus_name"]),
                    False,
                    False,
                    False,
                    -1,
                    int(record.get("num_spikes") or 0),
                )
            )
            continue
        stimulus, _, spikes, rate = recorded[number]
        checks.append(check_sweep(record, stimulus, spikes, rate))
    return checks


def sdk_features(sdk_python: str, cells: dict[int, Path], records: dict[int, list]) -> list[dict]:
    """One result per cell from AllenSDK's extract_cell_features, run in its own interpreter."""
    jobs = []
    for sid, path in sorted(cells.items()):
        names = defaultdict(list)
        for r in records[sid]:
            names[r["stimulus_name"]].append(int(r["sweep_number"]))
        jobs.append(
            {
                "specimen_id": sid,
                "nwb": str(path),
                "ramps": sorted(names["Ramp"]),
                "short_squares": sorted(names["Short Square"]),
                "long_squares": sorted(names["Long Square"]),
            }
        )
    done = subprocess.run(
        [sdk_python, str(_SDK_SCRIPT)],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"{_SDK_SCRIPT.name} failed with exit code {done.returncode}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--build-from", type=Path, help="real data to build the snapshot from")
    parser.add_argument("--nwb-cells", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sdk-python", help="interpreter with AllenSDK 2.16.2")
    args = parser.parse_args()

    if args.build_from:
        from ctmirror.replica.corpus.build import build_corpus

        began = time.perf_counter()
        build_corpus(args.build_from, args.snapshot, nwb_cells=args.nwb_cells, seed=args.seed)
        print(
            f"built {args.snapshot} with {args.nwb_cells} NWB cells "
            f"in {time.perf_counter() - began:.0f} s"
        )
    snapshot = Snapshot(args.snapshot)
    cells = nwb_cells(snapshot)
    records: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in snapshot.iter_records("EphysSweep"):
        if int(r["specimen_id"]) in cells:
            records[int(r["specimen_id"])].append(r)

    totals = {"sweeps": 0, "timing_ok": 0, "spikes_ok": 0}
    print(
        f"{'specimen':>10} {'sweeps':>6} {'timing':>6} {'spikes':>6}  spike mismatches "
        "(sweep name file/record)"
    )
    for sid, path in sorted(cells.items()):
        checks = check_cell(path, records[sid])
        counts = summarize(checks)
        for key in totals:
            totals[key] += counts[key]
        wrong = [
            f"{c.sweep_number} {c.stimulus_name} {c.file_spikes}/{c.record_spikes}"
            for c in checks
            if not c.spikes_ok
        ]
        bad_timing = [str(c.sweep_number) for c in checks if not c.timing_ok]
        note = "; ".join(wrong)
        if bad_timing:
            note += f"  timing off: {', '.join(bad_timing)}"
        print(
            f"{sid:>10} {counts['sweeps']:>6} {counts['timing_ok']:>6} "
            f"{counts['spikes_ok']:>6}  {note}"
        )
    n = max(totals["sweeps"], 1)
    print(
        f"{len(cells)} NWB cells, {totals['sweeps']} current-clamp sweeps: timing matches "
        f"{totals['timing_ok']} ({100 * totals['timing_ok'] / n:.1f} %), spike count equals "
        f"num_spikes {totals['spikes_ok']} ({100 * totals['spikes_ok'] / n:.1f} %)"
    )

    if args.sdk_python:
        results = sdk_features(args.sdk_python, cells, records)
        for r in results:
            detail = r.get("error") or (
                f"rheobase {r['rheobase_i']:.0f} pA, hero sweep {r['hero_sweep']}, "
                f"threshold_v_long_square {r['threshold_v']:.1f} mV"
            )
            print(f"  AllenSDK {r['specimen_id']}: {'ok' if r['ok'] else 'FAILED'}  {detail}")
        ok = sum(r["ok"] for r in results)
        print(f"AllenSDK extract_cell_features succeeded on {ok}/{len(cells)} cells")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
