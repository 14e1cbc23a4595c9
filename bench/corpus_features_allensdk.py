"""Does a corpus's ``EphysFeature`` table say what AllenSDK measures in the corpus's own files?

    python bench/corpus_features_allensdk.py SNAPSHOT --sdk-python SDK/bin/python

For every cell of the snapshot with an NWB file, AllenSDK 2.16.2's ``extract_cell_features`` runs
on the file in its own interpreter (``bench/bench_ephys.py``'s AllenSDK worker: the published
columns as the Allen pipeline stored them), and each ``CELL_FEATURES`` column is compared with
the cell's ``EphysFeature`` record in the snapshot. A (cell, column) pair agrees when both are
empty or within 1% of AllenSDK's value. On a ``corpus synth`` snapshot every such record is
computed by the corpus builder (``docs/corpus.md``), so this checks the builder against the
reference, not against itself.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench_ephys import _agree
from corpus_fidelity import nwb_cells

from ctmirror.features.ephys.cell import CELL_FEATURES
from ctmirror.replica.snapshot import Snapshot

_WORKER = Path(__file__).with_name("bench_ephys.py")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--sdk-python", type=Path, required=True,
                        help="interpreter with allensdk==2.16.2")
    args = parser.parse_args(argv)
    snapshot = Snapshot(args.snapshot)
    published = {int(r["specimen_id"]): r for r in snapshot.iter_records("EphysFeature")}
    pairs = agreeing = failed = 0
    for specimen_id, path in sorted(nwb_cells(snapshot).items()):
        done = subprocess.run([str(args.sdk_python), str(_WORKER), "--allensdk-worker", str(path)],
                              capture_output=True, text=True, check=True)
        reference = json.loads(done.stdout.strip().splitlines()[-1])["record"]
        if "error" in reference:
            failed += 1
            print(f"{specimen_id}: AllenSDK failed: {reference['error']}")
            continue
        row = published.get(specimen_id, {})
        differing = [(name, row.get(name), reference.get(name)) for name in CELL_FEATURES
                     if not _agree(row.get(name), reference.get(name))]
        pairs += len(CELL_FEATURES)
        agreeing += len(CELL_FEATURES) - len(differing)
        print(f"{specimen_id}: {len(CELL_FEATURES) - len(differing)}/{len(CELL_FEATURES)} "
              "columns agree with AllenSDK")
        for name, ours, theirs in differing:
            print(f"  differs: {name}: EphysFeature {ours}, AllenSDK {theirs}")
    share = 100 * agreeing / pairs if pairs else 0.0
    print(f"{agreeing}/{pairs} (cell, column) pairs within 1% ({share:.1f}%); "
          f"AllenSDK failed on {failed} cells")
    return 0 if pairs and share >= 95 and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
