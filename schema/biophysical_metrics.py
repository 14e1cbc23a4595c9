"""Biophysical models simulated on their cell's recording and scored, beside the published score.

``biophysical_model_metrics`` has one row per mirrored biophysical (perisomatic or all-active)
model whose cell has a converted recording: the feature-average error recomputed by simulating
the model with NEURON on the cell's current-clamp stimuli (``ctmirror.sync_biophys``,
``docs/biophysical.md``) next to the published ``NeuronalModelRun.rheobase_feature_average``.
``biophysical_feature_metrics`` holds its per-feature model and recorded values and
``biophysical_sweep_metrics`` the spike counts of the model and the recording on every simulated
sweep. A model that cannot be scored still has a model row: the average is NULL and
``problem`` says why. Each row names the bytes it was made from (fit, SWC, mechanisms,
recording) and the code version; it is recomputed when any of them changes. The model's spikes
are the Parquet dataset ``biophysical_spikes`` (``schema/parquet.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from ctmirror.schema.base import Base, describe


class BiophysicalModelMetrics(Base):
    """One biophysical model: recomputed and published feature average, and their inputs."""

    __tablename__ = "biophysical_model_metrics"

    neuronal_model_id: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                                   autoincrement=False)
    specimen_id: Mapped[int | None]
    neuronal_model_template_id: Mapped[int | None]
    feature_average: Mapped[float | None]
    features_scored: Mapped[int | None]
    training_sweep_numbers: Mapped[list[int] | None]
    neuronal_model_run_id: Mapped[int | None]
    published_rheobase_feature_average: Mapped[float | None]
    simulated_sweeps: Mapped[int | None]
    model_spikes: Mapped[int | None]
    sweeps_same_spike_count: Mapped[int | None]
    solver: Mapped[str | None]
    simulation_seconds: Mapped[float | None]
    fit_well_known_file_id: Mapped[int | None]
    fit_sha256: Mapped[str | None]
    swc_well_known_file_id: Mapped[int | None]
    swc_sha256: Mapped[str | None]
    mechanisms_sha256: Mapped[str | None]
    recording_well_known_file_id: Mapped[int | None]
    recording_sha256: Mapped[str | None]
    #: A digest of the settings the result depends on (solver, stimuli simulated).
    settings_key: Mapped[str]
    code_version: Mapped[int]
    computed_at: Mapped[datetime]
    problem: Mapped[str | None]


describe(BiophysicalModelMetrics, {
    "neuronal_model_id": "the biophysical model (NeuronalModel.id; key)",
    "specimen_id": "the cell the model was fitted to (Specimen.id)",
    "neuronal_model_template_id": "the model's template (NeuronalModelTemplate.id): "
                                  "perisomatic or all-active",
    "feature_average": "recomputed feature-average error: mean over the scored features of "
                       "|model - recorded mean| / recorded sd on the fit's training sweeps "
                       "(dimensionless; empty: see problem)",
    "features_scored": "features in the average (count; rows in biophysical_feature_metrics "
                       "with an error)",
    "training_sweep_numbers": "the fit's training sweeps (fitting.sweeps) found in the "
                              "recording (JSON list)",
    "neuronal_model_run_id": "the run whose feature average is published (NeuronalModelRun.id)",
    "published_rheobase_feature_average": "that run's published rheobase_feature_average "
                                          "(dimensionless)",
    "simulated_sweeps": "current-clamp sweeps the model was run on (count; rows in "
                        "biophysical_sweep_metrics)",
    "model_spikes": "spikes of the model over every simulated sweep (count; rows in "
                    "biophysical_spikes)",
    "sweeps_same_spike_count": "simulated sweeps on which the model fired as many spikes as "
                               "the recording's published spike times (count)",
    "solver": "NEURON integration: fixed (one step per sample, as AllenSDK's runner) or cvode",
    "simulation_seconds": "wall time of the model's simulations (s)",
    "fit_well_known_file_id": "the *_fit.json used (WellKnownFile.id)",
    "fit_sha256": "sha256 of the fit's bytes (hex)",
    "swc_well_known_file_id": "the reconstruction SWC used (WellKnownFile.id)",
    "swc_sha256": "sha256 of the SWC's bytes (hex)",
    "mechanisms_sha256": "sha256 over the names and bytes of the template's .mod files (hex)",
    "recording_well_known_file_id": "the NWB recording whose stimuli were used "
                                    "(WellKnownFile.id)",
    "recording_sha256": "sha256 of the recording's bytes (hex)",
    "settings_key": "the settings the row was computed with (solver, stimuli); a change "
                    "recomputes it",
    "code_version": "version of the code that computed the row; a new one recomputes it",
    "computed_at": "when the row was computed (UTC timestamp)",
    "problem": "why feature_average is empty (or the model was not run); empty when it is not",
})


class BiophysicalFeatureMetrics(Base):
    """One feature of one biophysical model: the model's value against the recorded one."""

    __tablename__ = "biophysical_feature_metrics"

    neuronal_model_id: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                                   autoincrement=False)
    feature: Mapped[str] = mapped_column(primary_key=True)
    specimen_id: Mapped[int | None]
    model_value: Mapped[float | None]
    recorded_mean: Mapped[float | None]
    recorded_sd: Mapped[float | None]
    recorded_sweeps: Mapped[int]
    error: Mapped[float | None]


describe(BiophysicalFeatureMetrics, {
    "neuronal_model_id": "the biophysical model (NeuronalModel.id; key with feature)",
    "feature": "feature name as in ephys_sweep_features (avg_rate, peak_v, width, ...)",
    "specimen_id": "the cell the model was fitted to (Specimen.id)",
    "model_value": "mean of the feature over the model's responses to the training sweeps' "
                   "stimuli (unit of the feature: Hz, mV, s; empty: the model has none)",
    "recorded_mean": "mean over the training sweeps of the recorded feature, voltages shifted "
                     "by the fit's junction potential (unit of the feature)",
    "recorded_sd": "standard deviation over the training sweeps, floored as published (unit "
                   "of the feature)",
    "recorded_sweeps": "training sweeps with a recorded value (count)",
    "error": "|model_value - recorded_mean| / recorded_sd, 20 when the model has no value "
             "(dimensionless; empty: the recording has no value, left out of the average)",
})


class BiophysicalSweepMetrics(Base):
    """One simulated sweep of one biophysical model: its spike count against the recording's."""

    __tablename__ = "biophysical_sweep_metrics"

    neuronal_model_id: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                                   autoincrement=False)
    sweep_number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    specimen_id: Mapped[int | None]
    stimulus_name: Mapped[str | None]
    training: Mapped[bool]
    model_spike_count: Mapped[int]
    recorded_spike_count: Mapped[int | None]
    run_seconds: Mapped[float]


describe(BiophysicalSweepMetrics, {
    "neuronal_model_id": "the biophysical model (NeuronalModel.id; key with sweep_number)",
    "sweep_number": "N of Sweep_N whose stimulus was injected",
    "specimen_id": "the cell whose sweep it is (Specimen.id)",
    "stimulus_name": "the sweep's stimulus, e.g. 'Long Square'",
    "training": "the sweep is one of the fit's training sweeps (true/false)",
    "model_spike_count": "spikes of the model on the sweep (count)",
    "recorded_spike_count": "spikes the recording publishes for the sweep (count; empty: the "
                            "file has no spike times)",
    "run_seconds": "wall time of the simulation (s)",
})

biophysical_model_metrics = BiophysicalModelMetrics.__table__
biophysical_feature_metrics = BiophysicalFeatureMetrics.__table__
biophysical_sweep_metrics = BiophysicalSweepMetrics.__table__

__all__ = ["BiophysicalFeatureMetrics", "BiophysicalModelMetrics", "BiophysicalSweepMetrics",
           "biophysical_feature_metrics", "biophysical_model_metrics",
           "biophysical_sweep_metrics"]
