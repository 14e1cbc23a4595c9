"""Neuronal models: GLIF and biophysical model templates, fitted models and their runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from ctmirror.schema.base import Base, MirroredRecord, allen_id, describe


class NeuronalModelTemplate(MirroredRecord, Base):
    """``model::NeuronalModelTemplate``: a model family (``(LIF-R-ASC)``,
    ``Biophysical - perisomatic``, ...)."""

    __tablename__ = "neuronal_model_templates"

    id: Mapped[int] = allen_id()
    name: Mapped[str | None]
    description: Mapped[str | None]


class NeuronalModel(MirroredRecord, Base):
    """``model::NeuronalModel``: a template fitted to one cell."""

    __tablename__ = "neuronal_models"

    id: Mapped[int] = allen_id()
    name: Mapped[str | None]
    specimen_id: Mapped[int | None]
    neuronal_model_template_id: Mapped[int | None]
    neuron_reconstruction_id: Mapped[int | None]


class NeuronalModelRun(MirroredRecord, Base):
    """``model::NeuronalModelRun``: a simulation of a fitted model, scored against the recording."""

    __tablename__ = "neuronal_model_runs"

    id: Mapped[int] = allen_id()
    neuronal_model_id: Mapped[int | None]
    name: Mapped[str | None]
    explained_variance_ratio: Mapped[float | None]
    rheobase_feature_average: Mapped[float | None]


class NeuronalModelTemplateWellKnownFile(Base):
    """``NeuronalModelTemplate.well_known_files``: the NEURON mechanism files (``.mod``) a
    biophysical template lists. The files are attached to a ``Product``, so only the template's
    list links them to it (a join table the API does not expose as a model). A pair that
    disappears upstream gets ``removed_at`` and stays."""

    __tablename__ = "neuronal_model_template_well_known_files"

    neuronal_model_template_id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False)
    well_known_file_id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    removed_at: Mapped[datetime | None]
    first_sync_id: Mapped[str]
    last_sync_id: Mapped[str]


describe(NeuronalModelTemplate, {
    "id": "Allen template id (key)",
    "name": "template name, e.g. '4 LIF-R + Afterspike Currents (LIF-R-ASC)', "
            "'Biophysical - perisomatic'",
    "description": "template description, e.g. 'GLIF Neuronal Model Template'",
})

describe(NeuronalModel, {
    "id": "Allen model id (key)",
    "name": "model name: template name and the cell's specimen name",
    "specimen_id": "the cell the model was fitted to (Specimen.id)",
    "neuronal_model_template_id": "the model family (NeuronalModelTemplate.id)",
    "neuron_reconstruction_id": "the morphology a biophysical model uses "
                                "(NeuronReconstruction.id)",
})

describe(NeuronalModelRun, {
    "id": "Allen model run id (key)",
    "neuronal_model_id": "the model that was run (NeuronalModel.id)",
    "name": "run name",
    "explained_variance_ratio": "published explained variance ratio of the model's spikes "
                                "on the Noise 2 sweeps (dimensionless, 0-1)",
    "rheobase_feature_average": "biophysical models: mean feature error at rheobase (z-score, "
                                "dimensionless)",
})


describe(NeuronalModelTemplateWellKnownFile, {
    "neuronal_model_template_id": "the template (NeuronalModelTemplate.id)",
    "well_known_file_id": "a file the template lists (WellKnownFile.id)",
    "first_seen": "when a sync first found the pair (UTC timestamp)",
    "last_seen": "when a sync last found the pair upstream (UTC timestamp)",
    "removed_at": "when the pair disappeared upstream (UTC timestamp); empty while current",
    "first_sync_id": "the sync that first found the pair (sync_runs.sync_id)",
    "last_sync_id": "the sync that last found the pair (sync_runs.sync_id)",
})


__all__ = [
    "NeuronalModel",
    "NeuronalModelRun",
    "NeuronalModelTemplate",
    "NeuronalModelTemplateWellKnownFile",
]
