"""A tiny hand-written snapshot whose every link is known (ids are spelled out in the tests)."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path
from typing import Any

from ctmirror.replica.snapshot import SnapshotWriter

NWB_DOWNLOAD, NWB_UNCOMPRESSED = 481007198, 478840678
SWC, MARKER, PARAMETERS = 303941301, 486753749, 329230374
GLIF_LIF, PERISOMATIC = 395310469, 329230710

#: The bytes of WellKnownFile 5001 (an NWB stand-in, big enough to be sent in several chunks).
NWB_BYTES = random.Random(5001).randbytes(300_000)
SWC_BYTES = b"#n,type,x,y,z,radius,parent\n1 1 0.0 0.0 0.0 5.0 -1\n2 3 0.0 10.0 0.0 1.0 1\n"


def _wkf(wkf_id: int, attachable_type: str, attachable_id: int, type_id: int, name: str
         ) -> dict[str, Any]:
    return {
        "id": wkf_id,
        "attachable_id": attachable_id,
        "attachable_type": attachable_type,
        "path": f"/external/mousecelltypes/{attachable_id}/{name}",
        "download_link": f"/api/v2/well_known_file_download/{wkf_id}",
        "well_known_file_type_id": type_id,
    }


def _image(image_id: int, *, specimen_id: int | None, data_set_id: int | None,
           section_number: int, image_type: str) -> dict[str, Any]:
    return {
        "id": image_id, "data_set_id": data_set_id, "specimen_id": specimen_id,
        "section_number": section_number, "image_type": image_type, "failed": False,
        "x": 0, "y": 0, "width": 800, "height": 600, "image_width": 800, "image_height": 600,
        "path": f"/external/ctyconn/prod1/{image_id}/{image_id}.aff", "resolution": 0.1144,
    }


def write_tiny_snapshot(root: Path) -> Path:
    writer = SnapshotWriter(root, source="tests/replica tiny snapshot", seed=None)
    writer.add_records("WellKnownFileType", [
        {"id": NWB_DOWNLOAD, "name": "NWBDownload"},
        {"id": NWB_UNCOMPRESSED, "name": "NWBUncompressed"},
        {"id": SWC, "name": "3DNeuronReconstruction"},
        {"id": MARKER, "name": "3DNeuronMarker"},
        {"id": PARAMETERS, "name": "NeuronalModelParameters"},
    ])
    writer.add_records("Donor", [{"id": 1, "name": "D1"}, {"id": 2, "name": "D2"}])
    writer.add_records("Structure", [
        {"id": 385, "acronym": "VISp", "parent_structure_id": None, "graph_order": 185},
        {"id": 778, "acronym": "VISp5", "parent_structure_id": 385, "graph_order": 190},
    ])
    writer.add_records("EphysResult", [
        {"id": 1001, "failed": False, "sampling_rate": 200000.0},
        {"id": 1002, "failed": True, "sampling_rate": 200000.0},
        {"id": 1003, "failed": False, "sampling_rate": 200000.0},
    ])
    writer.add_records("Specimen", [
        {"id": 10, "name": "Cell A;1", "donor_id": 1, "structure_id": 778,
         "ephys_result_id": 1001, "hemisphere": "left", "is_cell_specimen": True},
        {"id": 11, "name": "Cell B", "donor_id": 1, "structure_id": 778,
         "ephys_result_id": 1002, "hemisphere": "right", "is_cell_specimen": True},
        {"id": 12, "name": "cell c", "donor_id": 2, "structure_id": 385,
         "ephys_result_id": 1003, "hemisphere": None, "is_cell_specimen": True},
        {"id": 13, "name": "Cell D", "donor_id": 2, "structure_id": 385,
         "ephys_result_id": None, "hemisphere": "left", "is_cell_specimen": False},
    ])
    writer.add_records("ApiCellTypesSpecimenDetail", [
        {"specimen__id": 10, "specimen__name": "Cell A;1", "donor__species": "Mus musculus",
         "structure__layer": "5", "tag__dendrite_type": "spiny", "ef__vrest": -70.5,
         "nr__reconstruction_type": "full", "line_name": "Rbp4-Cre"},
        {"specimen__id": 11, "specimen__name": "Cell B", "donor__species": "Mus musculus",
         "structure__layer": "5", "tag__dendrite_type": "aspiny", "ef__vrest": -65.25,
         "nr__reconstruction_type": None, "line_name": "Sst-IRES-Cre"},
        {"specimen__id": 12, "specimen__name": "cell c", "donor__species": "Homo Sapiens",
         "structure__layer": "2/3", "tag__dendrite_type": "spiny", "ef__vrest": None,
         "nr__reconstruction_type": "dendrite-only", "line_name": ""},
        {"specimen__id": 13, "specimen__name": "Cell D", "donor__species": "Homo Sapiens",
         "structure__layer": "4", "tag__dendrite_type": "sparsely spiny", "ef__vrest": -80.0,
         "nr__reconstruction_type": None, "line_name": ""},
    ])
    sweeps = []
    for specimen, base in ((10, 2000), (11, 2100), (12, 2200)):
        for number, (name, spikes) in enumerate(
            (("Test", None), ("Long Square", 3), ("Ramp", 0)), start=1
        ):
            sweeps.append({"id": base + number, "specimen_id": specimen,
                           "sweep_number": number, "stimulus_name": name, "num_spikes": spikes,
                           "stimulus_absolute_amplitude": 10.0 * number})
    writer.add_records("EphysSweep", sweeps)
    writer.add_records("EphysFeature", [
        {"id": 3000 + s, "specimen_id": s, "vrest": -70.0 - s, "has_burst": s % 2 == 0}
        for s in (10, 11, 12, 13)
    ])
    writer.add_records("NeuronReconstruction", [
        {"id": 4001, "specimen_id": 10, "tags": "3D Neuron Reconstruction morphology",
         "number_stems": 5},
        {"id": 4002, "specimen_id": 12, "tags": "3D Neuron Reconstruction morphology",
         "number_stems": 7},
    ])
    writer.add_records("WellKnownFile", [
        _wkf(5001, "EphysResult", 1001, NWB_DOWNLOAD, "1001_ephys.nwb"),
        _wkf(5002, "EphysResult", 1001, NWB_UNCOMPRESSED, "1001_ephys_raw.nwb"),
        _wkf(5003, "EphysResult", 1002, NWB_DOWNLOAD, "1002_ephys.nwb"),
        _wkf(5004, "EphysResult", 1003, NWB_UNCOMPRESSED, "1003_ephys_raw.nwb"),
        _wkf(5005, "NeuronReconstruction", 4001, SWC, "Cell_A_1_4001_m.swc"),
        _wkf(5006, "NeuronReconstruction", 4001, MARKER, "Cell_A_1_4001_marker_m.swc"),
        _wkf(5007, "NeuronReconstruction", 4002, SWC, "cell_c_4002_m.swc"),
        _wkf(5008, "NeuronalModel", 6001, PARAMETERS, "6001_neuron_config.json"),
        # Same attachable_id as EphysResult 1001, another model: must never be mixed up.
        _wkf(5009, "NeuronalModelRun", 1001, NWB_DOWNLOAD, "run_1001.nwb"),
    ])
    writer.add_records("NeuronalModelTemplate", [
        {"id": GLIF_LIF, "name": "Leaky Integrate and Fire (LIF)"},
        {"id": PERISOMATIC, "name": "Biophysical - perisomatic"},
    ])
    writer.add_records("NeuronalModel", [
        {"id": 6001, "name": "1 LIF_Cell A", "specimen_id": 10,
         "neuronal_model_template_id": GLIF_LIF, "neuron_reconstruction_id": None},
        {"id": 6002, "name": "Biophysical - perisomatic_Cell A", "specimen_id": 10,
         "neuronal_model_template_id": PERISOMATIC, "neuron_reconstruction_id": 4001},
        {"id": 6003, "name": "Biophysical - perisomatic_cell c", "specimen_id": 12,
         "neuronal_model_template_id": PERISOMATIC, "neuron_reconstruction_id": 4002},
    ])
    writer.add_records("NeuronalModelRun", [
        {"id": 7001, "neuronal_model_id": 6001, "explained_variance_ratio": 0.85},
    ])
    writer.add_records("ImageSeries", [{"id": 8001, "specimen_id": 10}])
    writer.add_records("SubImage", [
        _image(9001, specimen_id=None, data_set_id=8001, section_number=3, image_type="Primary"),
        _image(9002, specimen_id=None, data_set_id=8001, section_number=1, image_type="Primary"),
        _image(9003, specimen_id=None, data_set_id=8001, section_number=2, image_type="Primary"),
    ])
    writer.add_records("ProjectionImage", [
        _image(9101, specimen_id=10, data_set_id=None, section_number=0,
               image_type="Maximum Intensity Projection - xy"),
    ])
    writer.write_bytes_file(5001, "1001_ephys.nwb", NWB_BYTES)
    writer.write_bytes_file(5005, "Cell_A_1_4001_m.swc", SWC_BYTES)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("6001_neuron_config.json", '{"type": "GLIF"}')
    zip_path = writer.model_zip_path(6001)
    zip_path.write_bytes(buffer.getvalue())
    writer.add_file("model_zip", 6001, zip_path)
    writer.close()
    return root
