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

from ctmirror.schema.base import Base


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


model_metrics = ModelMetrics.__table__

__all__ = ["ModelMetrics", "model_metrics"]
