"""Cells and where they come from: the cell list, specimens, donors and brain structures."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from ctmirror.schema.base import Base, MirroredRecord, allen_id


class ApiCellTypesSpecimenDetail(MirroredRecord, Base):
    """``model::ApiCellTypesSpecimenDetail``: the flat cell list, one row per cell, 54 columns."""

    __tablename__ = "api_cell_types_specimen_details"

    specimen__id: Mapped[int] = allen_id()
    specimen__name: Mapped[str | None]
    specimen__hemisphere: Mapped[str | None]
    line_name: Mapped[str | None]
    cell_reporter_status: Mapped[str | None]
    structure__id: Mapped[int | None]
    structure__name: Mapped[str | None]
    structure__acronym: Mapped[str | None]
    structure__layer: Mapped[str | None]
    structure_parent__id: Mapped[int | None]
    structure_parent__acronym: Mapped[str | None]
    donor__id: Mapped[int | None]
    donor__name: Mapped[str | None]
    donor__species: Mapped[str | None]
    donor__sex: Mapped[str | None]
    donor__age: Mapped[str | None]
    donor__race: Mapped[str | None]
    donor__disease_state: Mapped[str | None]
    donor__years_of_seizure_history: Mapped[float | None]
    tag__dendrite_type: Mapped[str | None]
    tag__apical: Mapped[str | None]
    csl__x: Mapped[float | None]
    csl__y: Mapped[float | None]
    csl__z: Mapped[float | None]
    csl__normalized_depth: Mapped[float | None]
    nr__reconstruction_type: Mapped[str | None]
    nr__average_contraction: Mapped[float | None]
    nr__average_parent_daughter_ratio: Mapped[float | None]
    nr__max_euclidean_distance: Mapped[float | None]
    nr__number_bifurcations: Mapped[int | None]
    nr__number_stems: Mapped[int | None]
    nrwkf__id: Mapped[int | None]
    erwkf__id: Mapped[int | None]
    ef__adaptation: Mapped[float | None]
    ef__avg_firing_rate: Mapped[float | None]
    ef__avg_isi: Mapped[float | None]
    ef__f_i_curve_slope: Mapped[float | None]
    ef__fast_trough_v_long_square: Mapped[float | None]
    ef__peak_t_ramp: Mapped[float | None]
    ef__ri: Mapped[float | None]
    ef__tau: Mapped[float | None]
    ef__threshold_i_long_square: Mapped[float | None]
    ef__upstroke_downstroke_ratio_long_square: Mapped[float | None]
    ef__vrest: Mapped[float | None]
    si__height: Mapped[int | None]
    si__width: Mapped[int | None]
    si__path: Mapped[str | None]
    morph_thumb_path: Mapped[str | None]
    ephys_thumb_path: Mapped[str | None]
    ephys_inst_thresh_thumb_path: Mapped[str | None]
    m__glif: Mapped[int | None]
    m__biophys: Mapped[int | None]
    m__biophys_perisomatic: Mapped[int | None]
    m__biophys_all_active: Mapped[int | None]


class Specimen(MirroredRecord, Base):
    """``model::Specimen``: a cell (or a slice, or a brain) in the specimen tree."""

    __tablename__ = "specimens"

    id: Mapped[int] = allen_id()
    name: Mapped[str | None]
    parent_id: Mapped[int | None]
    specimen_id_path: Mapped[str | None]
    donor_id: Mapped[int | None]
    structure_id: Mapped[int | None]
    ephys_result_id: Mapped[int | None]
    cell_reporter_id: Mapped[int | None]
    cortex_layer_id: Mapped[int | None]
    treatment_id: Mapped[int | None]
    is_cell_specimen: Mapped[bool | None]
    is_ish: Mapped[bool | None]
    hemisphere: Mapped[str | None]
    parent_x_coord: Mapped[float | None]
    parent_y_coord: Mapped[float | None]
    parent_z_coord: Mapped[float | None]
    pinned_radius: Mapped[float | None]
    rna_integrity_number: Mapped[float | None]
    tissue_ph: Mapped[float | None]
    weight: Mapped[float | None]
    sphinx_id: Mapped[int | None]
    failed_facet: Mapped[int | None]
    cell_prep_sample_id: Mapped[int | None]
    external_specimen_name: Mapped[str | None]


class Donor(MirroredRecord, Base):
    """``model::Donor``: the mouse or the human patient a specimen came from."""

    __tablename__ = "donors"

    id: Mapped[int] = allen_id()
    name: Mapped[str | None]
    external_donor_name: Mapped[str | None]
    organism_id: Mapped[int | None]
    age_id: Mapped[int | None]
    sex: Mapped[str | None]
    sex_full_name: Mapped[str | None]
    race_only: Mapped[str | None]
    strain: Mapped[str | None]
    strain_only: Mapped[str | None]
    full_genotype: Mapped[str | None]
    transgenic_mouse_id: Mapped[int | None]
    date_of_birth: Mapped[str | None]
    condition_description: Mapped[str | None]
    primary_tissue_source: Mapped[str | None]
    tags: Mapped[str | None]


class Structure(MirroredRecord, Base):
    """``model::Structure``: a brain region of the Allen ontology."""

    __tablename__ = "structures"

    id: Mapped[int] = allen_id()
    name: Mapped[str | None]
    acronym: Mapped[str | None]
    safe_name: Mapped[str | None]
    parent_structure_id: Mapped[int | None]
    structure_id_path: Mapped[str | None]
    ontology_id: Mapped[int | None]
    graph_id: Mapped[int | None]
    graph_order: Mapped[int | None]
    atlas_id: Mapped[int | None]
    depth: Mapped[int | None]
    st_level: Mapped[int | None]
    hemisphere_id: Mapped[int | None]
    color_hex_triplet: Mapped[str | None]
    failed: Mapped[bool | None]
    failed_facet: Mapped[int | None]
    sphinx_id: Mapped[int | None]
    structure_name_facet: Mapped[int | None]
    weight: Mapped[int | None]


__all__ = ["ApiCellTypesSpecimenDetail", "Donor", "Specimen", "Structure"]
