"""Morphology: neuron reconstructions with Allen's published morphology features."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from ctmirror.features.names import RECONSTRUCTION_COLUMNS
from ctmirror.schema.base import Base, MirroredRecord, allen_id, describe
from ctmirror.schema.feature_docs import FEATURE_DESCRIPTIONS


class NeuronReconstruction(MirroredRecord, Base):
    """``model::NeuronReconstruction``: a traced cell; its SWC file hangs off it (30 attributes)."""

    __tablename__ = "neuron_reconstructions"

    id: Mapped[int] = allen_id()
    specimen_id: Mapped[int | None]
    neuron_reconstruction_type: Mapped[str | None]
    tags: Mapped[str | None]
    superseded: Mapped[bool | None]
    average_bifurcation_angle_local: Mapped[float | None]
    average_bifurcation_angle_remote: Mapped[float | None]
    average_contraction: Mapped[float | None]
    average_diameter: Mapped[float | None]
    average_fragmentation: Mapped[float | None]
    average_parent_daughter_ratio: Mapped[float | None]
    hausdorff_dimension: Mapped[float | None]
    max_branch_order: Mapped[float | None]
    max_euclidean_distance: Mapped[float | None]
    max_path_distance: Mapped[float | None]
    number_bifurcations: Mapped[int | None]
    number_branches: Mapped[int | None]
    number_nodes: Mapped[int | None]
    number_stems: Mapped[int | None]
    number_tips: Mapped[int | None]
    overall_depth: Mapped[float | None]
    overall_height: Mapped[float | None]
    overall_width: Mapped[float | None]
    scale_factor_x: Mapped[float | None]
    scale_factor_y: Mapped[float | None]
    scale_factor_z: Mapped[float | None]
    soma_surface: Mapped[float | None]
    total_length: Mapped[float | None]
    total_surface: Mapped[float | None]
    total_volume: Mapped[float | None]


describe(NeuronReconstruction, {
    "id": "Allen reconstruction id (key)",
    "specimen_id": "the cell (Specimen.id)",
    "neuron_reconstruction_type": "'full' or 'dendrite-only'",
    "tags": "free-text tags, e.g. '3D Neuron Reconstruction morphology'",
    "superseded": "a newer reconstruction of the cell replaces this one (true/false)",
    "scale_factor_x": "image scale along x (µm per voxel)",
    "scale_factor_y": "image scale along y (µm per voxel)",
    "scale_factor_z": "image scale along z (µm per voxel)",
    **{name: FEATURE_DESCRIPTIONS[name] for name in RECONSTRUCTION_COLUMNS},
})


__all__ = ["NeuronReconstruction"]
