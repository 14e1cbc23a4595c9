"""initial warehouse

Why: the first schema of the mirror. One table per mirrored Allen model (Allen's Rails table
names; Allen integer ids as natural primary keys, never SERIAL, which DuckDB lacks), each with
typed columns for the known attributes plus the whole record in ``raw`` and the bookkeeping
columns of the merge (content hash, first/last seen, removal mark, first/last sync). The
``sync_*`` tables record runs, the history of changed records and per-record errors. No foreign
keys or secondary indexes: on DuckDB they make later ALTER TABLE fail.

Revision ID: 4b7e2d9a0c01
Revises:
Create Date: 2026-11-23 21:42:11.215749+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "4b7e2d9a0c01"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _bookkeeping_columns() -> list[sa.Column[object]]:
    """The merge bookkeeping every mirrored table carries (frozen as of this revision)."""
    return [
        sa.Column("raw", _json(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_sync_id", sa.Text(), nullable=False),
        sa.Column("last_sync_id", sa.Text(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "api_cell_types_specimen_details",
        sa.Column("specimen__id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("specimen__name", sa.Text(), nullable=True),
        sa.Column("specimen__hemisphere", sa.Text(), nullable=True),
        sa.Column("line_name", sa.Text(), nullable=True),
        sa.Column("cell_reporter_status", sa.Text(), nullable=True),
        sa.Column("structure__id", sa.BigInteger(), nullable=True),
        sa.Column("structure__name", sa.Text(), nullable=True),
        sa.Column("structure__acronym", sa.Text(), nullable=True),
        sa.Column("structure__layer", sa.Text(), nullable=True),
        sa.Column("structure_parent__id", sa.BigInteger(), nullable=True),
        sa.Column("structure_parent__acronym", sa.Text(), nullable=True),
        sa.Column("donor__id", sa.BigInteger(), nullable=True),
        sa.Column("donor__name", sa.Text(), nullable=True),
        sa.Column("donor__species", sa.Text(), nullable=True),
        sa.Column("donor__sex", sa.Text(), nullable=True),
        sa.Column("donor__age", sa.Text(), nullable=True),
        sa.Column("donor__race", sa.Text(), nullable=True),
        sa.Column("donor__disease_state", sa.Text(), nullable=True),
        sa.Column("donor__years_of_seizure_history", sa.Double(), nullable=True),
        sa.Column("tag__dendrite_type", sa.Text(), nullable=True),
        sa.Column("tag__apical", sa.Text(), nullable=True),
        sa.Column("csl__x", sa.Double(), nullable=True),
        sa.Column("csl__y", sa.Double(), nullable=True),
        sa.Column("csl__z", sa.Double(), nullable=True),
        sa.Column("csl__normalized_depth", sa.Double(), nullable=True),
        sa.Column("nr__reconstruction_type", sa.Text(), nullable=True),
        sa.Column("nr__average_contraction", sa.Double(), nullable=True),
        sa.Column("nr__average_parent_daughter_ratio", sa.Double(), nullable=True),
        sa.Column("nr__max_euclidean_distance", sa.Double(), nullable=True),
        sa.Column("nr__number_bifurcations", sa.BigInteger(), nullable=True),
        sa.Column("nr__number_stems", sa.BigInteger(), nullable=True),
        sa.Column("nrwkf__id", sa.BigInteger(), nullable=True),
        sa.Column("erwkf__id", sa.BigInteger(), nullable=True),
        sa.Column("ef__adaptation", sa.Double(), nullable=True),
        sa.Column("ef__avg_firing_rate", sa.Double(), nullable=True),
        sa.Column("ef__avg_isi", sa.Double(), nullable=True),
        sa.Column("ef__f_i_curve_slope", sa.Double(), nullable=True),
        sa.Column("ef__fast_trough_v_long_square", sa.Double(), nullable=True),
        sa.Column("ef__peak_t_ramp", sa.Double(), nullable=True),
        sa.Column("ef__ri", sa.Double(), nullable=True),
        sa.Column("ef__tau", sa.Double(), nullable=True),
        sa.Column("ef__threshold_i_long_square", sa.Double(), nullable=True),
        sa.Column("ef__upstroke_downstroke_ratio_long_square", sa.Double(), nullable=True),
        sa.Column("ef__vrest", sa.Double(), nullable=True),
        sa.Column("si__height", sa.BigInteger(), nullable=True),
        sa.Column("si__width", sa.BigInteger(), nullable=True),
        sa.Column("si__path", sa.Text(), nullable=True),
        sa.Column("morph_thumb_path", sa.Text(), nullable=True),
        sa.Column("ephys_thumb_path", sa.Text(), nullable=True),
        sa.Column("ephys_inst_thresh_thumb_path", sa.Text(), nullable=True),
        sa.Column("m__glif", sa.BigInteger(), nullable=True),
        sa.Column("m__biophys", sa.BigInteger(), nullable=True),
        sa.Column("m__biophys_perisomatic", sa.BigInteger(), nullable=True),
        sa.Column("m__biophys_all_active", sa.BigInteger(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("specimen__id", name=op.f("pk_api_cell_types_specimen_details")),
    )
    op.create_table(
        "donors",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("external_donor_name", sa.Text(), nullable=True),
        sa.Column("organism_id", sa.BigInteger(), nullable=True),
        sa.Column("age_id", sa.BigInteger(), nullable=True),
        sa.Column("sex", sa.Text(), nullable=True),
        sa.Column("sex_full_name", sa.Text(), nullable=True),
        sa.Column("race_only", sa.Text(), nullable=True),
        sa.Column("strain", sa.Text(), nullable=True),
        sa.Column("strain_only", sa.Text(), nullable=True),
        sa.Column("full_genotype", sa.Text(), nullable=True),
        sa.Column("transgenic_mouse_id", sa.BigInteger(), nullable=True),
        sa.Column("date_of_birth", sa.Text(), nullable=True),
        sa.Column("condition_description", sa.Text(), nullable=True),
        sa.Column("primary_tissue_source", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_donors")),
    )
    op.create_table(
        "ephys_features",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("specimen_id", sa.BigInteger(), nullable=True),
        sa.Column("rheobase_sweep_id", sa.BigInteger(), nullable=True),
        sa.Column("rheobase_sweep_number", sa.BigInteger(), nullable=True),
        sa.Column("thumbnail_sweep_id", sa.BigInteger(), nullable=True),
        sa.Column("adaptation", sa.Double(), nullable=True),
        sa.Column("avg_isi", sa.Double(), nullable=True),
        sa.Column("electrode_0_pa", sa.Double(), nullable=True),
        sa.Column("f_i_curve_slope", sa.Double(), nullable=True),
        sa.Column("has_burst", sa.Boolean(), nullable=True),
        sa.Column("has_delay", sa.Boolean(), nullable=True),
        sa.Column("has_pause", sa.Boolean(), nullable=True),
        sa.Column("input_resistance_mohm", sa.Double(), nullable=True),
        sa.Column("latency", sa.Double(), nullable=True),
        sa.Column("ri", sa.Double(), nullable=True),
        sa.Column("sag", sa.Double(), nullable=True),
        sa.Column("seal_gohm", sa.Double(), nullable=True),
        sa.Column("tau", sa.Double(), nullable=True),
        sa.Column("vm_for_sag", sa.Double(), nullable=True),
        sa.Column("vrest", sa.Double(), nullable=True),
        sa.Column("fast_trough_t_long_square", sa.Double(), nullable=True),
        sa.Column("fast_trough_t_ramp", sa.Double(), nullable=True),
        sa.Column("fast_trough_t_short_square", sa.Double(), nullable=True),
        sa.Column("fast_trough_v_long_square", sa.Double(), nullable=True),
        sa.Column("fast_trough_v_ramp", sa.Double(), nullable=True),
        sa.Column("fast_trough_v_short_square", sa.Double(), nullable=True),
        sa.Column("peak_t_long_square", sa.Double(), nullable=True),
        sa.Column("peak_t_ramp", sa.Double(), nullable=True),
        sa.Column("peak_t_short_square", sa.Double(), nullable=True),
        sa.Column("peak_v_long_square", sa.Double(), nullable=True),
        sa.Column("peak_v_ramp", sa.Double(), nullable=True),
        sa.Column("peak_v_short_square", sa.Double(), nullable=True),
        sa.Column("slow_trough_t_long_square", sa.Double(), nullable=True),
        sa.Column("slow_trough_t_ramp", sa.Double(), nullable=True),
        sa.Column("slow_trough_t_short_square", sa.Double(), nullable=True),
        sa.Column("slow_trough_v_long_square", sa.Double(), nullable=True),
        sa.Column("slow_trough_v_ramp", sa.Double(), nullable=True),
        sa.Column("slow_trough_v_short_square", sa.Double(), nullable=True),
        sa.Column("threshold_i_long_square", sa.Double(), nullable=True),
        sa.Column("threshold_i_ramp", sa.Double(), nullable=True),
        sa.Column("threshold_i_short_square", sa.Double(), nullable=True),
        sa.Column("threshold_t_long_square", sa.Double(), nullable=True),
        sa.Column("threshold_t_ramp", sa.Double(), nullable=True),
        sa.Column("threshold_t_short_square", sa.Double(), nullable=True),
        sa.Column("threshold_v_long_square", sa.Double(), nullable=True),
        sa.Column("threshold_v_ramp", sa.Double(), nullable=True),
        sa.Column("threshold_v_short_square", sa.Double(), nullable=True),
        sa.Column("trough_t_long_square", sa.Double(), nullable=True),
        sa.Column("trough_t_ramp", sa.Double(), nullable=True),
        sa.Column("trough_t_short_square", sa.Double(), nullable=True),
        sa.Column("trough_v_long_square", sa.Double(), nullable=True),
        sa.Column("trough_v_ramp", sa.Double(), nullable=True),
        sa.Column("trough_v_short_square", sa.Double(), nullable=True),
        sa.Column("upstroke_downstroke_ratio_long_square", sa.Double(), nullable=True),
        sa.Column("upstroke_downstroke_ratio_ramp", sa.Double(), nullable=True),
        sa.Column("upstroke_downstroke_ratio_short_square", sa.Double(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ephys_features")),
    )
    op.create_table(
        "ephys_results",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=True),
        sa.Column("sampling_rate", sa.Double(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ephys_results")),
    )
    op.create_table(
        "ephys_sweeps",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("specimen_id", sa.BigInteger(), nullable=True),
        sa.Column("sweep_number", sa.BigInteger(), nullable=True),
        sa.Column("stimulus_name", sa.Text(), nullable=True),
        sa.Column("stimulus_description", sa.Text(), nullable=True),
        sa.Column("stimulus_units", sa.Text(), nullable=True),
        sa.Column("stimulus_absolute_amplitude", sa.Double(), nullable=True),
        sa.Column("stimulus_relative_amplitude", sa.Double(), nullable=True),
        sa.Column("stimulus_start_time", sa.Double(), nullable=True),
        sa.Column("stimulus_duration", sa.Double(), nullable=True),
        sa.Column("stimulus_interval", sa.Double(), nullable=True),
        sa.Column("num_spikes", sa.BigInteger(), nullable=True),
        sa.Column("peak_deflection", sa.Double(), nullable=True),
        sa.Column("pre_vm_mv", sa.Double(), nullable=True),
        sa.Column("post_vm_mv", sa.Double(), nullable=True),
        sa.Column("slow_vm_mv", sa.Double(), nullable=True),
        sa.Column("vm_delta_mv", sa.Double(), nullable=True),
        sa.Column("pre_noise_rms_mv", sa.Double(), nullable=True),
        sa.Column("post_noise_rms_mv", sa.Double(), nullable=True),
        sa.Column("slow_noise_rms_mv", sa.Double(), nullable=True),
        sa.Column("leak_pa", sa.Double(), nullable=True),
        sa.Column("bridge_balance_mohm", sa.Double(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ephys_sweeps")),
    )
    op.create_table(
        "image_series",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("specimen_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("failed", sa.Boolean(), nullable=True),
        sa.Column("plane_of_section_id", sa.BigInteger(), nullable=True),
        sa.Column("section_thickness", sa.Double(), nullable=True),
        sa.Column("storage_directory", sa.Text(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_series")),
    )
    op.create_table(
        "neuron_reconstructions",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("specimen_id", sa.BigInteger(), nullable=True),
        sa.Column("neuron_reconstruction_type", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=True),
        sa.Column("superseded", sa.Boolean(), nullable=True),
        sa.Column("average_bifurcation_angle_local", sa.Double(), nullable=True),
        sa.Column("average_bifurcation_angle_remote", sa.Double(), nullable=True),
        sa.Column("average_contraction", sa.Double(), nullable=True),
        sa.Column("average_diameter", sa.Double(), nullable=True),
        sa.Column("average_fragmentation", sa.Double(), nullable=True),
        sa.Column("average_parent_daughter_ratio", sa.Double(), nullable=True),
        sa.Column("hausdorff_dimension", sa.Double(), nullable=True),
        sa.Column("max_branch_order", sa.Double(), nullable=True),
        sa.Column("max_euclidean_distance", sa.Double(), nullable=True),
        sa.Column("max_path_distance", sa.Double(), nullable=True),
        sa.Column("number_bifurcations", sa.BigInteger(), nullable=True),
        sa.Column("number_branches", sa.BigInteger(), nullable=True),
        sa.Column("number_nodes", sa.BigInteger(), nullable=True),
        sa.Column("number_stems", sa.BigInteger(), nullable=True),
        sa.Column("number_tips", sa.BigInteger(), nullable=True),
        sa.Column("overall_depth", sa.Double(), nullable=True),
        sa.Column("overall_height", sa.Double(), nullable=True),
        sa.Column("overall_width", sa.Double(), nullable=True),
        sa.Column("scale_factor_x", sa.Double(), nullable=True),
        sa.Column("scale_factor_y", sa.Double(), nullable=True),
        sa.Column("scale_factor_z", sa.Double(), nullable=True),
        sa.Column("soma_surface", sa.Double(), nullable=True),
        sa.Column("total_length", sa.Double(), nullable=True),
        sa.Column("total_surface", sa.Double(), nullable=True),
        sa.Column("total_volume", sa.Double(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_neuron_reconstructions")),
    )
    op.create_table(
        "neuronal_model_runs",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("neuronal_model_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("explained_variance_ratio", sa.Double(), nullable=True),
        sa.Column("rheobase_feature_average", sa.Double(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_neuronal_model_runs")),
    )
    op.create_table(
        "neuronal_model_templates",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_neuronal_model_templates")),
    )
    op.create_table(
        "neuronal_models",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("specimen_id", sa.BigInteger(), nullable=True),
        sa.Column("neuronal_model_template_id", sa.BigInteger(), nullable=True),
        sa.Column("neuron_reconstruction_id", sa.BigInteger(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_neuronal_models")),
    )
    op.create_table(
        "projection_images",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("annotated", sa.Boolean(), nullable=True),
        sa.Column("axes", sa.Text(), nullable=True),
        sa.Column("bits_per_component", sa.BigInteger(), nullable=True),
        sa.Column("data_set_id", sa.BigInteger(), nullable=True),
        sa.Column("specimen_id", sa.BigInteger(), nullable=True),
        sa.Column("expression", sa.Boolean(), nullable=True),
        sa.Column("expression_path", sa.Text(), nullable=True),
        sa.Column("failed", sa.Boolean(), nullable=True),
        sa.Column("height", sa.BigInteger(), nullable=True),
        sa.Column("width", sa.BigInteger(), nullable=True),
        sa.Column("x", sa.BigInteger(), nullable=True),
        sa.Column("y", sa.BigInteger(), nullable=True),
        sa.Column("image_height", sa.BigInteger(), nullable=True),
        sa.Column("image_width", sa.BigInteger(), nullable=True),
        sa.Column("image_type", sa.Text(), nullable=True),
        sa.Column("isi_experiment_id", sa.BigInteger(), nullable=True),
        sa.Column("lims1_id", sa.BigInteger(), nullable=True),
        sa.Column("number_of_components", sa.BigInteger(), nullable=True),
        sa.Column("ophys_experiment_id", sa.BigInteger(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("projection_function", sa.Text(), nullable=True),
        sa.Column("resolution", sa.Double(), nullable=True),
        sa.Column("section_number", sa.BigInteger(), nullable=True),
        sa.Column("structure_id", sa.BigInteger(), nullable=True),
        sa.Column("tier_count", sa.BigInteger(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projection_images")),
    )
    op.create_table(
        "specimens",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("specimen_id_path", sa.Text(), nullable=True),
        sa.Column("donor_id", sa.BigInteger(), nullable=True),
        sa.Column("structure_id", sa.BigInteger(), nullable=True),
        sa.Column("ephys_result_id", sa.BigInteger(), nullable=True),
        sa.Column("cell_reporter_id", sa.BigInteger(), nullable=True),
        sa.Column("cortex_layer_id", sa.BigInteger(), nullable=True),
        sa.Column("treatment_id", sa.BigInteger(), nullable=True),
        sa.Column("is_cell_specimen", sa.Boolean(), nullable=True),
        sa.Column("is_ish", sa.Boolean(), nullable=True),
        sa.Column("hemisphere", sa.Text(), nullable=True),
        sa.Column("parent_x_coord", sa.Double(), nullable=True),
        sa.Column("parent_y_coord", sa.Double(), nullable=True),
        sa.Column("parent_z_coord", sa.Double(), nullable=True),
        sa.Column("pinned_radius", sa.Double(), nullable=True),
        sa.Column("rna_integrity_number", sa.Double(), nullable=True),
        sa.Column("tissue_ph", sa.Double(), nullable=True),
        sa.Column("weight", sa.Double(), nullable=True),
        sa.Column("sphinx_id", sa.BigInteger(), nullable=True),
        sa.Column("failed_facet", sa.BigInteger(), nullable=True),
        sa.Column("cell_prep_sample_id", sa.BigInteger(), nullable=True),
        sa.Column("external_specimen_name", sa.Text(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_specimens")),
    )
    op.create_table(
        "structures",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("acronym", sa.Text(), nullable=True),
        sa.Column("safe_name", sa.Text(), nullable=True),
        sa.Column("parent_structure_id", sa.BigInteger(), nullable=True),
        sa.Column("structure_id_path", sa.Text(), nullable=True),
        sa.Column("ontology_id", sa.BigInteger(), nullable=True),
        sa.Column("graph_id", sa.BigInteger(), nullable=True),
        sa.Column("graph_order", sa.BigInteger(), nullable=True),
        sa.Column("atlas_id", sa.BigInteger(), nullable=True),
        sa.Column("depth", sa.BigInteger(), nullable=True),
        sa.Column("st_level", sa.BigInteger(), nullable=True),
        sa.Column("hemisphere_id", sa.BigInteger(), nullable=True),
        sa.Column("color_hex_triplet", sa.Text(), nullable=True),
        sa.Column("failed", sa.Boolean(), nullable=True),
        sa.Column("failed_facet", sa.BigInteger(), nullable=True),
        sa.Column("sphinx_id", sa.BigInteger(), nullable=True),
        sa.Column("structure_name_facet", sa.BigInteger(), nullable=True),
        sa.Column("weight", sa.BigInteger(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_structures")),
    )
    op.create_table(
        "sub_images",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("annotated", sa.Boolean(), nullable=True),
        sa.Column("axes", sa.Text(), nullable=True),
        sa.Column("bits_per_component", sa.BigInteger(), nullable=True),
        sa.Column("data_set_id", sa.BigInteger(), nullable=True),
        sa.Column("specimen_id", sa.BigInteger(), nullable=True),
        sa.Column("expression", sa.Boolean(), nullable=True),
        sa.Column("expression_path", sa.Text(), nullable=True),
        sa.Column("failed", sa.Boolean(), nullable=True),
        sa.Column("height", sa.BigInteger(), nullable=True),
        sa.Column("width", sa.BigInteger(), nullable=True),
        sa.Column("x", sa.BigInteger(), nullable=True),
        sa.Column("y", sa.BigInteger(), nullable=True),
        sa.Column("image_height", sa.BigInteger(), nullable=True),
        sa.Column("image_width", sa.BigInteger(), nullable=True),
        sa.Column("image_type", sa.Text(), nullable=True),
        sa.Column("isi_experiment_id", sa.BigInteger(), nullable=True),
        sa.Column("lims1_id", sa.BigInteger(), nullable=True),
        sa.Column("number_of_components", sa.BigInteger(), nullable=True),
        sa.Column("ophys_experiment_id", sa.BigInteger(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("projection_function", sa.Text(), nullable=True),
        sa.Column("resolution", sa.Double(), nullable=True),
        sa.Column("section_number", sa.BigInteger(), nullable=True),
        sa.Column("structure_id", sa.BigInteger(), nullable=True),
        sa.Column("tier_count", sa.BigInteger(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sub_images")),
    )
    op.execute(sa.schema.CreateSequence(sa.Sequence("sync_errors_error_id_seq")))
    op.create_table(
        "sync_errors",
        sa.Column(
            "error_id", sa.BigInteger(),
            server_default=sa.text("nextval('sync_errors_error_id_seq')"), nullable=False,
        ),
        sa.Column("sync_id", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("error_id", name=op.f("pk_sync_errors")),
    )
    op.create_table(
        "sync_record_history",
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sync_id", sa.Text(), nullable=False),
        sa.Column("change_kind", sa.Text(), nullable=False),
        sa.Column("old_raw", _json(), nullable=True),
        sa.Column("new_raw", _json(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "table_name", "record_id", "sync_id", name=op.f("pk_sync_record_history")
        ),
    )
    op.create_table(
        "sync_runs",
        sa.Column("sync_id", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("api_base", sa.Text(), nullable=False),
        sa.Column("limit", sa.BigInteger(), nullable=True),
        sa.Column("requests", sa.BigInteger(), nullable=True),
        sa.Column("error_count", sa.BigInteger(), nullable=True),
        sa.Column("inserted", sa.BigInteger(), nullable=True),
        sa.Column("updated", sa.BigInteger(), nullable=True),
        sa.Column("unchanged", sa.BigInteger(), nullable=True),
        sa.Column("removed", sa.BigInteger(), nullable=True),
        sa.Column("restored", sa.BigInteger(), nullable=True),
        sa.Column("model_counts", _json(), nullable=True),
        sa.PrimaryKeyConstraint("sync_id", name=op.f("pk_sync_runs")),
    )
    op.create_table(
        "well_known_file_types",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_well_known_file_types")),
    )
    op.create_table(
        "well_known_files",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("attachable_id", sa.BigInteger(), nullable=True),
        sa.Column("attachable_type", sa.Text(), nullable=True),
        sa.Column("well_known_file_type_id", sa.BigInteger(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("download_link", sa.Text(), nullable=True),
        *_bookkeeping_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_well_known_files")),
    )


def downgrade() -> None:
    op.drop_table("well_known_files")
    op.drop_table("well_known_file_types")
    op.drop_table("sync_runs")
    op.drop_table("sync_record_history")
    op.drop_table("sync_errors")
    op.execute(sa.schema.DropSequence(sa.Sequence("sync_errors_error_id_seq")))
    op.drop_table("sub_images")
    op.drop_table("structures")
    op.drop_table("specimens")
    op.drop_table("projection_images")
    op.drop_table("neuronal_models")
    op.drop_table("neuronal_model_templates")
    op.drop_table("neuronal_model_runs")
    op.drop_table("neuron_reconstructions")
    op.drop_table("image_series")
    op.drop_table("ephys_sweeps")
    op.drop_table("ephys_results")
    op.drop_table("ephys_features")
    op.drop_table("donors")
    op.drop_table("api_cell_types_specimen_details")
