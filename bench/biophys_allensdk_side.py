"""AllenSDK's side of bench/biophys_allensdk_compare.py: run by AllenSDK's python.

    SDK_PYTHON bench/biophys_allensdk_side.py PACKAGE LIBRARY OUT STIMULUS.npy [...]

Builds the perisomatic model of PACKAGE with AllenSDK's own ``Config`` and ``Utils`` (as
``allensdk.model.biophysical.runner.run_sync`` does), then for each stimulus (A, 200 kHz) runs
``Utils.setup_iclamp``, ``record_values``, ``h.finitialize()``, ``h.run()`` and
``get_recorded_data``. The only change is where the stimulus comes from: ``read_stimulus`` reads
the .npy instead of an NWB sweep. LIBRARY is a ``libnrnmech.so`` compiled by this venv's
``nrnivmodl``. Writes OUT/<stimulus stem>.npy (soma mV, one sample per stimulus sample) and
prints one JSON line per stimulus with the integration's wall time.
"""

import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np


def main():
    package, library, out = sys.argv[1:4]
    stimuli = sys.argv[4:]
    from neuron import h

    if h.nrn_load_dll(library) != 1:
        raise SystemExit(f"could not load {library}")
    from allensdk.model.biophysical.runner import load_description
    from allensdk.model.biophysical.utils import PERISOMATIC_TYPE, Utils, create_utils

    work = tempfile.mkdtemp()
    try:
        for name in os.listdir(package):
            shutil.copy(os.path.join(package, name), work)
        os.chdir(work)  # the manifest's paths are relative to the package
        description = load_description({"manifest_file": "manifest.json"})
        began = time.perf_counter()
        utils = create_utils(description, PERISOMATIC_TYPE)
        utils.generate_morphology(description.manifest.get_path("MORPHOLOGY"))
        utils.load_cell_parameters()
        instantiate_s = time.perf_counter() - began
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def read_stimulus(stimulus_path, sweep=0):
        utils.stim_curr = np.load(stimulus_path) * 1.0e9  # A -> nA, as read_stimulus
        hz = 200000
        utils.simulation_sampling_rate = Utils.nearest_neuron_sampling_rate(hz)
        utils.stimulus_sampling_rate = hz

    utils.read_stimulus = read_stimulus
    junction = description.data["fitting"][0]["junction_potential"]
    for path in stimuli:
        utils.setup_iclamp(path)
        vec = utils.record_values()
        began = time.perf_counter()
        h.finitialize()
        h.run()
        run_s = time.perf_counter() - began
        # get_recorded_data gives V minus the junction potential; back to the model's mV
        v = utils.get_recorded_data(vec)["v"] / 1.0e-3 + junction
        stem = os.path.splitext(os.path.basename(path))[0]
        np.save(os.path.join(out, stem + ".npy"), v)
        print(json.dumps({"stimulus": stem, "run_s": run_s, "instantiate_s": instantiate_s,
                          "samples": int(v.size), "dt_ms": float(h.dt)}), flush=True)


if __name__ == "__main__":
    main()
