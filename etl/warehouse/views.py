"""DuckDB views over the Parquet datasets, so SQL on the warehouse reaches the traces.

``sweeps``, ``reconstruction_nodes`` and ``reconstruction_markers`` are views over
``parquet/<name>/specimen_id=*/*.parquet`` with Hive partitioning, so a filter on
``specimen_id`` opens one directory. A dataset with no file yet gets a view over a zero-row
file of its schema, so queries and joins work (and return nothing) before the first
conversion. Views live in the DuckDB file and read-only connections see them; a PostgreSQL
warehouse cannot read Parquet, so there the datasets are read with DuckDB directly.

The paths in the views are relative to the mirror root, so the mirror can be moved, copied or
mounted elsewhere: DuckDB resolves them against its ``file_search_path``, which every
connection ctmirror opens sets to the root (``create_warehouse_engine``), and a plain DuckDB
client against its working folder or the ``file_search_path`` it is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

    from ctmirror.schema.parquet import ParquetDataset

#: Where the live datasets are, under the mirror root.
PARQUET_FOLDER = "parquet"
COMPARISON_VIEW = "ephys_features_comparison"
MORPHOLOGY_COMPARISON_VIEW = "morphology_features_comparison"
GLIF_COMPARISON_VIEW = "glif_evr_comparison"


def parquet_source(dataset: ParquetDataset, root: Path, folder: str = PARQUET_FOLDER) -> str:
    """The ``read_parquet(...)`` expression that reads ``dataset`` from ``root/folder`` (the
    live datasets, or a published snapshot of them), by a path relative to ``root``."""
    root = Path(root).resolve()
    directory = Path(folder) / dataset.name
    if any((root / directory).glob(f"{dataset.partition_column}=*/*.parquet")):
        pattern = directory / f"{dataset.partition_column}=*" / "*.parquet"
        return (f"read_parquet({sql_literal(str(pattern))}, hive_partitioning = true, "
                f"hive_types = {{'{dataset.partition_column}': BIGINT}})")
    return f"read_parquet({sql_literal(str(_empty_file(dataset, root, folder)))})"


def publish_parquet_views(engine: sa.Engine, root: Path) -> list[str]:
    """Create or replace one view per dataset; return their names (none on PostgreSQL)."""
    from ctmirror.schema.parquet import DATASETS
    from ctmirror.warehouse.engine import is_duckdb

    if not is_duckdb(engine):
        return []
    with engine.begin() as conn:
        for dataset in DATASETS:
            conn.exec_driver_sql(
                f'CREATE OR REPLACE VIEW "{dataset.name}" AS '
                f"SELECT * FROM {parquet_source(dataset, root)}"
            )
    return [dataset.name for dataset in DATASETS]


def publish_comparison_view(engine: sa.Engine) -> str:
    """Create or replace ``ephys_features_comparison``: one row per cell, definition set and
    feature, with the published and the recomputed value and their difference. Plain SQL,
    the same on DuckDB and PostgreSQL."""
    from ctmirror.schema.ephys_recomputed import RECOMPUTED_FEATURES

    columns = ", ".join(f"p.{n} AS p_{n}, r.{n} AS r_{n}" for n in RECOMPUTED_FEATURES)
    return _publish_long_comparison(engine, COMPARISON_VIEW, "specimen_id, definitions", f"""
            SELECT r.specimen_id, r.definitions, {columns}
            FROM ephys_features_recomputed r
            LEFT JOIN ephys_features p
              ON p.specimen_id = r.specimen_id AND p.removed_at IS NULL""",
                                    RECOMPUTED_FEATURES)


def publish_morphology_comparison_view(engine: sa.Engine) -> str:
    """Create or replace ``morphology_features_comparison``: one row per reconstruction and
    feature, with the published and the recomputed whole-cell value and their difference.

    The ``NeuronReconstruction`` columns are paired with the reconstruction's record, the
    ``nr__`` values with the cell list's row of its specimen when that row names the same SWC
    file (``nrwkf__id``): the cell list describes only the current reconstruction. Values are
    compared as doubles. Plain SQL, the same on DuckDB and PostgreSQL."""
    from ctmirror.schema.morphology_recomputed import CELL_LIST_FEATURES, RECONSTRUCTION_FEATURES

    sources = {**{name: f"p.{name}" for name in RECONSTRUCTION_FEATURES},
               **{name: f"c.{name}" for name in CELL_LIST_FEATURES}}
    columns = ", ".join(f"CAST({source} AS DOUBLE PRECISION) AS p_{name}, "
                        f"CAST(r.{name} AS DOUBLE PRECISION) AS r_{name}"
                        for name, source in sources.items())
    return _publish_long_comparison(
        engine, MORPHOLOGY_COMPARISON_VIEW, "neuron_reconstruction_id, specimen_id", f"""
            SELECT r.neuron_reconstruction_id, r.specimen_id, {columns}
            FROM morphology_features_recomputed r
            LEFT JOIN neuron_reconstructions p
              ON p.id = r.neuron_reconstruction_id AND p.removed_at IS NULL
            LEFT JOIN api_cell_types_specimen_details c
              ON c.specimen__id = r.specimen_id AND c.nrwkf__id = r.well_known_file_id
             AND c.removed_at IS NULL
            WHERE r.compartment = 'all'""", tuple(sources))


def publish_glif_comparison_view(engine: sa.Engine) -> str:
    """Create or replace ``glif_evr_comparison``: one row per GLIF model, with the published
    explained variance ratio of its run and the one the sync computed, and their difference.
    Plain SQL, the same on DuckDB and PostgreSQL."""
    return _publish_long_comparison(
        engine, GLIF_COMPARISON_VIEW, "neuronal_model_id, specimen_id, level", """
            SELECT neuronal_model_id, specimen_id, level,
                   published_explained_variance_ratio AS p_explained_variance_ratio,
                   explained_variance_ratio AS r_explained_variance_ratio
            FROM model_metrics""", ("explained_variance_ratio",))


def _publish_long_comparison(engine: sa.Engine, view: str, keys: str, paired: str,
                             features: tuple[str, ...]) -> str:
    """Create or replace ``view``: one row per ``keys`` and feature, from the query ``paired``
    that has ``keys`` and ``p_<feature>`` (published), ``r_<feature>`` (recomputed) columns."""
    per_feature = " UNION ALL ".join(
        f"SELECT {keys}, '{name}' AS feature, p_{name} AS published, "
        f"r_{name} AS recomputed FROM paired"
        for name in features
    )
    sql = f"""
        CREATE OR REPLACE VIEW {view} AS
        WITH paired AS ({paired}
        ), long AS ({per_feature})
        SELECT {keys}, feature, published, recomputed,
               recomputed - published AS difference,
               (recomputed - published) / NULLIF(abs(published), 0) AS relative_difference
        FROM long"""
    with engine.begin() as conn:
        conn.exec_driver_sql(sql)
    return view


#: What a row of each comparison view is, and its key columns.
_COMPARISONS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    COMPARISON_VIEW: (
        "one row per cell, ephys definition set and recomputed feature: the published "
        "EphysFeature value beside the one recomputed from the mirrored NWB",
        (("specimen_id", "the cell (Specimen.id)"),
         ("definitions", "definition set of the recomputed value (allen2016 or ipfx)"))),
    MORPHOLOGY_COMPARISON_VIEW: (
        "one row per reconstruction and morphology feature: the published value beside the "
        "one recomputed from the mirrored SWC (whole cell)",
        (("neuron_reconstruction_id", "the reconstruction (NeuronReconstruction.id)"),
         ("specimen_id", "the cell (Specimen.id)"))),
    GLIF_COMPARISON_VIEW: (
        "one row per GLIF model: the published explained variance ratio beside the one "
        "recomputed by simulating the model on the mirrored recording",
        (("neuronal_model_id", "the GLIF model (NeuronalModel.id)"),
         ("specimen_id", "the cell (Specimen.id)"),
         ("level", "GLIF level 1-5 of the model's config"))),
}
_COMPARED = (
    ("feature", "name of the compared column, as in the published table"),
    ("published", "the published value (the feature's unit: see its column in the published "
                  "table)"),
    ("recomputed", "the value the sync recomputed (same unit as published)"),
    ("difference", "recomputed minus published (same unit as published)"),
    ("relative_difference", "(recomputed - published) / |published| (dimensionless)"),
)


def view_descriptions() -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """(view, description, ((column, description), ...)) of every view published here: the
    comparison views, and the Parquet views with their Arrow field docs."""
    from ctmirror.schema.parquet import DATASETS

    comparisons = [(view, text, (*keys, *_COMPARED))
                   for view, (text, keys) in _COMPARISONS.items()]
    datasets = [(dataset.name, dataset.description,
                 tuple((f.name, (f.metadata or {}).get(b"doc", b"").decode())
                       for f in dataset.schema))
                for dataset in DATASETS]
    return comparisons + datasets


def _empty_file(dataset: ParquetDataset, root: Path, folder: str) -> Path:
    """A zero-row file of ``dataset``'s schema under ``root/folder``, by its path relative to
    ``root``."""
    import pyarrow.parquet as pq

    path = Path(folder) / "_empty" / f"{dataset.name}.parquet"
    if not (root / path).is_file() or pq.read_schema(root / path) != dataset.schema:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(dataset.schema.empty_table(), root / path)
    return path


def sql_literal(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


__all__ = ["COMPARISON_VIEW", "GLIF_COMPARISON_VIEW", "MORPHOLOGY_COMPARISON_VIEW",
           "PARQUET_FOLDER", "parquet_source", "publish_comparison_view",
           "publish_glif_comparison_view", "publish_morphology_comparison_view",
           "publish_parquet_views", "sql_literal", "view_descriptions"]
