"""The Parquet datasets the mirror writes: their Arrow schemas and their layout, defined once.

Each dataset lives under ``<root>/parquet/<name>/`` and is Hive-partitioned by specimen::

    parquet/sweeps/specimen_id=<id>/nwb-<well_known_file_id>.parquet
    parquet/reconstruction_nodes/specimen_id=<id>/swc-<well_known_file_id>.parquet
    parquet/reconstruction_markers/specimen_id=<id>/marker-<well_known_file_id>.parquet
    parquet/ephys_spikes/specimen_id=<id>/spikes-<well_known_file_id>-<definitions>.parquet
    parquet/glif_spikes/specimen_id=<id>/glif-<neuronal_model_id>.parquet
    parquet/glif_voltages/specimen_id=<id>/voltage-<neuronal_model_id>.parquet
    parquet/biophysical_spikes/specimen_id=<id>/biophys-<neuronal_model_id>.parquet

One file per source file (per model for the GLIF outputs), named by the source's id, so
converting a file again replaces its output atomically and can never leave two copies of its
rows. The partition column is also stored inside each file, so a file read on its own still
says which cell it belongs to.
``sweeps`` files hold one row group per sweep: a query for one sweep of one cell opens one
directory and reads one row group, while scans over the small columns of every cell never
touch the sample arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

#: Bumped whenever a converter's output changes meaning; outputs made by an older version are
#: converted again on the next sync.
CONVERTER_VERSION = 1


@dataclass(frozen=True)
class ParquetDataset:
    """A Parquet dataset: its name (also the DuckDB view's name), schema and file naming."""

    name: str
    schema: pa.Schema
    file_prefix: str
    partition_column: str = "specimen_id"
    description: str = ""
    #: Columns that name one row (no two rows share them); empty when nothing does. Parquet
    #: enforces no key, so the data tests check it; a PostgreSQL table of the dataset makes it
    #: its primary key, whose index also serves the replacement of one item's rows.
    row_key: tuple[str, ...] = ()

    def directory(self, root: Path) -> Path:
        return Path(root) / "parquet" / self.name

    def partition_directory(self, root: Path, partition_value: int) -> Path:
        return self.directory(root) / f"{self.partition_column}={int(partition_value)}"

    def file_path(self, root: Path, partition_value: int, source_id: int,
                  variant: str | None = None) -> Path:
        """Where the rows made from source file ``source_id`` live (``variant``: which of
        several outputs of one source, e.g. a definition set)."""
        suffix = "" if variant is None else f"-{variant}"
        return self.partition_directory(root, partition_value) / (
            f"{self.file_prefix}-{int(source_id)}{suffix}.parquet"
        )


def _field(name: str, type_: pa.DataType, doc: str, *, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


SWEEPS = ParquetDataset(
    name="sweeps",
    file_prefix="nwb",
    row_key=("well_known_file_id", "sweep_number"),
    description="One row per sweep of each mirrored NWB recording, with its samples.",
    schema=pa.schema([
        _field("specimen_id", pa.int64(), "cell (Specimen.id)", nullable=False),
        _field("well_known_file_id", pa.int64(), "the NWB file's WellKnownFile.id",
               nullable=False),
        _field("sweep_number", pa.int32(), "N of Sweep_N", nullable=False),
        _field("clamp_mode", pa.string(),
               "CurrentClamp or VoltageClamp (from the acquisition series' neurodata_type)"),
        _field("stimulus_name", pa.string(), "aibs_stimulus_name, e.g. 'Long Square'"),
        _field("stimulus_description", pa.string(), "aibs_stimulus_description"),
        _field("stimulus_amplitude_pa", pa.float64(), "aibs_stimulus_amplitude_pa"),
        _field("sampling_rate_hz", pa.float64(), "starting_time@rate of the response series"),
        _field("starting_time_s", pa.float64(), "starting_time of the response series"),
        _field("num_samples", pa.int64(), "samples in the response series", nullable=False),
        _field("stimulus_unit", pa.string(), "unit attribute of the stimulus data ('Amps')"),
        _field("response_unit", pa.string(), "unit attribute of the response data ('Volts')"),
        _field("stimulus_conversion", pa.float64(),
               "conversion attribute: stored value x conversion = value in unit"),
        _field("response_conversion", pa.float64(), "conversion attribute of the response"),
        _field("sweep_start_index", pa.int64(), "epochs/Sweep_N response idx_start"),
        _field("sweep_count", pa.int64(), "epochs/Sweep_N response count"),
        _field("experiment_start_index", pa.int64(),
               "epochs/Experiment_N response idx_start (the window after the test pulse)"),
        _field("experiment_count", pa.int64(), "epochs/Experiment_N response count"),
        _field("stimulus_start_index", pa.int64(),
               "first sample at or after the experiment window where the stimulus is non-zero"),
        _field("stimulus_end_index", pa.int64(), "last sample where the stimulus is non-zero"),
        _field("spike_times_s", pa.list_(pa.float64()),
               "analysis/spike_times/Sweep_N: published spike times, s from sweep start"),
        _field("attributes", pa.string(),
               "JSON object of the other scalar datasets of the series (gain, seal, ...)"),
        _field("stimulus", pa.list_(pa.float32()),
               "stimulus samples exactly as stored in the NWB (multiply by conversion)"),
        _field("response", pa.list_(pa.float32()),
               "response samples exactly as stored in the NWB (multiply by conversion)"),
    ]),
)

def _reconstruction_ids(file_kind: str) -> list[pa.Field]:
    return [
        _field("specimen_id", pa.int64(), "cell (Specimen.id)", nullable=False),
        _field("neuron_reconstruction_id", pa.int64(), "NeuronReconstruction.id",
               nullable=False),
        _field("well_known_file_id", pa.int64(), f"the {file_kind} file's WellKnownFile.id",
               nullable=False),
    ]


RECONSTRUCTION_NODES = ParquetDataset(
    name="reconstruction_nodes",
    file_prefix="swc",
    row_key=("well_known_file_id", "node_id"),
    description="One row per node of each mirrored SWC reconstruction, as in the file.",
    schema=pa.schema([
        *_reconstruction_ids("SWC"),
        _field("node_id", pa.int64(), "SWC id", nullable=False),
        _field("type", pa.int16(), "1 soma, 2 axon, 3 basal dendrite, 4 apical dendrite",
               nullable=False),
        _field("x", pa.float64(), "µm, image space", nullable=False),
        _field("y", pa.float64(), "µm, image space", nullable=False),
        _field("z", pa.float64(), "µm, image space", nullable=False),
        _field("radius", pa.float64(), "µm", nullable=False),
        _field("parent_id", pa.int64(), "SWC parent id, -1 for a root", nullable=False),
    ]),
)

RECONSTRUCTION_MARKERS = ParquetDataset(
    name="reconstruction_markers",
    file_prefix="marker",
    description="One row per point of each mirrored reconstruction marker file, as in the file.",
    schema=pa.schema([
        *_reconstruction_ids("marker"),
        _field("x", pa.float64(),
               "as in the file (AllenSDK subtracts one voxel: 0.1144, 0.1144, 0.28 µm)",
               nullable=False),
        _field("y", pa.float64(), "as in the file", nullable=False),
        _field("z", pa.float64(), "as in the file", nullable=False),
        _field("radius", pa.float64(), "as in the file"),
        _field("shape", pa.int32(), "Vaa3D shape code"),
        _field("name", pa.int32(), "marker code: 10 cut dendrite, 20 axon not reconstructed",
               nullable=False),
        _field("comment", pa.string(), "free text"),
        _field("color_r", pa.int32(), "display colour"),
        _field("color_g", pa.int32(), "display colour"),
        _field("color_b", pa.int32(), "display colour"),
    ]),
)

def _spike_point(name: str, what: str) -> list[pa.Field]:
    """index, t, v, i of one characteristic point of a spike."""
    return [
        _field(f"{name}_index", pa.int64(), f"sample of the {what} (-1: none)"),
        _field(f"{name}_t", pa.float64(), f"time of the {what}, s from sweep start"),
        _field(f"{name}_v", pa.float64(), f"membrane potential at the {what}, mV"),
        _field(f"{name}_i", pa.float64(), f"stimulus current at the {what}, pA"),
    ]


EPHYS_SPIKES = ParquetDataset(
    name="ephys_spikes",
    file_prefix="spikes",
    # One recording per cell and definition set (``ephys_features_recomputed``'s key).
    row_key=("specimen_id", "definitions", "sweep_number", "spike_number"),
    description="One row per action potential detected in a current-clamp sweep, per "
                "definition set (file: spikes-<NWB file id>-<definitions>.parquet).",
    schema=pa.schema([
        _field("specimen_id", pa.int64(), "cell (Specimen.id)", nullable=False),
        _field("well_known_file_id", pa.int64(), "the NWB file's WellKnownFile.id",
               nullable=False),
        _field("definitions", pa.string(), "definition set: allen2016 or ipfx", nullable=False),
        _field("sweep_number", pa.int32(), "N of Sweep_N", nullable=False),
        _field("spike_number", pa.int32(), "0 for the sweep's first spike", nullable=False),
        *_spike_point("threshold", "threshold"),
        *_spike_point("peak", "peak"),
        *_spike_point("trough", "trough"),
        *_spike_point("fast_trough", "fast trough"),
        *_spike_point("slow_trough", "slow trough"),
        *_spike_point("adp", "after-depolarisation"),
        _field("upstroke_index", pa.int64(), "sample of the maximum dV/dt before the peak"),
        _field("upstroke", pa.float64(), "maximum dV/dt, V/s"),
        _field("upstroke_t", pa.float64(), "s"),
        _field("upstroke_v", pa.float64(), "mV"),
        _field("downstroke_index", pa.int64(), "sample of the minimum dV/dt after the peak"),
        _field("downstroke", pa.float64(), "minimum dV/dt, V/s"),
        _field("downstroke_t", pa.float64(), "s"),
        _field("downstroke_v", pa.float64(), "mV"),
        _field("upstroke_downstroke_ratio", pa.float64(), "upstroke / -downstroke"),
        _field("width", pa.float64(), "width at half height, s"),
        _field("isi_type", pa.string(), "direct or detour"),
        _field("clipped", pa.bool_(), "the recording ends before the spike repolarises"),
    ]),
)

def _glif_ids() -> list[pa.Field]:
    return [
        _field("specimen_id", pa.int64(), "cell (Specimen.id) whose sweeps drove the model",
               nullable=False),
        _field("neuronal_model_id", pa.int64(), "the GLIF model (NeuronalModel.id)",
               nullable=False),
        _field("sweep_number", pa.int32(), "N of Sweep_N whose stimulus was injected",
               nullable=False),
    ]


GLIF_SPIKES = ParquetDataset(
    name="glif_spikes",
    file_prefix="glif",
    row_key=("neuronal_model_id", "sweep_number", "spike_number"),
    description="One row per spike of a GLIF model simulated on a current-clamp sweep of its "
                "cell (file: glif-<neuronal_model_id>.parquet).",
    schema=pa.schema([
        *_glif_ids(),
        _field("spike_number", pa.int32(), "0 for the sweep's first model spike", nullable=False),
        _field("spike_time_step", pa.int64(),
               "sample of the spike (AllenSDK spike_time_steps; time = step / sampling rate)",
               nullable=False),
        _field("spike_time_s", pa.float64(),
               "interpolated spike time, s from sweep start, as AllenSDK saves it (one step "
               "late: int(t * rate) is the spike step)", nullable=False),
    ]),
)

GLIF_VOLTAGES = ParquetDataset(
    name="glif_voltages",
    file_prefix="voltage",
    row_key=("neuronal_model_id", "sweep_number"),
    description="Written only with features.glif_voltages: one row (and row group) per "
                "simulated sweep with the model's membrane potential "
                "(file: voltage-<neuronal_model_id>.parquet).",
    schema=pa.schema([
        *_glif_ids(),
        _field("sampling_rate_hz", pa.float64(), "sampling rate of the sweep = 1 / model dt",
               nullable=False),
        _field("voltage", pa.list_(pa.float32()),
               "V relative to rest (add glif_neuron_configs.el_reference for absolute), one "
               "value per stimulus sample, NaN inside spike cuts and after a bad reset"),
    ]),
)

BIOPHYSICAL_SPIKES = ParquetDataset(
    name="biophysical_spikes",
    file_prefix="biophys",
    row_key=("neuronal_model_id", "sweep_number", "spike_number"),
    description="One row per spike of a biophysical model simulated with NEURON on a "
                "current-clamp sweep of its cell (file: biophys-<neuronal_model_id>.parquet).",
    schema=pa.schema([
        _field("specimen_id", pa.int64(), "cell (Specimen.id) whose sweeps drove the model",
               nullable=False),
        _field("neuronal_model_id", pa.int64(), "the biophysical model (NeuronalModel.id)",
               nullable=False),
        _field("sweep_number", pa.int32(), "N of Sweep_N whose stimulus was injected",
               nullable=False),
        _field("spike_number", pa.int32(), "0 for the sweep's first model spike", nullable=False),
        _field("spike_time_s", pa.float64(), "threshold time, s from sweep start",
               nullable=False),
        _field("threshold_v", pa.float64(), "mV, on the model's scale"),
        _field("peak_v", pa.float64(), "mV, on the model's scale"),
    ]),
)

DATASETS: tuple[ParquetDataset, ...] = (SWEEPS, RECONSTRUCTION_NODES, RECONSTRUCTION_MARKERS,
                                        EPHYS_SPIKES, GLIF_SPIKES, GLIF_VOLTAGES,
                                        BIOPHYSICAL_SPIKES)
DATASETS_BY_NAME = {d.name: d for d in DATASETS}
#: The datasets without sample arrays: on a PostgreSQL warehouse (which cannot read Parquet)
#: their rows are also loaded into tables of the same names and columns
#: (``ctmirror.schema.dataset_tables``); the traces stay in Parquet.
TABLE_DATASETS: tuple[ParquetDataset, ...] = (RECONSTRUCTION_NODES, RECONSTRUCTION_MARKERS,
                                              EPHYS_SPIKES, GLIF_SPIKES, BIOPHYSICAL_SPIKES)

__all__ = [
    "BIOPHYSICAL_SPIKES",
    "CONVERTER_VERSION",
    "DATASETS",
    "DATASETS_BY_NAME",
    "EPHYS_SPIKES",
    "GLIF_SPIKES",
    "GLIF_VOLTAGES",
    "RECONSTRUCTION_MARKERS",
    "RECONSTRUCTION_NODES",
    "SWEEPS",
    "TABLE_DATASETS",
    "ParquetDataset",
]
