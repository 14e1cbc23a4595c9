"""Cells and where they come from: the cell list, specimens, donors and brain structures."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from ctmirror.schema.base import Base, MirroredRecord, allen_id, describe
from ctmirror.schema.feature_docs import FEATURE_DESCRIPTIONS


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




def _cell_list_feature(name: str) -> str:
    """The cell list's copy of a published feature (``ef__<feature>``, ``nr__<feature>``)."""
    if name.startswith("nr__"):
        return FEATURE_DESCRIPTIONS[name]
    return f"the cell list's copy of ephys_features: {FEATURE_DESCRIPTIONS[name[4:]]}"


describe(ApiCellTypesSpecimenDetail, {
    "specimen__id": "the cell's Specimen.id (key)",
    "specimen__name": "the cell's specimen name, e.g. 'Rbp4-Cre_KL100;Ai14-203498.04.02.01'",
    "specimen__hemisphere": "hemisphere of the cell: 'left' or 'right'",
    "line_name": "transgenic driver line of the mouse, e.g. 'Rbp4-Cre_KL100' (empty for "
                 "humans)",
    "cell_reporter_status": "cell reporter status: 'positive', 'negative', 'indeterminate' or "
                            "empty",
    "structure__id": "brain structure of the soma (Structure.id)",
    "structure__name": "name of the brain structure of the soma",
    "structure__acronym": "acronym of the brain structure of the soma, e.g. 'VISp5'",
    "structure__layer": "cortical layer of the soma as published: '1', '2/3', '4', '5', '6a', "
                        "'6b', ...",
    "structure_parent__id": "the structure's parent, the cortical area (Structure.id)",
    "structure_parent__acronym": "acronym of the cortical area, e.g. 'VISp'",
    "donor__id": "the donor (Donor.id)",
    "donor__name": "the donor's name",
    "donor__species": "species as published: 'Mus musculus' or 'Homo Sapiens'",
    "donor__sex": "the donor's sex as published ('Male', 'Female'; empty for mice)",
    "donor__age": "the donor's age as published, e.g. '24 yrs' (empty for mice)",
    "donor__race": "the human donor's race as published",
    "donor__disease_state": "the human donor's disease state, e.g. 'epilepsy'",
    "donor__years_of_seizure_history": "years of seizure history of the human donor (years)",
    "tag__dendrite_type": "dendrite type: 'spiny', 'aspiny' or 'sparsely spiny'",
    "tag__apical": "state of the apical dendrite: 'intact', 'truncated' or 'NA'",
    "csl__x": "soma position x in the slice (µm)",
    "csl__y": "soma position y in the slice (µm)",
    "csl__z": "soma position z in the slice (µm)",
    "csl__normalized_depth": "soma depth in the cortex, 0 at the pia and 1 at the white matter "
                             "(dimensionless)",
    "nr__reconstruction_type": "reconstruction of the cell: 'full', 'dendrite-only' or empty",
    **{name: _cell_list_feature(name) for name in (
        "nr__average_contraction", "nr__average_parent_daughter_ratio",
        "nr__max_euclidean_distance", "nr__number_bifurcations", "nr__number_stems",
        "ef__adaptation", "ef__avg_isi", "ef__f_i_curve_slope",
        "ef__fast_trough_v_long_square", "ef__peak_t_ramp", "ef__ri", "ef__tau",
        "ef__threshold_i_long_square", "ef__upstroke_downstroke_ratio_long_square",
        "ef__vrest")},
    "nrwkf__id": "the SWC reconstruction file of the cell (WellKnownFile.id)",
    "erwkf__id": "the NWB recording file of the cell (WellKnownFile.id)",
    "ef__avg_firing_rate": "mean firing rate of the hero long square (Hz)",
    "si__height": "height of the cell's 63x image series (pixels)",
    "si__width": "width of the cell's 63x image series (pixels)",
    "si__path": "server path of the cell's 63x image series",
    "morph_thumb_path": "server path of the morphology thumbnail",
    "ephys_thumb_path": "server path of the ephys summary thumbnail",
    "ephys_inst_thresh_thumb_path": "server path of the instantaneous-threshold thumbnail",
    "m__glif": "published number of GLIF models of the cell (count)",
    "m__biophys": "published number of biophysical models of the cell (count)",
    "m__biophys_perisomatic": "published number of perisomatic biophysical models (count)",
    "m__biophys_all_active": "published number of all-active biophysical models (count)",
})

describe(Specimen, {
    "id": "Allen specimen id (key)",
    "name": "specimen name",
    "parent_id": "the parent specimen: the slice of a cell, the brain of a slice "
                 "(Specimen.id)",
    "specimen_id_path": "ids from the root specimen down to this one, '/a/b/c/id/'",
    "donor_id": "the donor (Donor.id)",
    "structure_id": "the brain structure (Structure.id)",
    "ephys_result_id": "the cell's recording session (EphysResult.id)",
    "cell_reporter_id": "the cell reporter status record (CellReporter id)",
    "cortex_layer_id": "the cortical layer record (CortexLayer id)",
    "treatment_id": "the treatment record (Allen id)",
    "is_cell_specimen": "the specimen is a single cell (true/false)",
    "is_ish": "the specimen is an in situ hybridisation sample (true/false)",
    "hemisphere": "'left' or 'right'",
    "parent_x_coord": "x position in the parent specimen (as published; µm)",
    "parent_y_coord": "y position in the parent specimen (as published; µm)",
    "parent_z_coord": "z position in the parent specimen (as published; µm)",
    "pinned_radius": "radius of the pinned position (as published; µm)",
    "rna_integrity_number": "RNA integrity number of the tissue (1-10)",
    "tissue_ph": "pH of the tissue (pH units)",
    "weight": "ordering weight the Allen database gives the specimen (dimensionless)",
    "sphinx_id": "Allen search index id",
    "failed_facet": "Allen search facet id of the failed flag",
    "cell_prep_sample_id": "the cell preparation sample (Allen id)",
    "external_specimen_name": "the specimen's name outside the Allen Institute",
})

describe(Donor, {
    "id": "Allen donor id (key)",
    "name": "donor name (mouse id or human case id)",
    "external_donor_name": "the donor's name outside the Allen Institute",
    "organism_id": "the species (Organism id)",
    "age_id": "the age record (Allen id)",
    "sex": "sex code as published, e.g. 'M', 'F'",
    "sex_full_name": "sex as published, e.g. 'Male', 'Female'",
    "race_only": "the human donor's race",
    "strain": "the mouse strain with its genotype",
    "strain_only": "the mouse strain",
    "full_genotype": "the mouse's full genotype",
    "transgenic_mouse_id": "the transgenic mouse record (Allen id)",
    "date_of_birth": "date of birth as published (text)",
    "condition_description": "the human donor's medical condition",
    "primary_tissue_source": "where the tissue came from",
    "tags": "free-text tags",
})

describe(Structure, {
    "id": "Allen structure id (key)",
    "name": "structure name, e.g. 'Primary visual area, layer 5'",
    "acronym": "structure acronym, e.g. 'VISp5'",
    "safe_name": "structure name without special characters",
    "parent_structure_id": "the enclosing structure (Structure.id)",
    "structure_id_path": "ids from the root of the ontology down to this one, '/a/b/id/'",
    "ontology_id": "the ontology (Allen id)",
    "graph_id": "the structure graph (Allen id)",
    "graph_order": "position in the ontology's depth-first order (index)",
    "atlas_id": "the atlas record (Allen id)",
    "depth": "depth in the ontology tree (levels)",
    "st_level": "structure level in the ontology (levels)",
    "hemisphere_id": "the hemisphere record (Allen id)",
    "color_hex_triplet": "display colour, e.g. '08858C' (hex RGB)",
    "failed": "the structure was retired (true/false)",
    "failed_facet": "Allen search facet id of the failed flag",
    "sphinx_id": "Allen search index id",
    "structure_name_facet": "Allen search facet id of the name",
    "weight": "ordering weight the Allen database gives the structure (dimensionless)",
})

__all__ = ["ApiCellTypesSpecimenDetail", "Donor", "Specimen", "Structure"]
