"""The load stage: merge one staged package into the warehouse, in one transaction (I/O edge).

Per model, the package's records are deduplicated by primary key, typed with ``schema``,
bulk-copied into a temporary table (DuckDB: from an Arrow table; PostgreSQL: ``COPY``) and merged
with set-based SQL:

- inserted:  new primary key;
- updated:   known key, different content hash (the old ``raw`` goes to ``sync_record_history``);
- unchanged: known key, same hash (only ``last_seen`` and ``last_sync_id`` move);
- restored:  a key marked removed that is back (history row);
- removed:   a current key missing from the package, only when the model was crawled ``complete``
  and ``full_scope`` (marked with ``removed_at``, never deleted; history row).

The whole package commits or nothing does, so loading it again after a crash is safe, and
loading the same package twice changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import sqlalchemy as sa

from ctmirror.crawl.staging import StagingPackage
from ctmirror.errors import InputError
from ctmirror.schema import (
    MODEL_TABLES,
    ChangeKind,
    attribute_columns,
    primary_key_column,
    row_typer,
)

log = logging.getLogger(__name__)

_HISTORY = "sync_record_history"
_ARROW_TYPES: dict[type[sa.types.TypeEngine[Any]], pa.DataType] = {
    sa.BigInteger: pa.int64(),
    sa.Double: pa.float64(),
    sa.Boolean: pa.bool_(),
    sa.Text: pa.string(),
}


@dataclass(frozen=True)
class ModelCounts:
    """What merging one model's records did. ``rows`` counts distinct staged records."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    restored: int = 0


@dataclass(frozen=True)
class LoadReport:
    """What loading one staged package did, per Allen model."""

    sync_id: str
    models: Mapping[str, ModelCounts] = field(default_factory=dict)

    def _total(self, name: str) -> int:
        return sum(getattr(counts, name) for counts in self.models.values())

    @property
    def rows(self) -> int:
        return self._total("rows")

    @property
    def inserted(self) -> int:
        return self._total("inserted")

    @property
    def updated(self) -> int:
        return self._total("updated")

    @property
    def unchanged(self) -> int:
        return self._total("unchanged")

    @property
    def removed(self) -> int:
        return self._total("removed")

    @property
    def restored(self) -> int:
        return self._total("restored")

    @property
    def changed(self) -> bool:
        return any((self.inserted, self.updated, self.removed, self.restored))

    def summary(self) -> str:
        return (f"{self.rows} rows: {self.inserted} inserted, {self.updated} updated, "
                f"{self.unchanged} unchanged, {self.removed} removed, {self.restored} restored")


@dataclass(frozen=True)
class _StagedModel:
    model: str
    table: sa.Table
    columns: list[str]  # typed attribute columns, then raw and content_hash
    rows: list[tuple[Any, ...]]
    may_remove: bool


def load_staged(engine: sa.Engine, staging_dir: Path) -> LoadReport:
    """Merge the staged package in ``staging_dir`` (``<root>/staging/<sync_id>``).

    Raises ``InputError`` for a package that is missing, inconsistent, or names a model the
    warehouse has no table for; the warehouse is then left as it was.
    """
    staging_dir = Path(staging_dir)
    package = StagingPackage(staging_dir.parent, staging_dir.name)
    manifest = package.read_manifest()
    if manifest is None:
        raise InputError(f"{staging_dir} has no manifest.json: it is not a staged package; "
                         "run `ctmirror sync` to stage one")
    entries = manifest.get("models", {})
    unknown = sorted(set(entries) - set(MODEL_TABLES))
    if unknown:
        raise InputError(f"{staging_dir} stages models without a warehouse table "
                         f"({', '.join(unknown)}): upgrade ctmirror")
    sync_id = manifest["sync_id"]
    now = datetime.now(UTC)
    counts: dict[str, ModelCounts] = {}
    with engine.begin() as conn:
        for model in MODEL_TABLES:
            if model not in entries:
                continue
            entry = entries[model]
            staged = _stage_model(package, model, may_remove=bool(
                entry.get("complete") and entry.get("full_scope")))
            counts[model] = _merge(conn, staged, sync_id=sync_id, now=now)
            log.info("%s - %s", model, counts[model])
    return LoadReport(sync_id=sync_id, models=counts)


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """One spelling per record content (sorted keys, no whitespace, UTF-8), so a record that
    comes back with its keys in another order is unchanged."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def content_hash(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()


def _stage_model(package: StagingPackage, model: str, *, may_remove: bool) -> _StagedModel:
    table = MODEL_TABLES[model]
    key = primary_key_column(table).name
    unique: dict[int, dict[str, Any]] = {}
    for path, record in _records(package, model):
        record_id = record.get(key)
        if isinstance(record_id, bool) or not isinstance(record_id, int):
            raise InputError(f"{path}: a {model} record has no integer {key!r} "
                             f"({record_id!r}); delete the package and sync again")
        # A record repeated across pages has the same content; the first copy is kept.
        unique.setdefault(record_id, record)
    typed_row = row_typer(table)
    rows = []
    for record in unique.values():
        canonical = canonical_json(record)
        rows.append((*typed_row(record), canonical.decode("utf-8"), content_hash(canonical)))
    columns = [c.name for c in attribute_columns(table)] + ["raw", "content_hash"]
    return _StagedModel(model, table, columns, rows, may_remove)


def _records(package: StagingPackage, model: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in package.pages(model):
        try:
            records = [orjson.loads(line) for line in path.read_bytes().splitlines()
                       if line.strip()]
        except (OSError, orjson.JSONDecodeError) as exc:
            raise InputError(f"{path} is unreadable ({exc}); delete the package and sync again"
                             ) from exc
        for record in records:
            if not isinstance(record, dict):
                raise InputError(f"{path} holds a line that is not a JSON object; delete the "
                                 "package and sync again")
            yield path, record


def _merge(conn: sa.Connection, staged: _StagedModel, *, sync_id: str,
           now: datetime) -> ModelCounts:
    # On failure the transaction's rollback drops the temporary table too.
    stage = _create_stage_table(conn, staged)
    _bulk_copy(conn, stage, staged)
    counts = _merge_from_stage(conn, staged, stage.name, sync_id=sync_id, now=now)
    stage.drop(conn)
    return counts


def _create_stage_table(conn: sa.Connection, staged: _StagedModel) -> sa.Table:
    target = staged.table
    stage = sa.Table(
        f"_stage_{target.name}",
        sa.MetaData(),
        *(sa.Column(name, target.c[name].type) for name in staged.columns),
        prefixes=["TEMPORARY"],
    )
    stage.create(conn)
    return stage


def _bulk_copy(conn: sa.Connection, stage: sa.Table, staged: _StagedModel) -> None:
    if not staged.rows:
        return
    driver = conn.connection.driver_connection
    assert driver is not None, "the DBAPI connection is open while the connection is"
    if conn.dialect.name == "duckdb":
        # executemany through SQLAlchemy costs about a millisecond per row on DuckDB; an Arrow
        # table is scanned in bulk by the engine itself.
        arrow = _arrow_table(staged)
        view = f"{stage.name}_arrow"
        driver.register(view, arrow)
        try:
            driver.execute(f'INSERT INTO "{stage.name}" SELECT * FROM "{view}"')
        finally:
            driver.unregister(view)
    else:
        columns = ", ".join(_quote(conn, name) for name in staged.columns)
        with driver.cursor() as cursor, cursor.copy(
            f"COPY {_quote(conn, stage.name)} ({columns}) FROM STDIN"
        ) as copy:
            for row in staged.rows:
                copy.write_row(row)
        # Autovacuum never sees temporary tables: without statistics the planner would pick
        # nested loops for the merge joins.
        conn.exec_driver_sql(f"ANALYZE {_quote(conn, stage.name)}")


def _arrow_table(staged: _StagedModel) -> pa.Table:
    table = staged.table
    arrays = []
    for index, name in enumerate(staged.columns):
        values = [row[index] for row in staged.rows]
        arrow_type = pa.string() if name == "raw" else _ARROW_TYPES[type(table.c[name].type)]
        arrays.append(pa.array(values, type=arrow_type))
    return pa.Table.from_arrays(arrays, names=staged.columns)


def _merge_from_stage(conn: sa.Connection, staged: _StagedModel, stage_name: str, *,
                      sync_id: str, now: datetime) -> ModelCounts:
    q = conn.dialect.identifier_preparer.quote
    target, stage = q(staged.table.name), q(stage_name)
    pk = q(primary_key_column(staged.table).name)
    params = {"sync_id": sync_id, "now": now, "table_name": staged.table.name}
    sync_id_value = "CAST(:sync_id AS TEXT)"
    now_value = "CAST(:now AS TIMESTAMP WITH TIME ZONE)"
    changed = "(t.removed_at IS NOT NULL OR t.content_hash <> s.content_hash)"
    missing = (f"t.removed_at IS NULL AND NOT EXISTS "
               f"(SELECT 1 FROM {stage} s WHERE s.{pk} = t.{pk})")

    def run(sql: str) -> sa.CursorResult[*tuple[Any, ...]]:
        return conn.execute(sa.text(sql), params)

    inserted, updated, unchanged, restored = run(
        f"SELECT "
        f"count(*) FILTER (WHERE t.{pk} IS NULL), "
        f"count(*) FILTER (WHERE t.removed_at IS NULL AND t.content_hash <> s.content_hash), "
        f"count(*) FILTER (WHERE t.removed_at IS NULL AND t.content_hash = s.content_hash), "
        f"count(*) FILTER (WHERE t.removed_at IS NOT NULL) "
        f"FROM {stage} s LEFT JOIN {target} t ON t.{pk} = s.{pk}"
    ).one()
    removed = (run(f"SELECT count(*) FROM {target} t WHERE {missing}").scalar_one()
               if staged.may_remove else 0)

    # History first: it needs the old raw, which the updates below overwrite.
    history = (f"INSERT INTO {q(_HISTORY)} (table_name, record_id, sync_id, change_kind, "
               "old_raw, new_raw, changed_at) ")
    # A package loaded again under the same sync id keeps the content from before the sync.
    on_conflict = " ON CONFLICT (table_name, record_id, sync_id) DO UPDATE SET " \
                  "new_raw = excluded.new_raw, change_kind = excluded.change_kind"
    if updated or restored:
        run(history +
            f"SELECT CAST(:table_name AS TEXT), s.{pk}, {sync_id_value}, "
            f"CASE WHEN t.removed_at IS NOT NULL THEN '{ChangeKind.RESTORED}' "
            f"ELSE '{ChangeKind.UPDATED}' END, t.raw, s.raw, {now_value} "
            f"FROM {stage} s JOIN {target} t ON t.{pk} = s.{pk} WHERE {changed}" + on_conflict)
        assignments = ", ".join(f"{q(name)} = s.{q(name)}" for name in staged.columns)
        run(f"UPDATE {target} AS t SET {assignments}, last_seen = {now_value}, "
            f"last_sync_id = {sync_id_value}, removed_at = NULL "
            f"FROM {stage} s WHERE t.{pk} = s.{pk} AND {changed}")
    if unchanged:
        run(f"UPDATE {target} AS t SET last_seen = {now_value}, last_sync_id = {sync_id_value} "
            f"FROM {stage} s WHERE t.{pk} = s.{pk} AND t.removed_at IS NULL "
            f"AND t.content_hash = s.content_hash")
    if inserted:
        columns = ", ".join(q(name) for name in staged.columns)
        selected = ", ".join(f"s.{q(name)}" for name in staged.columns)
        run(f"INSERT INTO {target} ({columns}, first_seen, last_seen, first_sync_id, "
            f"last_sync_id) SELECT {selected}, {now_value}, {now_value}, {sync_id_value}, "
            f"{sync_id_value} FROM {stage} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE t.{pk} = s.{pk})")
    if removed:
        run(history +
            f"SELECT CAST(:table_name AS TEXT), t.{pk}, {sync_id_value}, "
            f"'{ChangeKind.REMOVED}', t.raw, NULL, {now_value} FROM {target} t WHERE {missing}"
            + on_conflict)
        run(f"UPDATE {target} AS t SET removed_at = {now_value} WHERE {missing}")
    return ModelCounts(rows=len(staged.rows), inserted=inserted, updated=updated,
                       unchanged=unchanged, removed=removed, restored=restored)


def _quote(conn: sa.Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


__all__ = ["LoadReport", "ModelCounts", "canonical_json", "content_hash", "load_staged"]
