"""The warehouse schema: every table, the one source of truth for migrations and the loader.

One module per domain, all on one ``Base``. ``allen_model`` describes the Allen data model once:
every mirrored model with its table, primary key and associations (``MODEL_TABLES`` maps each
model to its table); ``typed_values`` turns a raw API record into that table's typed values.
"""

from __future__ import annotations

from ctmirror.schema.allen_model import MODEL_TABLES, AllenModel, Association
from ctmirror.schema.base import BOOKKEEPING_COLUMNS, Base
from ctmirror.schema.biophysical_metrics import (
    BiophysicalFeatureMetrics,
    BiophysicalModelMetrics,
    BiophysicalSweepMetrics,
)
from ctmirror.schema.ephys import EphysFeature, EphysResult, EphysSweep
from ctmirror.schema.ephys_recomputed import (
    RECOMPUTED_FEATURES,
    EphysSweepFeatures,
    ephys_features_recomputed,
)
from ctmirror.schema.files import WellKnownFile, WellKnownFileType
from ctmirror.schema.images import ImageSeries, ProjectionImage, SubImage
from ctmirror.schema.mirror import FileSource, MirrorFile
from ctmirror.schema.model_metrics import ModelMetrics, model_metrics
from ctmirror.schema.model_parameters import (
    BiophysicalFit,
    BiophysicalFitParameter,
    GlifNeuronConfig,
)
from ctmirror.schema.morphology import NeuronReconstruction
from ctmirror.schema.morphology_recomputed import morphology_features_recomputed
from ctmirror.schema.neuronal_models import (
    NeuronalModel,
    NeuronalModelRun,
    NeuronalModelTemplate,
    NeuronalModelTemplateWellKnownFile,
)
from ctmirror.schema.records import (
    attribute_columns,
    coerce,
    primary_key_column,
    row_typer,
    typed_values,
)
from ctmirror.schema.specimens import ApiCellTypesSpecimenDetail, Donor, Specimen, Structure
from ctmirror.schema.sync import (
    ChangeKind,
    SyncError,
    SyncQuarantine,
    SyncRecordHistory,
    SyncRun,
    SyncStatus,
)

metadata = Base.metadata

__all__ = [
    "BOOKKEEPING_COLUMNS",
    "MODEL_TABLES",
    "RECOMPUTED_FEATURES",
    "AllenModel",
    "ApiCellTypesSpecimenDetail",
    "Association",
    "Base",
    "BiophysicalFeatureMetrics",
    "BiophysicalFit",
    "BiophysicalFitParameter",
    "BiophysicalModelMetrics",
    "BiophysicalSweepMetrics",
    "ChangeKind",
    "Donor",
    "EphysFeature",
    "EphysResult",
    "EphysSweep",
    "EphysSweepFeatures",
    "FileSource",
    "GlifNeuronConfig",
    "ImageSeries",
    "MirrorFile",
    "ModelMetrics",
    "NeuronReconstruction",
    "NeuronalModel",
    "NeuronalModelRun",
    "NeuronalModelTemplate",
    "NeuronalModelTemplateWellKnownFile",
    "ProjectionImage",
    "Specimen",
    "Structure",
    "SubImage",
    "SyncError",
    "SyncQuarantine",
    "SyncRecordHistory",
    "SyncRun",
    "SyncStatus",
    "WellKnownFile",
    "WellKnownFileType",
    "attribute_columns",
    "ephys_features_recomputed",
    "morphology_features_recomputed",
    "coerce",
    "metadata",
    "model_metrics",
    "primary_key_column",
    "row_typer",
    "typed_values",
]
