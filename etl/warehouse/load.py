"""The load stage: merge one staged package into the warehouse, in one transaction (I/O edge).

Per model, the package's records are deduplicated by primary key, typed with ``schema``,
bulk-copied into a temporary table (DuckDB: from an Arrow table; PostgreSQL: ``COPY``) and merged
with set-based SQL:

- inserted:  new primary key;
- updated:   known key, different content hash (the old ``raw`` goes to ``sync_record_history``);
- unchanged: known key, same hash (only ``last_seen`` and ``last_sync_id`` move);
- restored:  a key marked removed that is back (history row);
- removed:   a current key missing from the package, only when the model was crawled
  ``complete``, ``full_scope`` and ``consistent`` (marked with ``removed_at``, never deleted;
  history row);
- quarantined: a record that breaks its model's contract (``ctmirror.schema.contract``), kept
  raw in ``sync_quarantine``; its key, when it has a usable one, counts as present, so the
  warehouse row it would have replaced stays as it was;
- held:      removals that would take more than ``hold_share`` of a model's live rows at once
  (and at least ``hold_min_rows``) are not applied but reported, until the next sync finds the
  records still missing and confirms them.

Duplicates: copies of one key with the same content collapse into one record; copies that
disagree are all quarantined ("conflicting duplicate"), since no copy is more trustworthy.

The pairs of the join-table associations the mirror keeps (``MIRRORED_LINKS``) merge the same
way into their link tables: new pairs inserted, pairs back restored, pairs missing marked
removed when their source model was crawled complete, in full scope and consistent.

The whole package commits or nothing does, so loading it again after a crash is safe, and
loading the same package twice changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

import orjson
import pyarrow as pa
import sqlalchemy as sa

from ctmirror import __version__
from ctmirror.crawl.staging import ModelEntry, StagingPackage
from ctmirror.errors import InputError
from ctmirror.schema import (
    MODEL_TABLES,
    ChangeKind,
    SyncQuarantine,
    SyncRun,
    attribute_columns,
    primary_key_column,
)
from ctmirror.schema.allen_model import MIRRORED_LINKS, LinkTable
from ctmirror.schema.base import mapped_table
from ctmirror.schema.contract import BIGINT_MAX, BIGINT_MIN, Contract
from ctmirror.settings import REMOVAL_HOLD_MIN_ROWS, REMOVAL_HOLD_SHARE

log = logging.getLogger(__name__)

_HISTORY = "sync_record_history"
_quarantine = mapped_table(SyncQuarantine)
_LONG_NUMBER = re.compile(rb"\d{19}")
_runs = mapped_table(SyncRun)

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
    quarantined: int = 0
    #: Rows missing from the package but not marked removed: a suspicious drop to confirm.
    held: int = 0
    #: The rows the API says the model has (from the crawl), when it can be trusted.
    api_total_rows: int | None = None
    #: What the model's staged pages hashed to (``package_digest``): the next load of the same
    #: pages only marks the rows seen.
    package_digest: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LoadReport:
    """What loading one staged package did, per Allen model."""

    sync_id: str
    models: Mapping[str, ModelCounts] = field(default_factory=dict)
    #: The join-table pairs, by link table name.
    links: Mapping[str, ModelCounts] = field(default_factory=dict)

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
    def quarantined(self) -> int:
        return self._total("quarantined")

    @property
    def held(self) -> int:
        return self._total("held")

    @property
    def changed(self) -> bool:
        return any((self.inserted, self.updated, self.removed, self.restored)) or any(
            c.inserted or c.removed or c.restored for c in self.links.values())

    def summary(self) -> str:
        text = (f"{self.rows} rows: {self.inserted} inserted, {self.updated} updated, "
                f"{self.unchanged} unchanged, {self.removed} removed, {self.restored} restored")
        if self.quarantined:
            text += f", {self.quarantined} quarantined (see sync_quarantine)"
        held = [f"{model} {counts.held}" for model, counts in self.models.items() if counts.held]
        if held:
            text += (f"; removal held until the next sync confirms it: {', '.join(held)}")
        return text


#: Staged records go to the temporary table in batches of this many, so a model's records are
#: never all in memory at once (as Python rows and as their Arrow copy).
LOAD_BATCH_ROWS = 20_000


@dataclass
class _StagedModel:
    """One model's staged records, read page by page: ``batches()`` yields the typed rows
    (attribute columns, then ``raw`` and ``content_hash``) of each key's first copy; once it is
    exhausted, ``conflicts`` holds the keys whose copies disagree (their first copy is in a
    batch already and must be taken back) and ``rows`` the distinct records that merge."""

    model: str
    table: sa.Table
    columns: list[str]
    may_remove: bool
    records: Iterator[dict[str, Any]]
    quarantined: list[_Quarantined] = field(default_factory=list)
    #: Keys of quarantined records: present upstream, so never marked removed.
    kept_keys: set[int] = field(default_factory=set)
    #: key -> content hash -> canonical JSON (None for the first copy, already batched)
    conflicts: dict[int, dict[str, bytes | None]] = field(default_factory=dict)
    rows: int = 0

    def batches(self, size: int = LOAD_BATCH_ROWS) -> Iterator[list[tuple[Any, ...]]]:
        contract = Contract(self.table)
        # key -> content hash of its first copy: what later copies are compared with
        first_hash: dict[int, str] = {}
        batch: list[tuple[Any, ...]] = []
        for record in self.records:
            typed, reason = contract.check(record)
            record_id = record.get(contract.key)
            if typed is None:
                self.quarantined.append(_quarantine_entry(record_id, reason or "", record))
                if _usable_key(record_id):
                    self.kept_keys.add(record_id)
                continue
            canonical = canonical_json(record)
            digest = content_hash(canonical)
            key = typed[0]  # the checked key (attribute_columns puts the primary key first)
            known = first_hash.get(key)
            if known is None:
                first_hash[key] = digest
                batch.append((*typed, as_sent_json(record).decode("utf-8"), digest))
                if len(batch) >= size:
                    yield batch
                    batch = []
            elif known != digest:
                self.conflicts.setdefault(key, {known: None}).setdefault(digest, canonical)
        if batch:
            yield batch
        self.kept_keys.update(self.conflicts)
        self.rows = len(first_hash) - len(self.conflicts)


@dataclass(frozen=True)
class _Quarantined:
    record_id: str | None
    reason: str
    raw: str


def load_staged(engine: sa.Engine, staging_dir: Path, *,
                hold_share: float = REMOVAL_HOLD_SHARE,
                hold_min_rows: int = REMOVAL_HOLD_MIN_ROWS) -> LoadReport:
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
    links: dict[str, ModelCounts] = {}
    with engine.begin() as conn:
        held_before = _held_by_previous_run(conn, sync_id)
        last_sync_id, last_counts = _last_load(conn)
        for model in MODEL_TABLES:
            if model not in entries:
                continue
            entry = entries[model]
            digest = package_digest(package, model, entry)
            seen = _same_as_last_load(conn, MODEL_TABLES[model], last_sync_id,
                                      last_counts.get(model), digest, sync_id=sync_id, now=now)
            if seen is None:
                staged = _stage_model(package, model, may_remove=_may_remove(entry))
                hold = _Hold(hold_share, hold_min_rows, confirmed=model in held_before)
                seen = _merge(conn, staged, sync_id=sync_id, now=now, hold=hold)
            counts[model] = replace(seen, api_total_rows=entry.get("api_total_rows"),
                                    package_digest=digest)
            log.info("%s - %s", model, counts[model])
        for (model, name), assoc in MIRRORED_LINKS.items():
            if model in entries and assoc.link_table is not None:
                table = assoc.link_table.table.name
                links[table] = _merge_links(
                    conn, assoc.link_table, package.links(model, name),
                    may_remove=_may_remove(entries[model]), sync_id=sync_id, now=now)
                log.info("%s - %s", table, links[table])
        # In the load's transaction, so the latest run with counts is the latest load committed.
        conn.execute(sa.update(_runs).where(_runs.c.sync_id == sync_id).values(
            model_counts={model: asdict(c) for model, c in counts.items()}))
    return LoadReport(sync_id=sync_id, models=counts, links=links)


def package_digest(package: StagingPackage, model: str, entry: ModelEntry) -> str:
    """A hash of everything the load of ``model`` reads: its staged pages (names and bytes), its
    crawl's manifest entry, the table's columns and the ctmirror version (an upgrade loads once
    in full, which also rewrites ``raw`` in the order the API sends)."""
    digest = hashlib.sha256(orjson.dumps(
        [__version__, [c.name for c in MODEL_TABLES[model].columns], dict(entry)],
        option=orjson.OPT_SORT_KEYS))
    for path in package.pages(model):
        digest.update(path.name.encode())
        try:
            digest.update(path.read_bytes())
        except OSError as exc:
            raise InputError(f"{path} is unreadable ({exc}); delete the package and sync again"
                             ) from exc
    return digest.hexdigest()


def _last_load(conn: sa.Connection) -> tuple[str | None, dict[str, Any]]:
    """The run whose load committed last (this one too, when resumed) and its model counts."""
    row = conn.execute(
        sa.select(_runs.c.sync_id, _runs.c.model_counts)
        .where(_runs.c.model_counts.is_not(None))
        .order_by(_runs.c.started_at.desc()).limit(1)
    ).one_or_none()
    if row is None:
        return None, {}
    counts = json.loads(row.model_counts) if isinstance(row.model_counts, str) \
        else row.model_counts
    return row.sync_id, counts or {}


def _same_as_last_load(conn: sa.Connection, table: sa.Table, last_sync_id: str | None,
                       last: Mapping[str, Any] | None, digest: str, *, sync_id: str,
                       now: datetime) -> ModelCounts | None:
    """When the last load merged exactly these pages (same digest), nothing quarantined and no
    removal held, the live rows it marked are these records, unchanged: mark them seen by this
    sync without parsing a page. None when the pages must be merged."""
    if (last_sync_id is None or last is None or last.get("package_digest") != digest
            or last.get("quarantined") or last.get("held")):
        return None
    target = _quote(conn, table.name)
    marked = "WHERE last_sync_id = CAST(:last AS TEXT) AND removed_at IS NULL"
    params = {"last": last_sync_id, "sync_id": sync_id, "now": now}
    found = conn.execute(sa.text(f"SELECT count(*) FROM {target} {marked}"), params).scalar_one()
    if found != last.get("rows"):
        return None  # the table changed since: merge in full
    conn.execute(sa.text(
        f"UPDATE {target} SET last_seen = CAST(:now AS TIMESTAMP WITH TIME ZONE), "
        f"last_sync_id = CAST(:sync_id AS TEXT) {marked}"), params)
    return ModelCounts(rows=found, unchanged=found)


def _may_remove(entry: ModelEntry) -> bool:
    """Whether the crawl of a model is evidence that what it did not find is gone upstream
    ("consistent" is absent from packages staged before the crawl checked it)."""
    return bool(entry.get("complete") and entry.get("full_scope")
                and entry.get("consistent", True))


def _merge_links(conn: sa.Connection, link: LinkTable, pairs: set[tuple[int, int]], *,
                 may_remove: bool, sync_id: str, now: datetime) -> ModelCounts:
    """Merge the staged pairs of one join table (a few hundred at most: row by row)."""
    table = link.table
    source, target = table.c[link.source], table.c[link.target]
    known = {(a, b): removed_at for a, b, removed_at
             in conn.execute(sa.select(source, target, table.c.removed_at))}
    new = sorted(pairs - known.keys())
    restored = sorted(p for p in pairs & known.keys() if known[p] is not None)
    seen = sorted(p for p in pairs & known.keys() if known[p] is None)
    gone = sorted(p for p, removed_at in known.items()
                  if removed_at is None and p not in pairs) if may_remove else []
    if new:
        conn.execute(sa.insert(table), [
            {link.source: a, link.target: b, "first_seen": now, "last_seen": now,
             "first_sync_id": sync_id, "last_sync_id": sync_id} for a, b in new])
    where = (source == sa.bindparam("a"), target == sa.bindparam("b"))
    if seen or restored:
        conn.execute(sa.update(table).where(*where).values(
            last_seen=now, last_sync_id=sync_id, removed_at=None),
            [{"a": a, "b": b} for a, b in seen + restored])
    if gone:
        conn.execute(sa.update(table).where(*where).values(removed_at=now),
                     [{"a": a, "b": b} for a, b in gone])
    return ModelCounts(rows=len(pairs), inserted=len(new), unchanged=len(seen),
                       removed=len(gone), restored=len(restored))


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """One spelling per record content (sorted keys, no whitespace, UTF-8), so a record that
    comes back with its keys in another order is unchanged."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def as_sent_json(record: Mapping[str, Any]) -> bytes:
    """The record as ``raw`` keeps it (as JSON text on both backends): its keys in the order
    the API sent them, so serve answers with the API's order."""
    return orjson.dumps(record)


def content_hash(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()


def _stage_model(package: StagingPackage, model: str, *, may_remove: bool) -> _StagedModel:
    table = MODEL_TABLES[model]
    columns = [c.name for c in attribute_columns(table)] + ["raw", "content_hash"]
    return _StagedModel(model, table, columns, may_remove, _records(package, model))


def _take_back_conflicts(conn: sa.Connection, stage: sa.Table, staged: _StagedModel) -> None:
    """Quarantine every copy of the keys whose copies disagree (no copy is more trustworthy)
    and take their first copies out of the stage table."""
    if not staged.conflicts:
        return
    pk = stage.c[staged.columns[0]]
    first: dict[int, str] = dict(conn.execute(
        sa.select(pk, sa.cast(stage.c.raw, sa.Text)).where(pk.in_(staged.conflicts))).all())
    conn.execute(sa.delete(stage).where(pk.in_(staged.conflicts)))
    key_name = staged.columns[0]
    for record_id, versions in staged.conflicts.items():
        for canonical in versions.values():
            quarantined = first[record_id] if canonical is None else canonical
            staged.quarantined.append(_Quarantined(
                str(record_id), f"conflicting duplicate: {len(versions)} different "
                f"records with {key_name} {record_id} in one crawl", _escaped(quarantined)))


def _usable_key(value: object) -> TypeGuard[int]:
    return (isinstance(value, int) and not isinstance(value, bool)
            and BIGINT_MIN <= value <= BIGINT_MAX)


def _quarantine_entry(record_id: object, reason: str, record: Mapping[str, Any]
                      ) -> _Quarantined:
    shown = None if record_id is None else _storable(
        record_id if isinstance(record_id, str) else json.dumps(record_id))
    return _Quarantined(shown, _storable(reason),
                        json.dumps(record, ensure_ascii=True, sort_keys=True))


def _escaped(record_json: bytes | str) -> str:
    return json.dumps(json.loads(record_json), ensure_ascii=True, sort_keys=True)


def _storable(text: str) -> str:
    """``text`` with lone surrogates and NUL escaped, so any backend stores it."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _records(package: StagingPackage, model: str) -> Iterator[dict[str, Any]]:
    for path in package.pages(model):
        try:
            lines = [line for line in path.read_bytes().splitlines() if line.strip()]
        except OSError as exc:
            raise InputError(f"{path} is unreadable ({exc}); delete the package and sync again"
                             ) from exc
        for line in lines:
            record = _parse(path, line)
            if not isinstance(record, dict):
                raise InputError(f"{path} holds a line that is not a JSON object; delete the "
                                 "package and sync again")
            yield record


def _parse(path: Path, line: bytes) -> Any:
    if _LONG_NUMBER.search(line):
        # orjson reads an integer past 64 bits as a float, losing the value the contract must
        # see (and the quarantine must keep); the standard parser keeps it exact.
        return _parse_exactly(path, line, None)
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        # orjson refuses a lone surrogate escape (valid JSON, invalid Unicode): the standard
        # parser keeps it, and the contract quarantines the record.
        return _parse_exactly(path, line, exc)


def _parse_exactly(path: Path, line: bytes, first: Exception | None) -> Any:
    try:
        return json.loads(line, parse_constant=_no_constant)
    except ValueError as exc:
        raise InputError(f"{path} is unreadable ({first or exc}); delete the package and sync "
                         "again") from exc


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _quarantine_records(conn: sa.Connection, staged: _StagedModel, *, sync_id: str,
                        now: datetime) -> None:
    # Loading a package again (a resumed run) replaces its quarantine rows, never doubles them.
    conn.execute(sa.delete(_quarantine).where(_quarantine.c.sync_id == sync_id,
                                              _quarantine.c.model == staged.model))
    if staged.quarantined:
        conn.execute(sa.insert(_quarantine), [
            {"sync_id": sync_id, "model": staged.model, "record_id": q.record_id,
             "reason": q.reason, "raw": q.raw, "quarantined_at": now}
            for q in staged.quarantined])


@dataclass(frozen=True)
class _Hold:
    share: float
    min_rows: int
    #: The previous run held a drop of this model: the records still missing now are removed.
    confirmed: bool

    def holds(self, missing: int, live: int) -> bool:
        return (not self.confirmed and missing >= self.min_rows
                and missing > self.share * live)


def _held_by_previous_run(conn: sa.Connection, sync_id: str) -> set[str]:
    """The models whose removals the latest finished run before this one held back."""
    counts = conn.execute(
        sa.select(_runs.c.model_counts)
        .where(_runs.c.sync_id != sync_id, _runs.c.finished_at.is_not(None),
               _runs.c.model_counts.is_not(None))
        .order_by(_runs.c.started_at.desc()).limit(1)
    ).scalar_one_or_none()
    if isinstance(counts, str):
        counts = json.loads(counts)
    return {model for model, c in (counts or {}).items() if c.get("held")}


def _merge(conn: sa.Connection, staged: _StagedModel, *, sync_id: str,
           now: datetime, hold: _Hold) -> ModelCounts:
    # On failure the transaction's rollback drops the temporary table too.
    stage = _create_stage_table(conn, staged)
    for batch in staged.batches():
        _bulk_copy(conn, stage, staged.columns, batch)
    _take_back_conflicts(conn, stage, staged)
    if conn.dialect.name == "postgresql":
        # Autovacuum never sees temporary tables: without statistics the planner would pick
        # nested loops for the merge joins.
        conn.exec_driver_sql(f"ANALYZE {_quote(conn, stage.name)}")
    _quarantine_records(conn, staged, sync_id=sync_id, now=now)
    counts = _merge_from_stage(conn, staged, stage.name, sync_id=sync_id, now=now, hold=hold)
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


def _bulk_copy(conn: sa.Connection, stage: sa.Table, columns: list[str],
               rows: list[tuple[Any, ...]]) -> None:
    driver = conn.connection.driver_connection
    assert driver is not None, "the DBAPI connection is open while the connection is"
    if conn.dialect.name == "duckdb":
        # executemany through SQLAlchemy costs about a millisecond per row on DuckDB; an Arrow
        # table is scanned in bulk by the engine itself. Through a relation, not a registered
        # view: DuckDB keeps a registered table alive (unregistered or not) until the
        # transaction ends, which held every batch of the load in memory at once.
        driver.from_arrow(_arrow_table(stage, columns, rows)).insert_into(stage.name)
    else:
        names = ", ".join(_quote(conn, name) for name in columns)
        with driver.cursor() as cursor, cursor.copy(
            f"COPY {_quote(conn, stage.name)} ({names}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)


def _arrow_table(stage: sa.Table, columns: list[str], rows: list[tuple[Any, ...]]) -> pa.Table:
    arrays = [pa.array([row[index] for row in rows], type=pa.string() if name == "raw"
                       else _ARROW_TYPES[type(stage.c[name].type)])
              for index, name in enumerate(columns)]
    return pa.Table.from_arrays(arrays, names=columns)


def _merge_from_stage(conn: sa.Connection, staged: _StagedModel, stage_name: str, *,
                      sync_id: str, now: datetime, hold: _Hold) -> ModelCounts:
    q = conn.dialect.identifier_preparer.quote
    target, stage = q(staged.table.name), q(stage_name)
    pk = q(primary_key_column(staged.table).name)
    params = {"sync_id": sync_id, "now": now, "table_name": staged.table.name}
    sync_id_value = "CAST(:sync_id AS TEXT)"
    now_value = "CAST(:now AS TIMESTAMP WITH TIME ZONE)"
    changed = "(t.removed_at IS NOT NULL OR t.content_hash <> s.content_hash)"
    missing = (f"t.removed_at IS NULL AND NOT EXISTS "
               f"(SELECT 1 FROM {stage} s WHERE s.{pk} = t.{pk})")
    if staged.kept_keys:
        # Checked integers in the BIGINT range, so they are safe as literals.
        missing += f" AND t.{pk} NOT IN ({', '.join(map(str, sorted(staged.kept_keys)))})"

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
    removed = held = 0
    if staged.may_remove:
        removed, live = run(f"SELECT count(*) FILTER (WHERE {missing}), "
                            f"count(*) FILTER (WHERE t.removed_at IS NULL) "
                            f"FROM {target} t").one()
        if hold.holds(removed, live):
            log.warning("%s: %d of %d live records are missing at once; holding the removal "
                        "until the next sync confirms it", staged.model, removed, live)
            removed, held = 0, removed

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
        # Same content, other key order (a row stored with sorted keys, or as jsonb, by an
        # earlier version): keep the order the API sends now.
        run(f"UPDATE {target} AS t SET raw = s.raw FROM {stage} s "
            f"WHERE t.{pk} = s.{pk} AND t.removed_at IS NULL "
            f"AND t.content_hash = s.content_hash "
            f"AND CAST(t.raw AS TEXT) <> CAST(s.raw AS TEXT)")
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
    return ModelCounts(rows=staged.rows, inserted=inserted, updated=updated,
                       unchanged=unchanged, removed=removed, restored=restored,
                       quarantined=len(staged.quarantined), held=held)


def _quote(conn: sa.Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


__all__ = ["LoadReport", "ModelCounts", "as_sent_json", "canonical_json", "content_hash",
           "load_staged"]
