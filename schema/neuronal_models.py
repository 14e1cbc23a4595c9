"""Neuronal models: GLIF and biophysical model templates, fitted models and their runs."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from ctmirror.schema.base import Base, MirroredRecord, allen_id


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


__all__ = ["NeuronalModel", "NeuronalModelRun", "NeuronalModelTemplate"]
