"""Make ``cell_reference.json``: ipfx 2.1.2's cell feature records for the NWB files of the test
corpus, through the NWB 1 adapter in ``bench/ipfx_read_check.py``.

Run in a virtualenv with ipfx (see ``make_spike_reference.py``)::

    /tmp/ipfx-ref/bin/python tests/data/ephys/make_cell_reference.py /tmp/synth-ref [MORE_DIRS]

Each record is ``extract_data_set_features``' cell record (published column names) with the
NWB file's sha256, so the test can tell a changed corpus from a changed feature.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

HERE = Path(__file__).parent
CHECK = HERE.parent.parent.parent / "bench" / "ipfx_read_check.py"


def _adapter():  # the bench script is not a package; load it by path
    spec = importlib.util.spec_from_file_location("ipfx_read_check", CHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(directories: list[Path]) -> None:
    from ipfx.data_set_features import extract_data_set_features
    from ipfx.dataset.ephys_data_set import EphysDataSet

    check = _adapter()
    ontology = check.StimulusOntology(
        check.ju.read(check.StimulusOntology.DEFAULT_STIMULUS_ONTOLOGY_FILE))
    records = {}
    for directory in directories:
        for path in sorted(directory.rglob("*.nwb")):
            data = check.Nwb1PipelineData(str(path), ontology)
            data_set = EphysDataSet(data=data, sweep_info=data.sweep_info())
            _, _, record, _, _, states = extract_data_set_features(data_set)
            clean = {k: (None if isinstance(v, float) and math.isnan(v) else
                         (v.item() if hasattr(v, "item") else v)) for k, v in record.items()}
            records[path.name] = {
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "record": clean,
                "failed": {k: s["fail_fx_message"] for k, s in states.items() if s["failed_fx"]},
            }
            print(path.name, len(clean), records[path.name]["failed"])
    (HERE / "cell_reference.json").write_text(json.dumps(records, indent=1, sort_keys=True))


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]])
