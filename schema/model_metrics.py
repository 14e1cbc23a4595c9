"""GLIF models scored on their cell's recording, beside the published score.

``model_metrics`` has one row per mirrored GLIF neuronal model: the explained variance ratio
recomputed by simulating the model on the cell's Noise 2 stimulus (``ctmirror.sync_glif``,
``docs/glif.md``) next to the published ``NeuronalModelRun.explained_variance_ratio``. A model
whose EVR cannot be computed (no converted config or recording, fewer than two Noise 2 sweeps,
a failure) still has a row: the EVR is NULL and ``problem`` says why. Each row names the bytes
it was made from (the config's and the recording's ``sha256``) and the code version; it is
recomputed when any of them changes. The simulated spikes are the Parquet dataset
``glif_spikes`` (``schema/parquet.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from ctmirror.schema.base import Base, describe


class ModelMetrics(Base):
    """One GLIF model: recomputed and published explained variance ratio, and their inputs."""

    __tablename__ = "model_metrics"

    neuronal_model_id: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                                   autoincrement=False)
    specimen_id: Mapped[int | None]
    neuronal_model_template_id: Mapped[int | None]
    #: GLIF level 1-5 of the converted neuron_config.
    level: Mapped[int | None]
    #: The recomputed ``EV_model / EV_data`` on the Noise 2 sweeps (NULL: see ``problem``).
    explained_variance_ratio: Mapped[float | None]
    ev_data: Mapped[float | None]
    ev_model: Mapped[float | None]
    #: The published value: ``neuronal_model_runs.explained_variance_ratio`` of this run.
    neuronal_model_run_id: Mapped[int | None]
    published_explained_variance_ratio: Mapped[float | None]
    #: Noise 2 sweeps scored (the model ran on the first one's stimulus), and their numbers.
    noise2_sweeps: Mapped[int | None]
    noise2_sweep_numbers: Mapped[list[int] | None]
    #: Current-clamp sweeps of the recording the model was run on (rows in ``glif_spikes``).
    simulated_sweeps: Mapped[int | None]
    model_spikes: Mapped[int | None]
    config_well_known_file_id: Mapped[int | None]
    config_sha256: Mapped[str | None]
    recording_well_known_file_id: Mapped[int | None]
    recording_sha256: Mapped[str | None]
    #: Whether the model's voltage traces were written to ``glif_voltages``.
    voltages_written: Mapped[bool]
    code_version: Mapped[int]
    computed_at: Mapped[datetime]
    #: Why ``explained_variance_ratio`` is NULL, else NULL.
    problem: Mapped[str | None]


describe(ModelMetrics, {
    "neuronal_model_id": "the GLIF model (NeuronalModel.id; key)",
    "specimen_id": "the cell the model was fitted to (Specimen.id)",
    "neuronal_model_template_id": "the model's template (NeuronalModelTemplate.id)",
    "level": "GLIF level 1-5 of the converted neuron_config",
    "explained_variance_ratio": "recomputed explained variance ratio EV_model / EV_data on "
                                "the Noise 2 sweeps (dimensionless, 0-1; empty: see problem)",
    "ev_data": "explained variance of the recorded spike trains by their mean (dimensionless)",
    "ev_model": "explained variance of the recorded spike trains by the model's "
                "(dimensionless)",
    "neuronal_model_run_id": "the run whose ratio is published (NeuronalModelRun.id)",
    "published_explained_variance_ratio": "that run's published explained variance ratio "
                                          "(dimensionless, 0-1)",
    "noise2_sweeps": "Noise 2 sweeps scored (count)",
    "noise2_sweep_numbers": "their sweep numbers (JSON list)",
    "simulated_sweeps": "current-clamp sweeps the model was run on (count)",
    "model_spikes": "spikes of the model over every simulated sweep (count)",
    "config_well_known_file_id": "the neuron_config.json used (WellKnownFile.id)",
    "config_sha256": "sha256 of the config's bytes (hex)",
    "recording_well_known_file_id": "the NWB recording used (WellKnownFile.id)",
    "recording_sha256": "sha256 of the recording's bytes (hex)",
    "voltages_written": "the model's voltage traces are in the glif_voltages dataset "
                        "(true/false)",
    "code_version": "version of the code that computed the row; a new one recomputes it",
    "computed_at": "when the row was computed (UTC timestamp)",
    "problem": "why explained_variance_ratio is empty; empty when it is not",
})

model_metrics = ModelMetrics.__table__

__all__ = ["ModelMetrics", "model_metrics"]
